//! The trigger kinds the SDK knows, in one table.
//!
//! The runtime's typed trigger builders, the `#[iii::trigger]` key checks,
//! the macro documentation (checked by a test) and `iii-embedded` all read
//! this table. Every consumer matches on [`TriggerKind`] exhaustively, so a
//! new kind does not compile until each of them handles it.
//!
//! ```
//! use iii_protocol::kinds::{KeyType, TriggerKind};
//!
//! let http = TriggerKind::from_name("http").unwrap();
//! assert_eq!(http.engine_type(), Some("http"));
//! assert_eq!(http.key("path").map(|k| k.required), Some(true));
//! assert_eq!(TriggerKind::Queue.engine_type(), Some("durable:subscriber"));
//! assert_eq!(TriggerKind::Queue.key("max_retries").map(|k| k.ty), Some(KeyType::Int));
//! ```

/// What a trigger key takes in `#[iii::trigger(..)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// A string literal.
    Str,
    /// A non-negative integer literal.
    Int,
    /// A JSON object, inline (`{..}`) or as a string.
    Json,
    /// A path to a function (`condition = is_vip`).
    Function,
    /// A list of function paths (`middleware = [auth, audit]`).
    FunctionList,
}

impl KeyType {
    /// How error messages name it: "a string", "an integer", ...
    pub const fn describe(self) -> &'static str {
        match self {
            KeyType::Str => "a string",
            KeyType::Int => "an integer",
            KeyType::Json => "a JSON object",
            KeyType::Function => "a function path",
            KeyType::FunctionList => "a list of function paths",
        }
    }
}

/// One key a trigger kind takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// Its name in `#[iii::trigger(kind, name = ..)]`.
    pub name: &'static str,
    /// What it takes.
    pub ty: KeyType,
    /// Whether a binding of the kind needs it.
    pub required: bool,
}

const fn key(name: &'static str, ty: KeyType) -> Key {
    Key {
        name,
        ty,
        required: false,
    }
}

const fn required(name: &'static str, ty: KeyType) -> Key {
    Key {
        name,
        ty,
        required: true,
    }
}

const METADATA: Key = key("metadata", KeyType::Json);
const CONDITION: Key = key("condition", KeyType::Function);

const HTTP: &[Key] = &[
    required("path", KeyType::Str),
    key("method", KeyType::Str),
    CONDITION,
    key("middleware", KeyType::FunctionList),
    METADATA,
];
const CRON: &[Key] = &[required("expression", KeyType::Str), CONDITION, METADATA];
const SUBSCRIBE: &[Key] = &[required("topic", KeyType::Str), CONDITION, METADATA];
const QUEUE: &[Key] = &[
    required("topic", KeyType::Str),
    key("max_retries", KeyType::Int),
    key("concurrency", KeyType::Int),
    key("visibility_timeout", KeyType::Int),
    key("delay_seconds", KeyType::Int),
    key("backoff_type", KeyType::Str),
    key("backoff_delay_ms", KeyType::Int),
    key("max_priority", KeyType::Int),
    key("queue_mode", KeyType::Str),
    CONDITION,
    METADATA,
];
const STATE: &[Key] = &[
    key("scope", KeyType::Str),
    key("key", KeyType::Str),
    CONDITION,
    METADATA,
];
const STREAM: &[Key] = &[
    required("stream_name", KeyType::Str),
    key("group_id", KeyType::Str),
    key("item_id", KeyType::Str),
    CONDITION,
    METADATA,
];
const LOG: &[Key] = &[key("level", KeyType::Str), METADATA];
const ONLY_METADATA: &[Key] = &[METADATA];
const CUSTOM: &[Key] = &[key("config", KeyType::Json), CONDITION, METADATA];

