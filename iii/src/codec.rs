//! The SDK's JSON codec: values in and out of Rust types, with the field
//! path of a value that does not decode, and `serde_json::Value` moved
//! rather than rebuilt node by node.

use std::any::Any;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;

/// `value` as `T` when `T` is `serde_json::Value` itself, which would
/// otherwise be rebuilt node by node. The generic part is one downcast:
/// every line here is compiled once per handler type.
pub(crate) fn as_is<T: 'static>(value: &mut Option<Value>) -> Option<T> {
    (value as &mut dyn Any).downcast_mut::<Option<T>>()?.take()
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

/// A value that did not decode: the field path and serde's reason.
pub(crate) struct Undecodable(serde_path_to_error::Error<serde_json::Error>);

impl Undecodable {
    /// The error naming `what` did not decode, the failing field path and
    /// the expected type.
    pub(crate) fn into_error(self, what: String) -> Error {
        let path = self.0.path().to_string();
        let inner = self.0.into_inner();
        let reason = if path == "." || path.is_empty() {
            inner.to_string()
        } else {
            format!("at `{path}`: {inner}")
        };
        Error::Decode { what, reason }
    }
}

/// Decodes `value` into `T`; the error is named by the caller.
pub(crate) fn decode_as<T: DeserializeOwned + 'static>(value: Value) -> Result<T, Undecodable> {
    let mut slot = Some(value);
    if let Some(same) = as_is::<T>(&mut slot) {
        return Ok(same);
    }
    let value = slot.unwrap_or(Value::Null);
    serde_path_to_error::deserialize(value).map_err(Undecodable)
}

/// Decodes `value` into `T`, naming the failing field path and expected type.
pub(crate) fn decode<T: DeserializeOwned + 'static>(
    value: Value,
    what: impl FnOnce() -> String,
) -> Result<T, Error> {
    match decode_as(value) {
        Ok(decoded) => Ok(decoded),
        Err(failure) => Err(failure.into_error(what())),
    }
}
