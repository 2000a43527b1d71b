//! Frames as a worker reads them: the value of a call's result is read in
//! the shape its caller asks for, a tree or the JSON text it came in.
//!
//! [`crate::decode`] builds a result's value as a `serde_json::Value` tree
//! on the thread that reads the socket. A caller that wants its own type
//! would then decode it from that tree, building it twice, and free the
//! tree, often on another thread. With [`decode_incoming`] the reader asks,
//! once it has read the call's id, which [`Shape`] the caller wants: for
//! [`Shape::Text`] it only checks the value and copies its text, and the
//! caller decodes its type straight from the text, in its own task (so a
//! large result never holds up the reader either).
//!
//! An invocation's payload is read without the calling worker's id, which
//! the engine adds to an object payload and the handler must not see: the
//! id is kept aside as the payload is read ([`IncomingInvoke`]), where
//! inserting it into the payload's map and removing it again cost some 600
//! instructions a call.

/// A frame's field names as an enum read from the key without allocating;
/// any other name is `Other`, skipped as serde's derive skips an unknown
/// field.
macro_rules! fields {
    ($(#[$doc:meta])* enum $name:ident { $($text:literal => $variant:ident),* $(,)? }) => {
        $(#[$doc])*
        enum $name {
            $($variant,)*
            Other,
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                struct Name;
                impl serde::de::Visitor<'_> for Name {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok(match v {
                            $($text => $name::$variant,)*
                            _ => $name::Other,
                        })
                    }
                }
                d.deserialize_identifier(Name)
            }
        }
    };
}

mod invoke;
mod result;
#[cfg(test)]
mod tests;

use serde::de;
use serde_json::Value;
use uuid::Uuid;

use crate::{Message, RawJson};

pub use invoke::IncomingInvoke;
pub(crate) use invoke::InvokeVisitor;
pub use result::IncomingResult;
pub(crate) use result::ResultVisitor;

/// How a result's value is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// As a `serde_json::Value`: for a caller that wants the tree itself.
    Tree,
    /// As its JSON text, checked but not built: for a caller that decodes
    /// its own type from it.
    Text,
}

/// The value of a result, in the [`Shape`] asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultValue {
    /// See [`Shape::Tree`].
    Tree(Value),
    /// See [`Shape::Text`].
    Text(RawJson),
}

impl ResultValue {
    /// The value as a tree, whatever its shape.
    pub fn into_value(self) -> Value {
        match self {
            ResultValue::Tree(value) => value,
            ResultValue::Text(text) => text.to_value(),
        }
    }

    /// Whether the value is `null`, which a result frame leaves out.
    pub fn is_null(&self) -> bool {
        match self {
            ResultValue::Tree(value) => value.is_null(),
            ResultValue::Text(text) => text.get() == "null",
        }
    }
}

/// Encodes as the value it holds: a tree as JSON, text as it is.
impl serde::Serialize for ResultValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ResultValue::Tree(value) => value.serialize(serializer),
            ResultValue::Text(text) => text.serialize(serializer),
        }
    }
}

/// A frame as a worker reads it: see [`decode_incoming`].
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The result of a call.
    Result(IncomingResult),
    /// An invocation of one of the worker's functions.
    Invoke(IncomingInvoke),
    /// Any other frame, as [`crate::decode`] reads it.
    Message(Message),
}

/// Parses one frame as [`crate::decode`] does, except that:
/// - the value of a result is read in the shape `shape` gives for its
///   `invocation_id` (as [`Shape::Text`] when the value comes before the
///   id);
/// - an invocation's payload is read without the caller's id, which comes
///   beside it ([`IncomingInvoke`]).
///
/// It accepts every frame [`crate::decode`] accepts, with the same meaning.
/// The one frame it accepts beyond those is a result whose value, read as
/// text, holds a number too large for an `f64` (`1e400`): the text is kept,
/// and decoding it fails later, where the caller decodes it.
///
/// ```
/// use iii_protocol::{Incoming, ResultValue, Shape, decode_incoming};
/// let frame = r#"{"type":"invocationresult","invocation_id":"df67d10f-0000-4000-8000-000000000003","function_id":"f","result":{"n":1}}"#;
/// let Incoming::Result(result) = decode_incoming(frame, |_| Shape::Text)? else { unreachable!() };
/// let Some(ResultValue::Text(text)) = result.into_outcome().expect("a value") else { unreachable!() };
/// assert_eq!(text.get(), r#"{"n":1}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn decode_incoming(
    text: &str,
    shape: impl FnMut(&Uuid) -> Shape,
) -> Result<Incoming, serde_json::Error> {
    crate::decode::decode_incoming(text, shape)
}

/// Reads a field into `slot` once: a field given twice is an error, raised
/// before its second value is read, as serde's derive raises it.
pub(super) fn once<T, E: de::Error>(
    slot: &mut Option<T>,
    name: &'static str,
    read: impl FnOnce() -> Result<T, E>,
) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(read()?);
    Ok(())
}
