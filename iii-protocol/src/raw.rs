//! JSON kept as its text: the schemas in registrations, which peers pass
//! on and show but never look into, and the payloads and results a worker
//! writes from its own types.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::depth::MAX_FRAME_DEPTH;
use serde_json::Value;
use serde_json::value::RawValue;

/// The name serde_json (feature `raw_value`) reads and writes a raw value
/// under: a `RawValue` is deserialized as a one-entry map with this key
/// and the text as its string value, and a `Value` map whose first key is
/// this one stands for that text. Not part of serde_json's public API:
/// each use in this workspace has a test that fails if serde_json
/// renames it.
#[doc(hidden)]
pub const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// A JSON value kept as the text it arrived as (or was encoded to once).
///
/// Decoding a frame that holds one checks the JSON and copies its text,
/// without building a tree of it; encoding writes the text as it is. The
/// formats of a `registerfunction` are held this way: the engine stores and
/// shows them, and the SDK encodes each once.
///
/// Two are equal when their texts are.
///
/// ```
/// use iii_protocol::RawJson;
///
/// let format = RawJson::from_value(&serde_json::json!({"type": "object"}));
/// assert_eq!(format.get(), r#"{"type":"object"}"#);
/// assert_eq!(format.to_value()["type"], "object");
/// ```
#[derive(Clone)]
pub struct RawJson(Cow<'static, str>);

/// Written as serde_json writes a `RawValue`: the text as it is, into a
/// frame (or parsed, into a `Value`).
impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut raw = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        raw.serialize_field(RAW_VALUE_TOKEN, self.get())?;
        raw.end()
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        // serde_json keeps the text without counting its depth, where a
        // tree would stop at its recursion limit (as the engine does): a
        // field of a frame's object may nest one level less than a frame.
        if let Some(depth) = crate::depth::deeper_than(raw.get(), MAX_FRAME_DEPTH - 1) {
            return Err(de::Error::custom(format!(
                "recursion limit exceeded: a value nested {depth} deep in a frame (at most {} is decoded)",
                MAX_FRAME_DEPTH - 1
            )));
        }
        Ok(RawJson::from(raw))
    }
}

impl RawJson {
    /// `null`.
    pub const NULL: RawJson = RawJson(Cow::Borrowed("null"));

    /// Encodes `value`, in a buffer of the text's size: the formats of a
    /// registration are kept for the worker's life.
    pub fn from_value(value: &Value) -> RawJson {
        // A `Value` always encodes: its keys are strings.
        match serde_json::to_string(value) {
            Ok(text) => RawJson(Cow::Owned(text.into_boxed_str().into())),
            Err(_) => RawJson::NULL,
        }
    }

    /// Encodes `value` (any serialisable value, without building a tree
    /// of it), keeping the text serde_json wrote: no copy, and no
    /// shrinking of its buffer either, where `to_raw_value` gives the
    /// allocator back what the text did not use, some 280 instructions
    /// for a small value. For text written once and soon sent (a call's
    /// payload, a handler's output); [`RawJson::from_value`] sizes its
    /// buffer to the text.
    ///
    /// ```
    /// let raw = iii_protocol::RawJson::from_serialize(&[1, 2])?;
    /// assert_eq!(raw.get(), "[1,2]");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<RawJson, serde_json::Error> {
        serde_json::to_string(value).map(|text| RawJson(Cow::Owned(text)))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// Decodes the text into a tree.
    pub fn to_value(&self) -> Value {
        // The text was written by serde_json, or checked when it was read.
        serde_json::from_str(self.get()).unwrap_or(Value::Null)
    }
}

/// A `RawValue`'s text, kept as it is (moved, not copied). To write a
/// value of one's own type, [`RawJson::from_serialize`] keeps serde_json's
/// buffer without the shrinking `to_raw_value` does.
impl From<Box<RawValue>> for RawJson {
    fn from(raw: Box<RawValue>) -> RawJson {
        RawJson(Cow::Owned(Box::<str>::from(raw).into()))
    }
}

impl From<Value> for RawJson {
    fn from(value: Value) -> RawJson {
        RawJson::from_value(&value)
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &RawJson) -> bool {
        self.get() == other.get()
    }
}

impl Eq for RawJson {}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A format is kept for the worker's life, in a buffer of its size; a
    /// payload is sent soon, in the buffer serde_json wrote it into.
    #[test]
    fn a_kept_text_is_sized_to_itself_and_a_sent_one_is_not_copied() {
        let value = serde_json::json!({"type": "object", "properties": {"n": {"type": "integer"}}});
        let spare = |raw: &RawJson| match &raw.0 {
            Cow::Owned(text) => text.capacity() - text.len(),
            Cow::Borrowed(_) => 0,
        };
        let kept = RawJson::from_value(&value);
        assert_eq!(spare(&kept), 0);
        let sent = RawJson::from_serialize(&value).expect("encodes");
        assert_eq!(sent, kept);
        // serde_json starts its buffer at 128 bytes; this text is shorter.
        assert!(kept.get().len() < 128);
        assert!(spare(&sent) > 0, "the buffer was shrunk (a realloc)");
    }
}
