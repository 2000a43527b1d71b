//! What the SDK does with a trigger's fire where the engine 0.23 does not:
//! the calling worker's id taken out of the payload, an `http` fire
//! recognised, a binding's condition evaluated.

use std::borrow::Cow;

use iii_protocol::{CALLER_WORKER_ID, StreamChannelRef, TriggerKind};
use serde_json::Value;

use crate::worker::Worker;

/// Removes `_caller_worker_id` from an object payload and returns it: for
/// an invocation read as a [`iii_protocol::Message`]; the session's reader
/// reads it aside ([`iii_protocol::IncomingInvoke`]).
pub(super) fn take_caller(data: &mut Value) -> Option<String> {
    match data.as_object_mut()?.remove(CALLER_WORKER_ID)? {
        Value::String(id) => Some(id),
        other => Some(other.to_string()),
    }
}

/// Whether `data` is what an `http` trigger delivers.
pub(super) fn is_http_fire(data: &Value) -> bool {
    let http = TriggerKind::Http.engine_type();
    data.get("trigger")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| Some(t) == http)
}

/// A binding's condition, evaluated by the SDK where the engine ignores
/// it, as the engine evaluates its own: an exact `false` skips the fire,
/// and so does a condition that fails.
pub(super) async fn condition_allows(worker: &Worker, condition: &str, data: &Value) -> bool {
    let payload = without_channels(data);
    match worker
        .invoke(condition)
        .payload(&payload)
        .call::<Value>()
        .await
    {
        Ok(Value::Bool(false)) => false,
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(
                condition,
                "a trigger condition failed; skipping the fire: {error}"
            );
            false
        }
    }
}

/// A fire's payload as the engine hands it to a condition: without an
/// `http` request's channels, which only the handler may read.
fn without_channels(data: &Value) -> Cow<'_, Value> {
    let carries = |key| data.get(key).is_some_and(StreamChannelRef::is_ref);
    if !carries("request_body") && !carries("response") {
        return Cow::Borrowed(data);
    }
    let mut data = data.clone();
    if let Value::Object(map) = &mut data {
        map.remove("request_body");
        map.remove("response");
    }
    Cow::Owned(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn caller_id_is_taken_from_objects_only() {
        let mut data = json!({"name":"Ada","_caller_worker_id":"w-9"});
        assert_eq!(take_caller(&mut data).as_deref(), Some("w-9"));
        assert_eq!(data, json!({"name":"Ada"}));
        let mut scalar = json!("x");
        assert_eq!(take_caller(&mut scalar), None);
        assert_eq!(scalar, json!("x"));
    }
}
