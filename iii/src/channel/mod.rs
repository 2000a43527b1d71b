//! Data channels: a one-shot pipe for bytes and text messages that are not
//! one JSON value (large files, live output, raw request bodies), hosted by
//! the engine between a writer and a reader.
//!
//! [`Worker::create_channel`] gives both ends and their refs. Keep one end
//! and pass the other's ref in a payload: the function that receives it
//! takes it as a [`ChannelReader`] or [`ChannelWriter`] field of its input
//! (or as a plain [`StreamChannelRef`] to open with [`Worker::open_reader`]
//! or [`Worker::open_writer`]). Workers written with the official SDKs
//! (Python, Node) open refs from Rust and send refs Rust opens.
//!
//! ```no_run
//! use iii::channel::ChannelReader;
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Upload { name: String, data: ChannelReader }
//!
//! /// Stores an upload of any size and says how large it was.
//! #[iii::function(id = "files::store")]
//! async fn store(mut upload: Upload) -> Result<u64, iii::Error> {
//!     let bytes = upload.data.read_all().await?;
//!     Ok(bytes.len() as u64)
//! }
//!
//! # async fn caller(worker: iii::Worker) -> Result<(), iii::Error> {
//! let mut channel = worker.create_channel().await?;
//! let call = worker
//!     .invoke("files::store")
//!     .payload(&serde_json::json!({"name": "report.csv", "data": channel.reader_ref}))
//!     .call::<u64>();
//! let write = async {
//!     channel.writer.send_bytes(vec![0u8; 10 << 20]).await?;
//!     channel.writer.close().await
//! };
//! let (stored, written) = tokio::join!(call, write);
//! written?;
//! assert_eq!(stored?, 10 << 20);
//! # Ok(()) }
//! ```
//!
//! What the engine guarantees, and what it does not:
//! - Items (a binary chunk or a text message) arrive in order, their kind
//!   kept. The engine buffers a set number of items (64 by default, up to
//!   1,024) and then stops reading the writer until the reader catches up.
//! - Each end attaches once. A second attach of the same end is accepted
//!   by the engine and ended at once, so it reads as an empty stream.
//! - The stream ends when the writer closes its end or its socket goes
//!   away; the reader cannot tell the two apart, so a writer that must
//!   prove it finished sends a last message (a length, a digest).
//! - A channel with an end never attached is removed five minutes after it
//!   was created; an `http` request's channels are removed when the
//!   response starts.

mod decode;
mod endpoint;
mod reader;
mod writer;

use bytes::Bytes;
use iii_protocol::channel::{CREATE_CHANNEL, CreatedChannel, MAX_BUFFER};
use serde::de::DeserializeOwned;
use serde_json::json;

pub(crate) use endpoint::{End, Endpoint};
pub use iii_protocol::channel::ResponseControl;
pub use iii_protocol::{ChannelDirection, StreamChannelRef};
pub use reader::ChannelReader;
pub use writer::ChannelWriter;

use crate::error::Error;
use crate::worker::Worker;

/// One item of a channel: a chunk of bytes (a binary frame) or a text
/// message (a text frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelItem {
    /// Data.
    Bytes(Bytes),
    /// A message.
    Text(String),
}

impl ChannelItem {
    /// The item's bytes (a message's UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ChannelItem::Bytes(bytes) => bytes,
            ChannelItem::Text(text) => text.as_bytes(),
        }
    }

    /// The item decoded from JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(self.as_bytes())
    }
}

/// Both ends of a new channel, and the refs that open them elsewhere.
///
/// Pass one ref in a payload and use the other end here; an end that is
/// dropped without being used stays free for the holder of its ref.
#[derive(Debug)]
pub struct Channel {
    /// The writing end.
    pub writer: ChannelWriter,
    /// The reading end.
    pub reader: ChannelReader,
    /// The ref of the writing end, for another function to write to.
    pub writer_ref: StreamChannelRef,
    /// The ref of the reading end, for another function to read from.
    pub reader_ref: StreamChannelRef,
}

impl Worker {
    /// Creates a channel with the engine's default buffer of 64 items.
    pub async fn create_channel(&self) -> Result<Channel, Error> {
        self.create(json!({})).await
    }

    /// Creates a channel that buffers up to `items` items (1 to 1,024)
    /// before its writer waits for the reader.
    pub async fn create_channel_with_buffer(&self, items: usize) -> Result<Channel, Error> {
        if !(1..=MAX_BUFFER).contains(&items) {
            return Err(Error::invalid(
                "channel buffer size",
                format!("{items} items is outside 1..={MAX_BUFFER}, the sizes the engine honours"),
            ));
        }
        self.create(json!({"buffer_size": items})).await
    }

    async fn create(&self, input: serde_json::Value) -> Result<Channel, Error> {
        let created: CreatedChannel = self.call(CREATE_CHANNEL, &input).await?;
        let endpoint = self.channel_endpoint();
        let end = |channel: &StreamChannelRef, direction| End {
            channel: channel.clone(),
            direction,
            endpoint: endpoint.clone(),
        };
        Ok(Channel {
            writer: ChannelWriter::new(end(&created.writer, ChannelDirection::Write)),
            reader: ChannelReader::new(end(&created.reader, ChannelDirection::Read)),
            writer_ref: created.writer,
            reader_ref: created.reader,
        })
    }

    /// A reader for the channel `channel` refers to (a read ref). It
    /// attaches when first read.
    pub fn open_reader(&self, channel: &StreamChannelRef) -> Result<ChannelReader, Error> {
        self.end(channel, ChannelDirection::Read)
            .map(ChannelReader::new)
    }

    /// A writer for the channel `channel` refers to (a write ref). It
    /// attaches when it first sends.
    pub fn open_writer(&self, channel: &StreamChannelRef) -> Result<ChannelWriter, Error> {
        self.end(channel, ChannelDirection::Write)
            .map(ChannelWriter::new)
    }

    fn end(&self, channel: &StreamChannelRef, direction: ChannelDirection) -> Result<End, Error> {
        if channel.direction != direction {
            return Err(Error::Channel {
                channel_id: channel.channel_id.clone(),
                end: direction,
                reason: format!(
                    "the ref is for the {} end; open it with `open_{}`",
                    channel.direction,
                    match channel.direction {
                        ChannelDirection::Read => "reader",
                        ChannelDirection::Write => "writer",
                    }
                ),
            });
        }
        Ok(End {
            channel: channel.clone(),
            direction,
            endpoint: self.channel_endpoint(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn ends_and_responses_move_between_tasks_and_threads() {
        send_sync::<ChannelReader>();
        send_sync::<ChannelWriter>();
        send_sync::<Channel>();
        send_sync::<crate::http::StreamedResponse>();
        send_sync::<crate::http::BodySender>();
        send_sync::<crate::http::ApiRequest>();
    }

    #[test]
    fn items_decode_as_json_whatever_their_kind() {
        let text = ChannelItem::Text(r#"{"n":1}"#.into());
        let bytes = ChannelItem::Bytes(Bytes::from_static(br#"{"n":2}"#));
        assert_eq!(text.json::<serde_json::Value>().ok(), Some(json!({"n": 1})));
        assert_eq!(
            bytes.json::<serde_json::Value>().ok(),
            Some(json!({"n": 2}))
        );
    }
}
