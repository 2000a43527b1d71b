//! `invokefunction` as the invoked worker reads it: the id of the calling
//! worker, which the engine adds to an object payload as
//! [`CALLER_WORKER_ID`](crate::CALLER_WORKER_ID), is taken out of the
//! payload while it is read, not inserted into it and removed again.

use std::fmt;

use serde::Deserialize;
use serde::de::value::SeqAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::once;
use crate::{CALLER_WORKER_ID, InvokeFunction, RAW_VALUE_TOKEN};

/// `invokefunction` as a worker reads it: the frame, its payload without
/// the caller's id, and that id.
///
/// ```
/// use iii_protocol::{Incoming, decode_incoming};
/// let frame = r#"{"type":"invokefunction","function_id":"f","data":{"n":1,"_caller_worker_id":"w-1"}}"#;
/// let Incoming::Invoke(invoke) = decode_incoming(frame, |_| unreachable!())? else { unreachable!() };
/// assert_eq!(invoke.caller_worker_id.as_deref(), Some("w-1"));
/// assert_eq!(invoke.invoke.data, serde_json::json!({"n": 1}));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingInvoke {
    /// The frame, its `data` without the caller's id.
    pub invoke: InvokeFunction,
    /// The value of `data`'s [`CALLER_WORKER_ID`] entry when `data` is an
    /// object that has one: as it is when a string, else its JSON text.
    pub caller_worker_id: Option<String>,
}

impl From<InvokeFunction> for IncomingInvoke {
    /// The frame as [`crate::decode_incoming`] reads it: the caller's id
    /// taken out of an object payload.
    fn from(mut invoke: InvokeFunction) -> IncomingInvoke {
        let caller_worker_id = take_caller(&mut invoke.data);
        IncomingInvoke {
            invoke,
            caller_worker_id,
        }
    }
}

/// Removes the caller's id from an object payload.
fn take_caller(data: &mut Value) -> Option<String> {
    data.as_object_mut()?
        .remove(CALLER_WORKER_ID)
        .map(caller_text)
}

/// The caller's id as a handler sees it: a string as it is, else its JSON
/// text.
fn caller_text(id: Value) -> String {
    match id {
        Value::String(id) => id,
        other => other.to_string(),
    }
}

/// Reads the fields of an `invokefunction` after its tag, as the derived
/// `Deserialize` of [`InvokeFunction`] does (the same required fields, the
/// same errors for a field given twice, unknown fields skipped).
pub(crate) struct InvokeVisitor;

fields! {
    /// A field of `invokefunction`.
    enum Field {
        "invocation_id" => InvocationId,
        "function_id" => FunctionId,
        "data" => Data,
        "action" => Action,
        "metadata" => Metadata,
        "namespace" => Namespace,
        "traceparent" => Traceparent,
        "baggage" => Baggage,
    }
}

impl<'de> Visitor<'de> for InvokeVisitor {
    type Value = IncomingInvoke;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct InvokeFunction")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IncomingInvoke, A::Error> {
        let mut invocation_id = None;
        let mut function_id = None;
        let mut data: Option<(Value, Option<String>)> = None;
        let mut action = None;
        let mut metadata = None;
        let mut namespace = None;
        let mut traceparent = None;
        let mut baggage = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::InvocationId => {
                    once(&mut invocation_id, "invocation_id", || map.next_value())?
                }
                Field::FunctionId => once(&mut function_id, "function_id", || map.next_value())?,
                Field::Data => once(&mut data, "data", || map.next_value_seed(DataSeed))?,
                Field::Action => once(&mut action, "action", || map.next_value())?,
                Field::Metadata => once(&mut metadata, "metadata", || map.next_value())?,
                Field::Namespace => once(&mut namespace, "namespace", || map.next_value())?,
                Field::Traceparent => once(&mut traceparent, "traceparent", || map.next_value())?,
                Field::Baggage => once(&mut baggage, "baggage", || map.next_value())?,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let function_id = function_id.ok_or_else(|| de::Error::missing_field("function_id"))?;
        let (data, caller_worker_id) = data.ok_or_else(|| de::Error::missing_field("data"))?;
        Ok(IncomingInvoke {
            invoke: InvokeFunction {
                invocation_id: invocation_id.flatten(),
                function_id,
                data,
                action: action.flatten(),
                metadata: metadata.flatten(),
                namespace: namespace.flatten(),
                traceparent: traceparent.flatten(),
                baggage: baggage.flatten(),
            },
            caller_worker_id,
        })
    }
}

/// Reads `data` as a `serde_json::Value`, except that an object's
/// [`CALLER_WORKER_ID`] entry is kept aside.
struct DataSeed;

impl<'de> DeserializeSeed<'de> for DataSeed {
    type Value = (Value, Option<String>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Every value but an object is read as `Value` reads it, by handing it
/// to `Value`'s own `Deserialize`.
impl<'de> Visitor<'de> for DataSeed {
    type Value = (Value, Option<String>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok((Value::Bool(v), None))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok((Value::Number(v.into()), None))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok((Value::Number(v.into()), None))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // As `Value` reads it: a number that JSON cannot hold is `null`.
        let number = serde_json::Number::from_f64(v);
        Ok((number.map_or(Value::Null, Value::Number), None))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok((Value::String(v.to_owned()), None))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok((Value::String(v), None))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok((Value::Null, None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok((Value::Null, None))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Ok((Value::deserialize(SeqAccessDeserializer::new(seq))?, None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = Map::new();
        let mut caller = None;
        let mut first = true;
        while let Some(key) = map.next_key::<String>()? {
            if std::mem::take(&mut first) && key == RAW_VALUE_TOKEN {
                let mut value = map.next_value_seed(ValueFromString)?;
                let caller = take_caller(&mut value);
                return Ok((value, caller));
            }
            if key == CALLER_WORKER_ID {
                // The last one counts, as it would in the object.
                caller = Some(caller_text(map.next_value()?));
            } else {
                object.insert(key, map.next_value()?);
            }
        }
        Ok((Value::Object(object), caller))
    }
}

/// The value of a [`RAW_VALUE_TOKEN`] entry: a string of JSON text, read
/// as a `Value`.
struct ValueFromString;

impl<'de> DeserializeSeed<'de> for ValueFromString {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for ValueFromString {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("raw value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        serde_json::from_str(v).map_err(E::custom)
    }
}
