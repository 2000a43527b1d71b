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

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use uuid::Uuid;

use crate::{ErrorBody, InvocationResult, Message, RawJson};

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

/// `invocationresult` as the caller of the call reads it: the fields of
/// [`InvocationResult`] a caller needs, the value in the shape it asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingResult {
    /// The id of the call being answered.
    pub invocation_id: Uuid,
    /// The function that answered. Required, as in [`InvocationResult`].
    pub function_id: String,
    /// The value; `None` when absent or `null`.
    pub result: Option<ResultValue>,
    /// Present when the call failed.
    pub error: Option<ErrorBody>,
}

impl IncomingResult {
    /// The outcome: an error if `error` is set, else the value (`None` for
    /// no value).
    pub fn into_outcome(self) -> Result<Option<ResultValue>, ErrorBody> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.result),
        }
    }
}

impl From<InvocationResult> for IncomingResult {
    fn from(result: InvocationResult) -> IncomingResult {
        IncomingResult {
            invocation_id: result.invocation_id,
            function_id: result.function_id,
            result: result.result.map(ResultValue::Tree),
            error: result.error,
        }
    }
}

/// A frame as a worker reads it: see [`decode_incoming`].
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The result of a call.
    Result(IncomingResult),
    /// Any other frame, as [`crate::decode`] reads it.
    Message(Message),
}

/// Parses one frame as [`crate::decode`] does, except that the value of a
/// result is read in the shape `shape` gives for its `invocation_id` (as
/// [`Shape::Text`] when the value comes before the id).
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

/// Reads the fields of an `invocationresult` after its tag.
pub(crate) struct ResultVisitor<F>(pub(crate) F);

/// A field of `invocationresult`; the ones a caller does not need are
/// skipped, as unknown fields are.
enum Field {
    InvocationId,
    FunctionId,
    Result,
    Error,
    Other,
}

impl<'de> de::Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "invocation_id" => Field::InvocationId,
                    "function_id" => Field::FunctionId,
                    "result" => Field::Result,
                    "error" => Field::Error,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(Name)
    }
}

/// Sets `slot` once: a field given twice is an error, as serde's derive
/// makes it for [`InvocationResult`].
fn once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

impl<'de, F: FnMut(&Uuid) -> Shape> Visitor<'de> for ResultVisitor<F> {
    type Value = IncomingResult;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct InvocationResult")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<IncomingResult, A::Error> {
        let mut invocation_id = None;
        let mut function_id = None;
        let mut result: Option<Option<ResultValue>> = None;
        let mut error: Option<Option<ErrorBody>> = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::InvocationId => {
                    once(&mut invocation_id, map.next_value()?, "invocation_id")?
                }
                Field::FunctionId => once(&mut function_id, map.next_value()?, "function_id")?,
                Field::Result => {
                    let value = match invocation_id.as_ref().map_or(Shape::Text, &mut self.0) {
                        Shape::Tree => map.next_value::<Option<Value>>()?.map(ResultValue::Tree),
                        Shape::Text => map.next_value::<Option<RawJson>>()?.map(ResultValue::Text),
                    };
                    once(&mut result, value, "result")?;
                }
                Field::Error => once(&mut error, map.next_value()?, "error")?,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(IncomingResult {
            invocation_id: invocation_id
                .ok_or_else(|| de::Error::missing_field("invocation_id"))?,
            function_id: function_id.ok_or_else(|| de::Error::missing_field("function_id"))?,
            result: result.flatten(),
            error: error.flatten(),
        })
    }
}