/// A kind of trigger binding: one of the engine's built-in trigger types,
/// or a type some worker provides (`Custom`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerKind {
    /// `http`: an HTTP route on the engine's REST listener.
    Http,
    /// `cron`: a schedule.
    Cron,
    /// `subscribe`: messages `publish`ed to a topic.
    Subscribe,
    /// `durable:subscriber`: durable delivery of `iii::durable::publish`.
    Queue,
    /// `state`: state entries created, updated or deleted.
    State,
    /// `stream`: stream items created, updated or deleted.
    Stream,
    /// `stream:join`: a client subscribed to a stream (every stream: the
    /// engine ignores the binding's config).
    StreamJoin,
    /// `stream:leave`: a client's subscription to a stream ended.
    StreamLeave,
    /// `log`: log records of one level (matched exactly), or all of them.
    Log,
    /// `engine::functions-available`: the set of functions changed.
    FunctionsAvailable,
    /// `engine::workers-available`: a worker connected, updated or left.
    WorkersAvailable,
    /// A trigger type provided by a worker.
    Custom,
}

impl TriggerKind {
    /// Every kind, in documentation order.
    pub const ALL: [TriggerKind; 12] = [
        TriggerKind::Http,
        TriggerKind::Cron,
        TriggerKind::Subscribe,
        TriggerKind::Queue,
        TriggerKind::State,
        TriggerKind::Stream,
        TriggerKind::StreamJoin,
        TriggerKind::StreamLeave,
        TriggerKind::Log,
        TriggerKind::FunctionsAvailable,
        TriggerKind::WorkersAvailable,
        TriggerKind::Custom,
    ];

