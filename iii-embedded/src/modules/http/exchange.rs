//! The two channels of one request: its body, read by the handler, and
//! its response, written by the handler when it streams.

use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper::body::Incoming;
use iii_protocol::StreamChannelRef;
use iii_protocol::channel::DEFAULT_BUFFER;
use serde_json::{Value, json};

use super::replies::{Reply, json_reply};
use crate::modules::channels::{ChannelTable, Item, ItemReceiver, ItemSender};

/// A request's channels, as the handler's payload names them.
pub(super) struct Exchange {
    table: Arc<ChannelTable>,
    pub(super) request_body: StreamChannelRef,
    pub(super) response: StreamChannelRef,
}

impl Exchange {
    /// Both channels, and the engine's end of `response`.
    pub(super) fn open(table: &Arc<ChannelTable>) -> (Exchange, Option<ItemReceiver>) {
        let (_, request_body) = table.create(DEFAULT_BUFFER);
        let (response, _) = table.create(DEFAULT_BUFFER);
        let responses = table.take_receiver(&response.channel_id, &response.access_key);
        (
            Exchange {
                table: table.clone(),
                request_body,
                response,
            },
            responses,
        )
    }

    /// Puts the request body on the `request_body` channel: a JSON body
    /// read whole and sent as one item (and returned parsed, or `null`),
    /// any other body forwarded chunk by chunk as it arrives. A JSON body
    /// over `max_json_body` bytes is refused with 413.
    pub(super) async fn send_body(
        &self,
        body: Incoming,
        is_json: bool,
        max_json_body: usize,
    ) -> Result<Value, Reply> {
        let ch = &self.request_body;
        let Some(tx) = self.table.take_sender(&ch.channel_id, &ch.access_key) else {
            return Ok(Value::Null);
        };
        if !is_json {
            tokio::spawn(forward_body(body, tx));
            return Ok(Value::Null);
        }
        let limited = http_body_util::Limited::new(body, max_json_body);
        let bytes = match limited.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return Err(json_reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &json!({"error": {"code": "PAYLOAD_TOO_LARGE", "message": format!(
                        "a JSON body over {max_json_body} bytes is not taken (iii-embedded buffers JSON bodies whole); send it as another content type to stream it, or raise `EngineBuilder::max_json_body`"
                    )}}),
                ));
            }
            Err(_) => return Ok(Value::Null),
        };
        let parsed = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !bytes.is_empty() {
            let _ = tx.send(Item::Binary(bytes)).await;
        }
        Ok(parsed)
    }

    /// Forgets both channels; ends already attached keep working.
    pub(super) fn remove(&self) {
        self.table.remove(&self.request_body.channel_id);
        self.table.remove(&self.response.channel_id);
    }
}

/// Forwards a non-JSON body, one item per chunk hyper yields, and ends the
/// channel with the body. Like the engine, it keeps draining the body when
/// nobody reads the channel any more.
async fn forward_body(mut body: Incoming, tx: ItemSender) {
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            let _ = tx.send(Item::Binary(data)).await;
        }
    }
}
