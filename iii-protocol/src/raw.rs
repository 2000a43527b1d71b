//! JSON kept as its text: the schemas in registrations, which peers pass
//! on and show but never look into.

use std::fmt;

use serde::de::{self, Deserializer};
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
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct RawJson(Box<RawValue>);

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
        Ok(RawJson(raw))
    }
}

impl RawJson {
    /// Encodes `value`.
    pub fn from_value(value: &Value) -> RawJson {
        // A `Value` always encodes: its keys are strings.
        RawJson(
            serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned()),
        )
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Decodes the text into a tree.
    pub fn to_value(&self) -> Value {
        // The text was checked as JSON when this was made.
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

/// Text that serde_json wrote (`serde_json::value::to_raw_value`), kept
/// as it is: the way to send a value of one's own type without building
/// a tree of it.
impl From<Box<RawValue>> for RawJson {
    fn from(raw: Box<RawValue>) -> RawJson {
        RawJson(raw)
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
