//! Bindings described by kind and keys, as `#[iii::trigger]` writes them,
//! mapped onto the typed configs.

use iii_protocol::TriggerKind;
use serde_json::Value;

use super::{
    Cron, Custom, FunctionsAvailable, Http, Log, LogLevel, Queue, QueueConfig, StateChange,
    StreamChange, StreamJoin, StreamLeave, Subscribe, Trigger, WorkersAvailable,
};
use crate::__private::Arg;

/// The keys of one binding.
struct Keys<'a>(&'a [(&'static str, Arg)]);

impl Keys<'_> {
    fn get(&self, name: &str) -> Option<Arg> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    fn str(&self, name: &str) -> Result<Option<&'static str>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Arg::Str(s)) => Ok(Some(s)),
            Some(other) => Err(format!("`{name}` takes a string, found {other:?}")),
        }
    }

    fn u32(&self, name: &str) -> Result<Option<u32>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Arg::Int(n)) => u32::try_from(n)
                .map(Some)
                .map_err(|_| format!("`{name}` is {n}, more than {}", u32::MAX)),
            Some(other) => Err(format!("`{name}` takes an integer, found {other:?}")),
        }
    }

    fn u64(&self, name: &str) -> Result<Option<u64>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Arg::Int(n)) => Ok(Some(n)),
            Some(other) => Err(format!("`{name}` takes an integer, found {other:?}")),
        }
    }

    fn function(&self, name: &str) -> Result<Option<&'static str>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Arg::Function(id)) => Ok(Some(id)),
            Some(other) => Err(format!("`{name}` takes a function, found {other:?}")),
        }
    }

    fn functions(&self, name: &str) -> Result<&'static [&'static str], String> {
        match self.get(name) {
            None => Ok(&[]),
            Some(Arg::Functions(ids)) => Ok(ids),
            Some(other) => Err(format!("`{name}` takes functions, found {other:?}")),
        }
    }

    fn json(&self, name: &str) -> Result<Option<Value>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Arg::Json(text)) => serde_json::from_str(text)
                .map(Some)
                .map_err(|e| format!("`{name}` is not JSON: {e}")),
            Some(other) => Err(format!("`{name}` takes a JSON object, found {other:?}")),
        }
    }
}

