//! The SDK's JSON codec: values in and out of Rust types, with the field
//! path of a value that does not decode, and `serde_json::Value` moved
//! rather than rebuilt node by node.

use std::any::Any;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;

/// Moves `value` out as `T` when `T` is `serde_json::Value` itself, which
/// would otherwise be rebuilt node by node; hands it back otherwise.
fn as_is<T: 'static>(value: Value) -> Result<T, Value> {
    let mut slot = Some(value);
    if let Some(same) = (&mut slot as &mut dyn Any).downcast_mut::<Option<T>>()
        && let Some(same) = same.take()
    {
        return Ok(same);
    }
    Err(slot.unwrap_or(Value::Null))
}

/// Encodes `output` as JSON; a `serde_json::Value` is moved, not rebuilt.
pub(crate) fn encode<T: Serialize + 'static>(output: T) -> Result<Value, serde_json::Error> {
    let mut slot = Some(output);
    if let Some(value) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Value>>()
        && let Some(value) = value.take()
    {
        return Ok(value);
    }
    serde_json::to_value(&slot)
}

/// Decodes `value` into `T`, naming the failing field path and expected type.
pub(crate) fn decode<T: DeserializeOwned + 'static>(
    value: Value,
    what: impl FnOnce() -> String,
) -> Result<T, Error> {
    let value = match as_is::<T>(value) {
        Ok(same) => return Ok(same),
        Err(value) => value,
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let reason = if path == "." || path.is_empty() {
            inner.to_string()
        } else {
            format!("at `{path}`: {inner}")
        };
        Error::Decode {
            what: what(),
            reason,
        }
    })
}
