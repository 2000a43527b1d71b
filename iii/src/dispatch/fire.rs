//! What the SDK does with a trigger's fire where the engine 0.23 does not:
//! an `http` fire recognised, a binding's condition evaluated. (The
//! calling worker's id is read out of the payload with the frame:
//! [`iii_protocol::IncomingInvoke`].)

use std::borrow::Cow;

use iii_protocol::{StreamChannelRef, TriggerKind};
use serde_json::Value;

use crate::worker::Worker;

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
