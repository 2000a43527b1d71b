//! Decoding [`Message`] by its `"type"` tag.
//!
//! serde's derive for internally tagged enums first buffers the whole object
//! into an intermediate tree, because the tag may come anywhere. Peers write
//! `"type"` first, so this visitor reads the first key: if it is the tag,
//! the rest of the object is handed straight to the variant's struct; if
//! not, the object is collected into a map and dispatched from there.

use std::fmt;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::Message;

/// Every `type` tag, in wire spelling.
const TAGS: &[&str] = &[
    "registerfunction",
    "unregisterfunction",
    "registertrigger",
    "triggerregistrationresult",
    "unregistertrigger",
    "registertriggertype",
    "unregistertriggertype",
    "invokefunction",
    "invocationresult",
    "registerservice",
    "ping",
    "pong",
    "workerregistered",
    "registrationrejected",
    "reattach",
    "error",
];

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MessageVisitor)
    }
}

struct MessageVisitor;

/// A map key: the tag key, or another one (kept for the slow path).
enum Key {
    Type,
    Other(String),
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(if v == "type" {
            Key::Type
        } else {
            Key::Other(v.to_owned())
        })
    }
}

/// Reads the tag's value without allocating.
struct TagSeed;

impl<'de> DeserializeSeed<'de> for TagSeed {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for TagSeed {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message type")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        TAGS.iter()
            .position(|t| *t == v)
            .ok_or_else(|| E::unknown_variant(v, TAGS))
    }
}

/// Builds the variant numbered `tag` from the rest of the object.
fn variant<'de, D: Deserializer<'de>>(tag: usize, rest: D) -> Result<Message, D::Error> {
    Ok(match TAGS[tag] {
        "registerfunction" => Message::RegisterFunction(Deserialize::deserialize(rest)?),
        "unregisterfunction" => Message::UnregisterFunction(Deserialize::deserialize(rest)?),
        "registertrigger" => Message::RegisterTrigger(Deserialize::deserialize(rest)?),
        "triggerregistrationresult" => {
            Message::TriggerRegistrationResult(Deserialize::deserialize(rest)?)
        }
        "unregistertrigger" => Message::UnregisterTrigger(Deserialize::deserialize(rest)?),
        "registertriggertype" => Message::RegisterTriggerType(Deserialize::deserialize(rest)?),
        "unregistertriggertype" => Message::UnregisterTriggerType(Deserialize::deserialize(rest)?),
        "invokefunction" => Message::InvokeFunction(Deserialize::deserialize(rest)?),
        "invocationresult" => Message::InvocationResult(Deserialize::deserialize(rest)?),
        "registerservice" => Message::RegisterService(Deserialize::deserialize(rest)?),
        "workerregistered" => Message::WorkerRegistered(Deserialize::deserialize(rest)?),
        "registrationrejected" => Message::RegistrationRejected(Deserialize::deserialize(rest)?),
        "reattach" => Message::Reattach(Deserialize::deserialize(rest)?),
        "error" => Message::Error(Deserialize::deserialize(rest)?),
        "ping" => {
            IgnoredAny::deserialize(rest)?;
            Message::Ping
        }
        _ => {
            IgnoredAny::deserialize(rest)?;
            Message::Pong
        }
    })
}

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Message;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a protocol message object with a `type` field")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Message, A::Error> {
        match map.next_key_seed(KeySeed)? {
            None => Err(de::Error::missing_field("type")),
            Some(Key::Type) => {
                let tag = map.next_value_seed(TagSeed)?;
                variant(tag, MapAccessDeserializer::new(map))
            }
            Some(Key::Other(first)) => {
                // Slow path: the tag comes later; collect, then dispatch.
                let mut object = Map::new();
                object.insert(first, map.next_value()?);
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    object.insert(key, value);
                }
                let tag = match object.remove("type") {
                    Some(Value::String(tag)) => TagSeed.visit_str::<A::Error>(&tag)?,
                    Some(other) => {
                        return Err(de::Error::invalid_type(
                            de::Unexpected::Other(&other.to_string()),
                            &"a string",
                        ));
                    }
                    None => return Err(de::Error::missing_field("type")),
                };
                variant(tag, Value::Object(object)).map_err(de::Error::custom)
            }
        }
    }
}
