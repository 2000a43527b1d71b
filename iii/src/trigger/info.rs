//! Which binding fired a handler: [`crate::Context::trigger`].

use iii_protocol::TriggerKind;
use serde_json::Value;

/// The trigger binding behind one invocation: which kind, its position
/// among the function's triggers, and its config, with accessors for each
/// kind's fields (the official SDKs' `TriggerMetadata`).
///
/// Known for every binding a worker makes to one of its own functions
/// (every `#[iii::trigger]`): such a binding targets an alias of the
/// function, `<id>:trigger:<index>`, so each fire says which binding it is
/// for. Direct calls, and fires of bindings made by other workers, have
/// none.
///
/// ```no_run
/// # async fn handler(input: serde_json::Value, ctx: iii::Context) -> Result<(), iii::Error> {
/// use iii::trigger::TriggerKind;
/// match ctx.trigger() {
///     Some(t) if t.kind == TriggerKind::Http => println!("{} {}", t.method().unwrap_or_default(), t.path().unwrap_or_default()),
///     Some(t) if t.kind == TriggerKind::Cron => println!("cron {}", t.expression().unwrap_or_default()),
///     Some(t) => println!("trigger {} ({})", t.index, t.trigger_type),
///     None => println!("called directly"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TriggerInfo {
    /// The binding id.
    pub id: String,
    /// Its position among the triggers this worker bound to the function,
    /// from 0, in registration order (attribute order for the macros).
    pub index: usize,
    /// The kind (`Custom` for a worker-provided type).
    pub kind: TriggerKind,
    /// The engine's trigger type id.
    pub trigger_type: String,
    /// The binding's config, as sent to the engine.
    pub config: Value,
}

impl TriggerInfo {
    fn text(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(Value::as_str)
    }

    fn text_of(&self, kinds: &[TriggerKind], key: &str) -> Option<&str> {
        kinds.contains(&self.kind).then(|| self.text(key)).flatten()
    }

    /// An `http` binding's route pattern.
    pub fn path(&self) -> Option<&str> {
        self.text_of(&[TriggerKind::Http], "api_path")
    }

    /// An `http` binding's method.
    pub fn method(&self) -> Option<&str> {
        self.text_of(&[TriggerKind::Http], "http_method")
    }

    /// A `subscribe` or `queue` binding's topic.
    pub fn topic(&self) -> Option<&str> {
        self.text_of(&[TriggerKind::Subscribe, TriggerKind::Queue], "topic")
    }

    /// A `cron` binding's expression.
    pub fn expression(&self) -> Option<&str> {
        self.text_of(&[TriggerKind::Cron], "expression")
    }

    /// A `state` binding's scope filter.
    pub fn scope(&self) -> Option<&str> {
        self.text_of(&[TriggerKind::State], "scope")
    }

    /// A `state` binding's key filter.
    pub fn key(&self) -> Option<&str> {
        self.text_of(&[TriggerKind::State], "key")
    }

    /// A `stream` binding's stream.
    pub fn stream_name(&self) -> Option<&str> {
        self.text_of(&[TriggerKind::Stream], "stream_name")
    }
}

/// The alias that binding `index` of `function_id` targets.
pub(crate) fn alias(function_id: &str, index: usize) -> String {
    format!("{function_id}{ALIAS_MARK}{index}")
}

/// The function an alias stands for, if `id` is one.
///
/// ```ignore
/// assert_eq!(bound_function("orders::place:trigger:2"), Some("orders::place"));
/// ```
pub(crate) fn bound_function(id: &str) -> Option<&str> {
    let (function_id, index) = id.rsplit_once(ALIAS_MARK)?;
    (!index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())).then_some(function_id)
}

/// What separates a function id from a binding's index in an alias.
const ALIAS_MARK: &str = ":trigger:";

#[cfg(test)]
mod alias_tests {
    use super::*;

    #[test]
    fn an_alias_names_its_function() {
        let id = alias("orders::place", 2);
        assert_eq!(id, "orders::place:trigger:2");
        assert_eq!(bound_function(&id), Some("orders::place"));
        assert_eq!(bound_function("orders::place"), None);
        assert_eq!(bound_function("a:trigger:x"), None);
        assert_eq!(bound_function("a:trigger:"), None);
    }
}
