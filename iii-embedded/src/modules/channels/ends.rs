//! A channel socket, `/ws/channels/<id>?key=..&dir=read|write` on the
//! worker port: its upgrade request read as the engine reads it, and the
//! end it attaches served.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iii_protocol::ChannelDirection;
use tokio_tungstenite::tungstenite::Message as Frame;

use super::table::{ChannelTable, Item};
use crate::core::Socket;
use crate::url::{parse_query, percent_decode};

/// One end of a channel, as a socket asks for it.
#[derive(Debug, Clone)]
pub(super) struct Attach {
    pub(super) channel_id: String,
    pub(super) key: String,
    pub(super) direction: ChannelDirection,
}

impl Attach {
    /// Reads the id and query of a channel socket's upgrade request as
    /// the engine does; the error is its 400 body.
    pub(super) fn parse(channel_id: &str, query: &str) -> Result<Attach, String> {
        let mut fields = parse_query(query);
        let (key, dir) = (fields.remove("key"), fields.remove("dir"));
        let failed = |why: String| format!("Failed to deserialize query string: {why}");
        let key = key.ok_or_else(|| failed("missing field `key`".into()))?;
        let direction = match dir.as_deref() {
            None => return Err(failed("missing field `dir`".into())),
            Some("read") => ChannelDirection::Read,
            Some("write") => ChannelDirection::Write,
            Some(other) => {
                return Err(failed(format!(
                    "unknown variant `{other}`, expected `read` or `write`"
                )));
            }
        };
        Ok(Attach {
            channel_id: percent_decode(channel_id),
            key,
            direction,
        })
    }

    /// Serves the attached end until it is done.
    pub(super) async fn serve(self, table: Arc<ChannelTable>, socket: Socket) {
        match self.direction {
            ChannelDirection::Read => self.read_end(&table, socket).await,
            ChannelDirection::Write => self.write_end(&table, socket).await,
        }
    }

    /// The reading end: the items in order, then an empty Close. The
    /// engine never reads this socket (no pongs, no Close echo).
    async fn read_end(&self, table: &ChannelTable, mut socket: Socket) {
        let Some(mut rx) = table.take_receiver(&self.channel_id, &self.key) else {
            let _ = socket.send(Frame::Close(None)).await;
            return;
        };
        while let Some(item) = rx.recv().await {
            let frame = match item {
                Item::Text(text) => Frame::text(text),
                Item::Binary(bytes) => Frame::Binary(bytes),
            };
            if socket.send(frame).await.is_err() {
                return;
            }
        }
        let _ = socket.send(Frame::Close(None)).await;
    }

    /// The writing end: each text or binary message one item, until a
    /// Close (after which what arrives within 10 ms still counts, as in
    /// the engine) or the socket ends. A full queue stops the reading.
    async fn write_end(&self, table: &ChannelTable, mut socket: Socket) {
        let Some(tx) = table.take_sender(&self.channel_id, &self.key) else {
            let _ = socket.send(Frame::Close(None)).await;
            return;
        };
        let item = |frame: Frame| match frame {
            Frame::Text(text) => Some(Item::Text(text.as_str().to_owned())),
            Frame::Binary(bytes) => Some(Item::Binary(bytes)),
            _ => None,
        };
        while let Some(Ok(frame)) = socket.next().await {
            if let Frame::Close(_) = frame {
                let drain = tokio::time::Instant::now() + Duration::from_millis(10);
                while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(drain, socket.next()).await
                {
                    let Some(late) = item(frame) else { break };
                    if tx.send(late).await.is_err() {
                        break;
                    }
                }
                return;
            }
            if let Some(item) = item(frame)
                && tx.send(item).await.is_err()
            {
                // The reader is gone: drop the socket without a Close.
                return;
            }
        }
    }
}
