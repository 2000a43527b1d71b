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

use uuid::Uuid;

use crate::incoming::{InvokeVisitor, ResultVisitor};
use crate::{Incoming, Message, Shape};

/// The kind of frame a `type` tag names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    RegisterFunction,
    UnregisterFunction,
    RegisterTrigger,
    TriggerRegistrationResult,
    UnregisterTrigger,
    RegisterTriggerType,
    UnregisterTriggerType,
    InvokeFunction,
    InvocationResult,
    RegisterService,
    Ping,
    Pong,
    WorkerRegistered,
    RegistrationRejected,
    Reattach,
    Error,
}

/// Every `type` tag, in wire spelling, with the frame it names: the one
/// list of them.
const TAGS: [(&str, Tag); 16] = [
    ("registerfunction", Tag::RegisterFunction),
    ("unregisterfunction", Tag::UnregisterFunction),
    ("registertrigger", Tag::RegisterTrigger),
    ("triggerregistrationresult", Tag::TriggerRegistrationResult),
    ("unregistertrigger", Tag::UnregisterTrigger),
    ("registertriggertype", Tag::RegisterTriggerType),
    ("unregistertriggertype", Tag::UnregisterTriggerType),
    ("invokefunction", Tag::InvokeFunction),
    ("invocationresult", Tag::InvocationResult),
    ("registerservice", Tag::RegisterService),
    ("ping", Tag::Ping),
    ("pong", Tag::Pong),
    ("workerregistered", Tag::WorkerRegistered),
    ("registrationrejected", Tag::RegistrationRejected),
    ("reattach", Tag::Reattach),
    ("error", Tag::Error),
];

/// The tags alone, for the error naming what was expected.
const NAMES: [&str; TAGS.len()] = {
    let mut names = [""; TAGS.len()];
    let mut i = 0;
    while i < TAGS.len() {
        names[i] = TAGS[i].0;
        i += 1;
    }
    names
};

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TaggedVisitor(Messages))
    }
}

/// [`crate::decode_incoming`]: the same visitor, building [`Incoming`].
pub(crate) fn decode_incoming(
    text: &str,
    shape: impl FnMut(&Uuid) -> Shape,
) -> Result<Incoming, serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let incoming = (&mut reader).deserialize_map(TaggedVisitor(Incomings(shape)))?;
    reader.end()?;
    Ok(incoming)
}

/// What a tagged frame is built into, from its tag and the rest of the
/// object.
trait Build {
    type Out;
    fn build<'de, D: Deserializer<'de>>(self, tag: Tag, rest: D) -> Result<Self::Out, D::Error>;
}

/// Builds a [`Message`].
struct Messages;

impl Build for Messages {
    type Out = Message;
    fn build<'de, D: Deserializer<'de>>(self, tag: Tag, rest: D) -> Result<Message, D::Error> {
        variant(tag, rest)
    }
}

/// Builds an [`Incoming`], reading a result's value in the shape the
/// function gives for its id.
struct Incomings<F>(F);

impl<F: FnMut(&Uuid) -> Shape> Build for Incomings<F> {
    type Out = Incoming;
    fn build<'de, D: Deserializer<'de>>(self, tag: Tag, rest: D) -> Result<Incoming, D::Error> {
        match tag {
            Tag::InvocationResult => rest
                .deserialize_map(ResultVisitor(self.0))
                .map(Incoming::Result),
            Tag::InvokeFunction => rest.deserialize_map(InvokeVisitor).map(Incoming::Invoke),
            other => variant(other, rest).map(Incoming::Message),
        }
    }
}

struct TaggedVisitor<B>(B);

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
    type Value = Tag;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Tag, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for TagSeed {
    type Value = Tag;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message type")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Tag, E> {
        TAGS.iter()
            .find(|(name, _)| *name == v)
            .map(|(_, tag)| *tag)
            .ok_or_else(|| E::unknown_variant(v, &NAMES))
    }
}

