//! Data channels as the engine hosts them: `engine::channels::create`, the
//! `/ws/channels/<id>?key=..&dir=read|write` sockets on the worker port,
//! and the two channels of every matched `http` request.
//!
//! A channel is a bounded queue of items (text or binary, as sent) with
//! each end taken once. A writer's items go into the queue, the engine
//! stops reading a writer whose queue is full, and the reader gets the
//! items in order, then an empty Close frame when the writer is gone. The
//! engine never reads a reader's socket. A channel with an end never
//! taken is removed once its time to live (5 minutes) has passed, on the
//! next sweep; a used one stays known (a second attach is answered and
//! closed at once, as by the engine).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use iii_protocol::channel::{DEFAULT_BUFFER, MAX_BUFFER};
use iii_protocol::{ChannelDirection, StreamChannelRef};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use uuid::Uuid;

use crate::Shared;
use crate::url::percent_decode;

/// One item of a channel, its kind kept.
#[derive(Debug)]
pub(crate) enum Item {
    Text(String),
    Binary(Bytes),
}

struct Record {
    key: String,
    tx: Option<mpsc::Sender<Item>>,
    rx: Option<mpsc::Receiver<Item>>,
    created: Instant,
}

/// Every channel of the engine, by id.
#[derive(Default)]
pub(crate) struct Channels {
    records: Mutex<HashMap<String, Record>>,
}

/// One end of a channel, as a socket asks for it.
#[derive(Debug, Clone)]
pub(crate) struct Attach {
    pub(crate) channel_id: String,
    pub(crate) key: String,
    pub(crate) direction: ChannelDirection,
}

impl Channels {
    fn records(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new channel buffering `buffer` items (clamped to 1..=1024, as the
    /// engine clamps); both ends share its id and key.
    pub(crate) fn create(&self, buffer: usize) -> (StreamChannelRef, StreamChannelRef) {
        let (tx, rx) = mpsc::channel(buffer.clamp(1, MAX_BUFFER));
        let channel_id = Uuid::new_v4().to_string();
        let key = Uuid::new_v4().to_string();
        self.records().insert(
            channel_id.clone(),
            Record {
                key: key.clone(),
                tx: Some(tx),
                rx: Some(rx),
                created: Instant::now(),
            },
        );
        let end = |direction| StreamChannelRef {
            channel_id: channel_id.clone(),
            access_key: key.clone(),
            direction,
        };
        (end(ChannelDirection::Write), end(ChannelDirection::Read))
    }

    /// Whether a channel with this id and key is known.
    pub(crate) fn exists(&self, channel_id: &str, key: &str) -> bool {
        self.records().get(channel_id).is_some_and(|r| r.key == key)
    }

    /// Takes the writing end; `None` if it was taken or the channel is gone.
    pub(crate) fn take_sender(&self, channel_id: &str, key: &str) -> Option<mpsc::Sender<Item>> {
        let mut records = self.records();
        let record = records.get_mut(channel_id).filter(|r| r.key == key)?;
        record.tx.take()
    }

    /// Takes the reading end; `None` if it was taken or the channel is gone.
    pub(crate) fn take_receiver(
        &self,
        channel_id: &str,
        key: &str,
    ) -> Option<mpsc::Receiver<Item>> {
        let mut records = self.records();
        let record = records.get_mut(channel_id).filter(|r| r.key == key)?;
        record.rx.take()
    }

    /// Forgets a channel (an `http` request's, when its exchange is done);
    /// ends already attached keep working.
    pub(crate) fn remove(&self, channel_id: &str) {
        self.records().remove(channel_id);
    }

    /// Removes the channels older than `ttl` with an end never taken.
    fn sweep(&self, ttl: Duration) {
        self.records()
            .retain(|_, r| r.created.elapsed() <= ttl || (r.tx.is_none() && r.rx.is_none()));
    }
}

/// Sweeps the channels every 60 s (or every `ttl`, when shorter) until the
/// engine stops.
pub(crate) fn start_sweeper(shared: Arc<Shared>) {
    let ttl = shared.settings.channel_ttl;
    let period = ttl
        .min(Duration::from_secs(60))
        .max(Duration::from_millis(10));
    let mut stopped = shared.stopped.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => shared.channels.sweep(ttl),
                _ = crate::raised(&mut stopped) => return,
            }
        }
    });
}

/// `engine::channels::create`.
pub(crate) fn create(shared: &Shared, data: Value) -> Result<Value, iii_protocol::ErrorBody> {
    #[derive(Deserialize)]
    struct In {
        #[serde(default)]
        buffer_size: Option<usize>,
    }
    let i: In = crate::builtins::input(iii_protocol::channel::CREATE_CHANNEL, data)?;
    let (writer, reader) = shared
        .channels
        .create(i.buffer_size.unwrap_or(DEFAULT_BUFFER).min(MAX_BUFFER));
    Ok(json!({"writer": writer, "reader": reader}))
}

/// Reads the query of a channel socket's upgrade request as the engine
/// does; the error is its 400 body.
pub(crate) fn parse_query(channel_id: &str, query: &str) -> Result<Attach, String> {
    let mut fields = crate::url::parse_query(query);
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

/// Serves one attached channel socket.
pub(crate) async fn serve<S: crate::Io>(
    shared: Arc<Shared>,
    socket: WebSocketStream<S>,
    end: Attach,
) {
    match end.direction {
        ChannelDirection::Read => read_end(&shared, socket, &end).await,
        ChannelDirection::Write => write_end(&shared, socket, &end).await,
    }
}

/// The reading end: the items in order, then an empty Close. The engine
/// never reads this socket (no pongs, no Close echo).
async fn read_end<S: crate::Io>(shared: &Shared, mut socket: WebSocketStream<S>, end: &Attach) {
    let Some(mut rx) = shared.channels.take_receiver(&end.channel_id, &end.key) else {
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

/// The writing end: each text or binary message one item, until a Close
/// (after which what arrives within 10 ms still counts, as in the
/// engine) or the socket ends. A full queue stops the reading.
async fn write_end<S: crate::Io>(shared: &Shared, mut socket: WebSocketStream<S>, end: &Attach) {
    let Some(tx) = shared.channels.take_sender(&end.channel_id, &end.key) else {
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
            while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(drain, socket.next()).await {
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
