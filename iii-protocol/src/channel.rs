//! Data channels: one-shot pipes hosted by the engine, opened as their own
//! WebSocket connections to the worker port.
//!
//! A channel is created with the function [`CREATE_CHANNEL`]; each end is
//! then attached once, at `/ws/channels/<id>?key=<key>&dir=read|write`
//! ([`channel_path`]). Every text or binary WebSocket message the writer
//! sends becomes one item, which the reader receives with its kind kept;
//! the writer's Close (or its socket dropping) ends the stream, and the
//! reader then gets an empty Close frame. The engine's buffer counts items,
//! not bytes.
//!
//! By the convention of every iii SDK, binary items are the data and text
//! items are "messages"; writers cut data into items of at most
//! [`CHUNK_BYTES`]. On the `response` channel of an `http` fire, text items
//! are [`ResponseControl`] messages instead.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The engine function that creates a channel: input
/// `{"buffer_size"?: n}`, result [`CreatedChannel`].
pub const CREATE_CHANNEL: &str = "engine::channels::create";

/// Items a channel buffers when `buffer_size` is not given.
pub const DEFAULT_BUFFER: usize = 64;

/// The most items a channel buffers; the engine clamps larger sizes to it.
pub const MAX_BUFFER: usize = 1024;

/// The largest binary item the SDKs write. The official Python SDK's reader
/// drops a connection on an item over 1 MiB, and every SDK writes 64 KiB.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// The largest item the engine reads from a writer (its WebSocket message
/// limit); a bigger one ends the stream early.
pub const ENGINE_MAX_ITEM: usize = 64 << 20;

/// Where channel sockets are opened, below the worker socket's address.
pub const CHANNEL_PATH_PREFIX: &str = "/ws/channels/";

/// Which end of a channel a [`StreamChannelRef`] opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelDirection {
    /// The reading end.
    Read,
    /// The writing end.
    Write,
}

impl ChannelDirection {
    /// `read` or `write`, as the wire spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelDirection::Read => "read",
            ChannelDirection::Write => "write",
        }
    }
}

impl fmt::Display for ChannelDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A serialisable reference to one end of an engine-hosted channel.
///
/// Both ends of a channel carry the same id and key (the engine checks only
/// those); `direction` says which end the holder is meant to open.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamChannelRef {
    /// Channel id.
    pub channel_id: String,
    /// Secret that authorises attaching to the channel.
    pub access_key: String,
    /// Which end this reference opens.
    pub direction: ChannelDirection,
}

impl StreamChannelRef {
    /// The path and query that attach this end, below the worker socket's
    /// `ws://host:port`.
    pub fn path(&self) -> String {
        channel_path(&self.channel_id, &self.access_key, self.direction)
    }

    /// Whether `value` has the shape of a channel reference (string
    /// `channel_id` and `access_key`, `direction` `read` or `write`), the
    /// test the official SDKs apply to payloads.
    pub fn is_ref(value: &serde_json::Value) -> bool {
        let s = |k: &str| value.get(k).is_some_and(serde_json::Value::is_string);
        s("channel_id")
            && s("access_key")
            && matches!(
                value.get("direction").and_then(serde_json::Value::as_str),
                Some("read" | "write")
            )
    }
}

/// What [`CREATE_CHANNEL`] returns: both ends of one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedChannel {
    /// The end to write to (`direction: "write"`).
    pub writer: StreamChannelRef,
    /// The end to read from (`direction: "read"`).
    pub reader: StreamChannelRef,
}

/// The path and query that attach one end of a channel, with the key
/// percent-encoded.
///
/// ```
/// use iii_protocol::channel::{channel_path, ChannelDirection};
/// assert_eq!(
///     channel_path("c1", "k+1", ChannelDirection::Read),
///     "/ws/channels/c1?key=k%2B1&dir=read"
/// );
/// ```
pub fn channel_path(channel_id: &str, access_key: &str, direction: ChannelDirection) -> String {
    format!(
        "{CHANNEL_PATH_PREFIX}{}?key={}&dir={direction}",
        percent_encode(channel_id),
        percent_encode(access_key)
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A text item on the `response` channel of an `http` fire, read by the
/// engine until the first binary item (the first chunk of the body) or the
/// end of the channel; any other text is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseControl {
    /// The response status, 100 to 599 (default 200).
    SetStatus {
        /// The status code.
        status_code: u16,
    },
    /// Headers to send, merged with those set before (one value per name).
    SetHeaders {
        /// Names and values.
        headers: BTreeMap<String, String>,
    },
}
