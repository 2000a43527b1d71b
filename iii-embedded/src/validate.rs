//! The checks iii-embedded makes of bindings of the built-in trigger types,
//! as the engine's own workers make them.

use iii_protocol::{RegisterTrigger, TriggerKind};
use serde_json::Value;

/// Checks a binding of a built-in type the way its engine worker would.
pub(crate) fn validate_builtin_binding(t: &RegisterTrigger) -> Result<(), String> {
    let text = |key: &str| {
        t.config
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    match TriggerKind::from_engine_type(&t.trigger_type) {
        Some(TriggerKind::Cron) => {
            let expression = text("expression").unwrap_or_default();
            crate::cron::parse(expression).map(|_| ())
        }
        Some(TriggerKind::Http) => {
            if text("api_path").is_none() {
                return Err("api_path is required for http triggers".into());
            }
            let method = text("http_method").unwrap_or("GET").to_ascii_uppercase();
            if !iii_protocol::rules::HTTP_METHODS.contains(&method.as_str()) {
                return Err(format!("unsupported http_method {method}"));
            }
            Ok(())
        }
        // The engine panics on a stream binding without a name, leaving the
        // worker's connection half dead; refuse it instead.
        Some(TriggerKind::Stream) => match text("stream_name") {
            Some(_) => Ok(()),
            None => Err("stream_name is required for stream triggers".into()),
        },
        Some(
            TriggerKind::Subscribe
            | TriggerKind::Queue
            | TriggerKind::State
            | TriggerKind::StreamJoin
            | TriggerKind::StreamLeave
            | TriggerKind::Log
            | TriggerKind::FunctionsAvailable
            | TriggerKind::WorkersAvailable
            | TriggerKind::Custom,
        )
        | None => Ok(()),
    }
}