/// The binding of `function_id` that `kind` and `args` describe. Keys
/// outside the kind's table, or of the wrong type, give a binding that
/// fails to register with the reason.
pub(crate) fn from_keys(
    function_id: &str,
    kind: TriggerKind,
    custom_type: Option<&str>,
    args: &[(&'static str, Arg)],
) -> Trigger {
    let trigger_type = kind
        .engine_type()
        .or(custom_type)
        .unwrap_or_default()
        .to_string();
    match build(function_id, kind, custom_type, &Keys(args)) {
        Ok(trigger) => trigger,
        Err(reason) => Trigger::refused(function_id, trigger_type, reason),
    }
}

fn build(
    function_id: &str,
    kind: TriggerKind,
    custom_type: Option<&str>,
    keys: &Keys<'_>,
) -> Result<Trigger, String> {
    if let Some((unknown, _)) = keys.0.iter().find(|(k, _)| kind.key(k).is_none()) {
        return Err(match kind.ignores(unknown) {
            Some(reason) => format!("`{unknown}` cannot be used on `{kind}` triggers: {reason}"),
            None => format!("`{unknown}` does not apply to `{kind}` triggers"),
        });
    }
    let f = function_id;
    let condition = keys.function("condition")?;
    let trigger = match kind {
        TriggerKind::Http => {
            let mut http = Http::new(
                keys.str("method")?.unwrap_or("GET"),
                keys.str("path")?.unwrap_or_default(),
            );
            if let Some(id) = condition {
                http = http.condition(id);
            }
            let middleware = keys.functions("middleware")?;
            if !middleware.is_empty() {
                http = http.middleware(middleware.iter().copied());
            }
            Trigger::new(f, http)
        }
        TriggerKind::Cron => {
            let mut cron = Cron::new(keys.str("expression")?.unwrap_or_default());
            if let Some(id) = condition {
                cron = cron.condition(id);
            }
            Trigger::new(f, cron)
        }
        TriggerKind::Subscribe => {
            let mut subscribe = Subscribe::new(keys.str("topic")?.unwrap_or_default());
            if let Some(id) = condition {
                subscribe = subscribe.condition(id);
            }
            Trigger::new(f, subscribe)
        }
        TriggerKind::Queue => {
            let config = QueueConfig {
                queue_mode: keys.str("queue_mode")?.map(String::from),
                max_retries: keys.u32("max_retries")?,
                concurrency: keys.u32("concurrency")?,
                visibility_timeout: keys.u64("visibility_timeout")?,
                delay_seconds: keys.u64("delay_seconds")?,
                backoff_type: keys.str("backoff_type")?.map(String::from),
                backoff_delay_ms: keys.u64("backoff_delay_ms")?,
                max_priority: keys.u32("max_priority")?,
            };
            let mut queue = Queue::new(keys.str("topic")?.unwrap_or_default());
            if config != QueueConfig::default() {
                queue = queue.config(config);
            }
            if let Some(id) = condition {
                queue = queue.condition(id);
            }
            Trigger::new(f, queue)
        }
        TriggerKind::State => {
            let mut state = StateChange::any();
            if let Some(scope) = keys.str("scope")? {
                state = state.scope(scope);
            }
            if let Some(key) = keys.str("key")? {
                state = state.key(key);
            }
            if let Some(id) = condition {
                state = state.condition(id);
            }
            Trigger::new(f, state)
        }
        TriggerKind::Stream => {
            let mut stream = StreamChange::new(keys.str("stream_name")?.unwrap_or_default());
            if let Some(group) = keys.str("group_id")? {
                stream = stream.group(group);
            }
            if let Some(item) = keys.str("item_id")? {
                stream = stream.item(item);
            }
            if let Some(id) = condition {
                stream = stream.condition(id);
            }
            Trigger::new(f, stream)
        }
        TriggerKind::StreamJoin => Trigger::new(f, StreamJoin),
        TriggerKind::StreamLeave => Trigger::new(f, StreamLeave),
        TriggerKind::Log => match keys.str("level")? {
            None => Trigger::new(f, Log::all()),
            Some(name) => {
                let level = LogLevel::from_name(name).ok_or_else(|| {
                    format!(
                        "level `{name}` is not one of {}",
                        iii_protocol::rules::LOG_LEVELS.join(", ")
                    )
                })?;
                Trigger::new(f, Log::level(level))
            }
        },
        TriggerKind::FunctionsAvailable => Trigger::new(f, FunctionsAvailable),
        TriggerKind::WorkersAvailable => Trigger::new(f, WorkersAvailable),
        TriggerKind::Custom => {
            let mut config = keys.json("config")?.unwrap_or(Value::Null);
            if let Some(id) = condition {
                // A provider reads the condition from the config, as the
                // engine's own types do.
                if config.is_null() {
                    config = Value::Object(serde_json::Map::new());
                }
                if let Value::Object(map) = &mut config {
                    map.insert("condition_function_id".into(), Value::String(id.into()));
                }
            }
            Trigger::new(f, Custom::new(custom_type.unwrap_or_default(), config))
        }
    };
    Ok(match keys.json("metadata")? {
        Some(metadata) => trigger.metadata(metadata),
        None => trigger,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_map_onto_the_typed_builders() {
        let t = from_keys(
            "jobs::run",
            TriggerKind::Queue,
            None,
            &[("topic", Arg::Str("jobs")), ("max_retries", Arg::Int(3))],
        );
        let by_hand = Trigger::new(
            "jobs::run",
            Queue::new("jobs").config(QueueConfig {
                max_retries: Some(3),
                ..QueueConfig::default()
            }),
        );
        assert_eq!(t, by_hand);
        let state = from_keys(
            "s",
            TriggerKind::State,
            None,
            &[
                ("scope", Arg::Str("users")),
                ("metadata", Arg::Json(r#"{"m":1}"#)),
            ],
        );
        assert_eq!(
            state,
            Trigger::new("s", StateChange::any().scope("users")).metadata(json!({"m": 1}))
        );
        let queued = from_keys(
            "q",
            TriggerKind::Queue,
            None,
            &[("topic", Arg::Str("j")), ("metadata", Arg::Json("{}"))],
        );
        let kind = queued.kind();
        let message = queued.into_message(String::new(), None).expect("valid");
        assert!(
            crate::trigger::engine_drops(kind, message.metadata.is_some(), Some(&message.config))
                .is_some_and(|why| why.contains("durable:subscriber")),
            "what the engine drops is known, for bindings the SDK cannot complete"
        );
        let log = from_keys("l", TriggerKind::Log, None, &[("level", Arg::Str("warn"))]);
        assert_eq!(log, Trigger::new("l", Log::level(LogLevel::Warn)));
    }

    #[test]
    fn keys_outside_the_table_are_refused_with_the_reason() {
        let t = from_keys("f", TriggerKind::Cron, None, &[("topic", Arg::Str("x"))]);
        let e = t.validate().expect_err("refused");
        assert!(
            e.to_string().contains("`topic` does not apply to `cron`"),
            "{e}"
        );
        let t = from_keys(
            "f",
            TriggerKind::Queue,
            None,
            &[("topic", Arg::Str("x")), ("max_retries", Arg::Int(1 << 40))],
        );
        assert!(t.validate().is_err());
    }

    #[test]
    fn every_log_level_name_is_the_engines() {
        let names: Vec<&str> = LogLevel::ALL.iter().map(|l| l.name()).collect();
        assert_eq!(names, iii_protocol::rules::LOG_LEVELS);
    }
}
