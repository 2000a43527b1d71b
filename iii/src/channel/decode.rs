//! Channel ends decoded straight from a payload, with the engine address
//! of the worker decoding it (from the [`Scope`], set for a handler's polls
//! and for a call's result decoding).
//!
//! The official SDKs turn every channel ref in a handler's input into a
//! reader or writer object; in Rust a field typed [`ChannelReader`] or
//! [`ChannelWriter`] does the same, and a field typed
//! [`StreamChannelRef`] keeps the plain ref.

use std::borrow::Cow;

use iii_protocol::{ChannelDirection, StreamChannelRef};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use super::endpoint::End;
use super::{ChannelReader, ChannelWriter};
use crate::scope::Scope;

fn end_from<'de, D: Deserializer<'de>>(
    deserializer: D,
    direction: ChannelDirection,
    type_name: &str,
) -> Result<End, D::Error> {
    let channel = StreamChannelRef::deserialize(deserializer)?;
    if channel.direction != direction {
        let other = match direction {
            ChannelDirection::Read => "ChannelWriter",
            ChannelDirection::Write => "ChannelReader",
        };
        return Err(D::Error::custom(format!(
            "expected the {direction} end of a channel for a `{type_name}`, got a `{}` ref; take it as a `{other}`",
            channel.direction
        )));
    }
    let scope = Scope::current().ok_or_else(|| {
        D::Error::custom(format!(
            "a `{type_name}` is decoded only from a handler's input or a call's result, where the worker is known; \
             decode a `StreamChannelRef` and open it with `Worker::open_{}`",
            match direction {
                ChannelDirection::Read => "reader",
                ChannelDirection::Write => "writer",
            }
        ))
    })?;
    Ok(End {
        channel,
        direction,
        endpoint: scope.worker.channel_endpoint(),
    })
}

impl<'de> Deserialize<'de> for ChannelReader {
    /// From a read ref (`{"channel_id", "access_key", "direction": "read"}`),
    /// inside a handler's input or a call's result.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        end_from(deserializer, ChannelDirection::Read, "ChannelReader").map(ChannelReader::new)
    }
}

impl<'de> Deserialize<'de> for ChannelWriter {
    /// From a write ref (`{"channel_id", "access_key", "direction": "write"}`),
    /// inside a handler's input or a call's result.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        end_from(deserializer, ChannelDirection::Write, "ChannelWriter").map(ChannelWriter::new)
    }
}

fn ref_schema(direction: ChannelDirection) -> Schema {
    json_schema!({
        "type": "object",
        "description": format!("The {direction} end of an iii data channel"),
        "properties": {
            "channel_id": {"type": "string"},
            "access_key": {"type": "string"},
            "direction": {"const": direction.as_str()},
        },
        "required": ["channel_id", "access_key", "direction"],
    })
}

impl JsonSchema for ChannelReader {
    fn schema_name() -> Cow<'static, str> {
        "ChannelReader".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        ref_schema(ChannelDirection::Read)
    }
}

impl JsonSchema for ChannelWriter {
    fn schema_name() -> Cow<'static, str> {
        "ChannelWriter".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        ref_schema(ChannelDirection::Write)
    }
}