/// Builds the frame `tag` names from the rest of the object.
fn variant<'de, D: Deserializer<'de>>(tag: Tag, rest: D) -> Result<Message, D::Error> {
    Ok(match tag {
        Tag::RegisterFunction => Message::RegisterFunction(Deserialize::deserialize(rest)?),
        Tag::UnregisterFunction => Message::UnregisterFunction(Deserialize::deserialize(rest)?),
        Tag::RegisterTrigger => Message::RegisterTrigger(Deserialize::deserialize(rest)?),
        Tag::TriggerRegistrationResult => {
            Message::TriggerRegistrationResult(Deserialize::deserialize(rest)?)
        }
        Tag::UnregisterTrigger => Message::UnregisterTrigger(Deserialize::deserialize(rest)?),
        Tag::RegisterTriggerType => Message::RegisterTriggerType(Deserialize::deserialize(rest)?),
        Tag::UnregisterTriggerType => {
            Message::UnregisterTriggerType(Deserialize::deserialize(rest)?)
        }
        Tag::InvokeFunction => Message::InvokeFunction(Deserialize::deserialize(rest)?),
        Tag::InvocationResult => Message::InvocationResult(Deserialize::deserialize(rest)?),
        Tag::RegisterService => Message::RegisterService(Deserialize::deserialize(rest)?),
        Tag::WorkerRegistered => Message::WorkerRegistered(Deserialize::deserialize(rest)?),
        Tag::RegistrationRejected => Message::RegistrationRejected(Deserialize::deserialize(rest)?),
        Tag::Reattach => Message::Reattach(Deserialize::deserialize(rest)?),
        Tag::Error => Message::Error(Deserialize::deserialize(rest)?),
        Tag::Ping => {
            IgnoredAny::deserialize(rest)?;
            Message::Ping
        }
        Tag::Pong => {
            IgnoredAny::deserialize(rest)?;
            Message::Pong
        }
    })
}

impl<'de, B: Build> Visitor<'de> for TaggedVisitor<B> {
    type Value = B::Out;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a protocol message object with a `type` field")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<B::Out, A::Error> {
        match map.next_key_seed(KeySeed)? {
            None => Err(de::Error::missing_field("type")),
            Some(Key::Type) => {
                let tag = map.next_value_seed(TagSeed)?;
                self.0.build(tag, MapAccessDeserializer::new(map))
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
                self.0
                    .build(tag, Value::Object(object))
                    .map_err(de::Error::custom)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The least each frame needs, by tag.
    fn body(tag: &str) -> &'static str {
        match tag {
            "registerfunction" | "unregisterfunction" | "unregistertriggertype" => r#""id":"f""#,
            "registerservice" => r#""id":"s""#,
            "registertrigger" => r#""id":"t","trigger_type":"cron","function_id":"f","config":{}"#,
            "triggerregistrationresult" => r#""id":"t","trigger_type":"cron","function_id":"f""#,
            "unregistertrigger" => r#""id":"t""#,
            "registertriggertype" => r#""id":"x","description":"d""#,
            "invokefunction" => r#""function_id":"f","data":null"#,
            "invocationresult" => {
                r#""invocation_id":"6c36327d-2eb3-4e21-a0fd-f52a1b8814a1","function_id":"f""#
            }
            "workerregistered" => r#""worker_id":"w""#,
            "registrationrejected" => r#""code":"C","namespace":"default""#,
            "reattach" => r#""previous_worker_id":"w""#,
            "error" => r#""error":{"code":"C","message":"m"}"#,
            _ => "",
        }
    }

    /// Each tag decodes to the frame that encodes with that same tag, so
    /// the table cannot send a name to the wrong frame.
    #[test]
    fn every_tag_names_its_own_frame() {
        for (name, _) in TAGS {
            let comma = if body(name).is_empty() { "" } else { "," };
            let text = format!(r#"{{"type":"{name}"{comma}{}}}"#, body(name));
            let message: Message = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("`{name}` does not decode: {e}"));
            let encoded = serde_json::to_value(&message).expect("encode");
            assert_eq!(encoded["type"], name, "{text}");
        }
        let mut names = NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TAGS.len(), "a tag is listed twice");
    }

    /// A type this crate does not know is an error naming it, never a
    /// frame of another type.
    #[test]
    fn an_unknown_type_is_never_a_pong() {
        for text in [
            r#"{"type":"pongx"}"#,
            r#"{"type":"observeresult","id":"o"}"#,
        ] {
            let error = serde_json::from_str::<Message>(text).expect_err("unknown");
            assert!(error.to_string().contains("unknown variant"), "{error}");
        }
    }
}
