//! The two channels of one request: its body, read by the handler, and
//! its response, written by the handler when it streams.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, RETRY_AFTER};
use iii_protocol::StreamChannelRef;
use iii_protocol::channel::DEFAULT_BUFFER;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Http;
use super::replies::{Reply, json_reply};
use crate::core::RawBody;
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
    /// read whole, any other body forwarded chunk by chunk as it arrives.
    /// A JSON body under 256 KiB comes back parsed (`null` when it is not
    /// JSON). A bigger one that is one JSON value comes back to be passed
    /// on as it came, with the marker that stands for it in the payload;
    /// its item goes on the channel once the frame that carries it is
    /// made, as a slice of that frame (see [`RawBody`]). A JSON body over
    /// `max_json_body` bytes is refused with 413, and one that would take
    /// the JSON bytes held past their budget with 503; the permit that
    /// comes back holds the body's share of that budget.
    pub(super) async fn send_body(
        &self,
        body: Incoming,
        is_json: bool,
        http: &Http,
    ) -> Result<Sent, Reply> {
        let none = Sent::default();
        let ch = &self.request_body;
        let Some(tx) = self.table.take_sender(&ch.channel_id, &ch.access_key) else {
            return Ok(none);
        };
        if !is_json {
            tokio::spawn(forward_body(body, tx));
            return Ok(none);
        }
        let max_json_body = http.limits.max_json_body;
        let (bytes, held) = match read_whole(body, max_json_body, &http.json_in_flight).await {
            Ok(read) => read,
            Err(Whole::Busy) => {
                let mut reply = json_reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({"error": {"code": "SERVICE_UNAVAILABLE", "message": format!(
                        "JSON request bodies in flight would pass {} bytes; try again shortly, or raise `EngineBuilder::max_json_bytes_in_flight`",
                        http.limits.json_bytes_in_flight
                    )}}),
                );
                reply
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
                return Err(reply);
            }
            Err(Whole::TooLarge) => {
                return Err(json_reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &json!({"error": {"code": "PAYLOAD_TOO_LARGE", "message": format!(
                        "a JSON body over {max_json_body} bytes is not taken (iii-embedded buffers JSON bodies whole); send it as another content type to stream it, or raise `EngineBuilder::max_json_body`"
                    )}}),
                ));
            }
            Err(Whole::Broken) => return Ok(none),
        };
        if bytes.is_empty() {
            return Ok(none);
        }
        if bytes.len() < PASSED_AS_SENT {
            // Parsed, as the engine parses it: the handler gets its keys
            // sorted and its numbers written afresh, as there.
            let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let _ = tx.send(Item::Binary(bytes)).await;
            return Ok(Sent {
                value,
                raw: None,
                held,
            });
        }
        let Some((raw, stand_in, placed)) = RawBody::new(bytes.clone()) else {
            // Not JSON: the handler gets `null`, and the bytes on the channel.
            let _ = tx.send(Item::Binary(bytes)).await;
            return Ok(Sent { held, ..none });
        };
        drop(bytes);
        tokio::spawn(async move {
            if let Ok(bytes) = placed.await {
                let _ = tx.send(Item::Binary(bytes)).await;
            }
        });
        Ok(Sent {
            value: stand_in,
            raw: Some(raw),
            held,
        })
    }

    /// Forgets both channels; ends already attached keep working.
    pub(super) fn remove(&self) {
        self.table.remove(&self.request_body.channel_id);
        self.table.remove(&self.response.channel_id);
    }
}

/// The size from which a JSON body goes to its handler as it was sent
/// (see [`RawBody`]) rather than parsed and written afresh as the engine
/// does: its keys keep their order and its numbers their spelling.
const PASSED_AS_SENT: usize = 256 << 10;

/// A request body sent on its way.
#[derive(Default)]
pub(super) struct Sent {
    /// What the payload's `body` holds: the body parsed, the marker of
    /// `raw`, or `null`.
    pub(super) value: Value,
    /// The body, to pass on as it came.
    pub(super) raw: Option<RawBody>,
    /// The body's share of the JSON bytes in flight, until the request is
    /// answered.
    pub(super) held: Option<OwnedSemaphorePermit>,
}

/// Why a body was not read whole.
enum Whole {
    TooLarge,
    /// It would take the JSON bytes in flight past their budget.
    Busy,
    /// The client broke off, or sent a bad chunk.
    Broken,
}

/// A body read whole into one buffer, sized by its `content-length` when
/// it gives one (each chunk is copied in and dropped, so the body is held
/// about once), and its bytes' permits from `in_flight`: all of them at
/// once when its length is known, else chunk by chunk.
async fn read_whole(
    body: Incoming,
    max: usize,
    in_flight: &Arc<Semaphore>,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), Whole> {
    let exact = body.size_hint().exact().map(|n| n as usize);
    if exact.is_some_and(|n| n > max) {
        return Err(Whole::TooLarge);
    }
    let mut held: Option<OwnedSemaphorePermit> = None;
    let mut hold = |n: usize| -> Result<(), Whole> {
        if n == 0 {
            return Ok(());
        }
        let n = u32::try_from(n).map_err(|_| Whole::Busy)?;
        let permit = in_flight
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| Whole::Busy)?;
        match &mut held {
            Some(held) => held.merge(permit),
            None => held = Some(permit),
        }
        Ok(())
    };
    hold(exact.unwrap_or(0))?;
    let mut whole = BytesMut::with_capacity(exact.unwrap_or(0));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(Whole::Broken);
        };
        if let Ok(data) = frame.into_data() {
            if whole.len() + data.len() > max {
                return Err(Whole::TooLarge);
            }
            if exact.is_none() {
                hold(data.len())?;
            }
            whole.extend_from_slice(&data);
        }
    }
    Ok((whole.freeze(), held))
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