    /// Its name in `#[iii::trigger(NAME, ..)]`.
    pub const fn name(self) -> &'static str {
        match self {
            TriggerKind::Http => "http",
            TriggerKind::Cron => "cron",
            TriggerKind::Subscribe => "subscribe",
            TriggerKind::Queue => "queue",
            TriggerKind::State => "state",
            TriggerKind::Stream => "stream",
            TriggerKind::StreamJoin => "stream_join",
            TriggerKind::StreamLeave => "stream_leave",
            TriggerKind::Log => "log",
            TriggerKind::FunctionsAvailable => "functions_available",
            TriggerKind::WorkersAvailable => "workers_available",
            TriggerKind::Custom => "custom",
        }
    }

    /// The engine's trigger type id; `None` for `Custom`, whose binding
    /// names its own.
    pub const fn engine_type(self) -> Option<&'static str> {
        match self {
            TriggerKind::Http => Some("http"),
            TriggerKind::Cron => Some("cron"),
            TriggerKind::Subscribe => Some("subscribe"),
            TriggerKind::Queue => Some("durable:subscriber"),
            TriggerKind::State => Some("state"),
            TriggerKind::Stream => Some("stream"),
            TriggerKind::StreamJoin => Some("stream:join"),
            TriggerKind::StreamLeave => Some("stream:leave"),
            TriggerKind::Log => Some("log"),
            TriggerKind::FunctionsAvailable => Some("engine::functions-available"),
            TriggerKind::WorkersAvailable => Some("engine::workers-available"),
            TriggerKind::Custom => None,
        }
    }

    /// What fires a binding of this kind, in a few words.
    pub const fn summary(self) -> &'static str {
        match self {
            TriggerKind::Http => "HTTP routes on the REST listener",
            TriggerKind::Cron => "Schedules (UTC; 6 or 7 fields, seconds first)",
            TriggerKind::Subscribe => "Messages published to a topic",
            TriggerKind::Queue => "Durable delivery of iii::durable::publish messages",
            TriggerKind::State => "State entries created, updated or deleted",
            TriggerKind::Stream => "Stream items created, updated or deleted",
            TriggerKind::StreamJoin => "Clients subscribing to a stream",
            TriggerKind::StreamLeave => "Clients leaving a stream",
            TriggerKind::Log => "Log records of one level, or all",
            TriggerKind::FunctionsAvailable => "Changes of the set of functions",
            TriggerKind::WorkersAvailable => "Workers connecting, updating and leaving",
            TriggerKind::Custom => "A trigger type provided by a worker",
        }
    }

    /// The keys a binding of this kind takes.
    pub const fn keys(self) -> &'static [Key] {
        match self {
            TriggerKind::Http => HTTP,
            TriggerKind::Cron => CRON,
            TriggerKind::Subscribe => SUBSCRIBE,
            TriggerKind::Queue => QUEUE,
            TriggerKind::State => STATE,
            TriggerKind::Stream => STREAM,
            TriggerKind::Log => LOG,
            TriggerKind::StreamJoin
            | TriggerKind::StreamLeave
            | TriggerKind::FunctionsAvailable
            | TriggerKind::WorkersAvailable => ONLY_METADATA,
            TriggerKind::Custom => CUSTOM,
        }
    }

    /// Keys the engine 0.23 ignores on this kind, each with the reason. The
    /// SDK makes up for them on bindings to a worker's own functions (it
    /// evaluates the condition and passes the metadata itself) and refuses
    /// them on others, rather than let a filter or metadata silently vanish
    /// in production.
    pub const fn ignored(self) -> &'static [(&'static str, &'static str)] {
        match self {
            TriggerKind::Subscribe => &[
                (
                    "condition",
                    "the iii engine 0.23 never evaluates a condition on `subscribe` triggers, so every message would reach the handler",
                ),
                (
                    "metadata",
                    "the iii engine 0.23 passes no binding metadata with `subscribe` fires",
                ),
            ],
            TriggerKind::Queue => &[(
                "metadata",
                "the iii engine 0.23 passes no binding metadata with `durable:subscriber` fires",
            )],
            TriggerKind::Http
            | TriggerKind::Cron
            | TriggerKind::State
            | TriggerKind::Stream
            | TriggerKind::StreamJoin
            | TriggerKind::StreamLeave
            | TriggerKind::Log
            | TriggerKind::FunctionsAvailable
            | TriggerKind::WorkersAvailable
            | TriggerKind::Custom => &[],
        }
    }

    /// Why the engine ignores the key `name` on this kind, if it does.
    pub fn ignores(self, name: &str) -> Option<&'static str> {
        self.ignored()
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, reason)| *reason)
    }

    /// The key called `name`, if this kind takes it.
    pub fn key(self, name: &str) -> Option<&'static Key> {
        self.keys().iter().find(|k| k.name == name)
    }

    /// The kind called `name` in `#[iii::trigger(NAME, ..)]`.
    pub fn from_name(name: &str) -> Option<TriggerKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The built-in kind whose engine trigger type is `trigger_type`
    /// (`None` for any other type, which is a custom one).
    pub fn from_engine_type(trigger_type: &str) -> Option<TriggerKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.engine_type() == Some(trigger_type))
    }

    /// Every kind that takes the key `name`.
    pub fn owners_of(name: &str) -> impl Iterator<Item = TriggerKind> + '_ {
        Self::ALL.into_iter().filter(move |k| k.key(name).is_some())
    }
}

impl std::fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_engine_types_are_unique_and_round_trip() {
        for kind in TriggerKind::ALL {
            assert_eq!(TriggerKind::from_name(kind.name()), Some(kind));
            if let Some(ty) = kind.engine_type() {
                assert_eq!(TriggerKind::from_engine_type(ty), Some(kind));
            }
            let mut names: Vec<_> = kind.keys().iter().map(|k| k.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), kind.keys().len(), "{kind}: a key twice");
            assert!(
                kind.key("metadata").is_some(),
                "{kind}: every kind takes metadata"
            );
            for (key, _) in kind.ignored() {
                assert!(
                    kind.key(key).is_some(),
                    "{kind}: `{key}` ignored but not taken"
                );
            }
        }
        assert_eq!(TriggerKind::from_engine_type("my-type"), None);
    }

    #[test]
    fn keys_say_who_owns_them() {
        let owners: Vec<_> = TriggerKind::owners_of("topic").collect();
        assert_eq!(owners, [TriggerKind::Subscribe, TriggerKind::Queue]);
    }
}
