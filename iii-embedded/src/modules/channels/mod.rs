//! Data channels as the engine hosts them: `engine::channels::create`, the
//! `/ws/channels/<id>?key=..&dir=read|write` sockets on the worker port,
//! and the table the `http` module takes a request's two channels from.
//!
//! A channel is a bounded queue of items (text or binary, as sent) with
//! each end taken once. A writer's items go into the queue, the engine
//! stops reading a writer whose queue is full, and the reader gets the
//! items in order, then an empty Close frame when the writer is gone. The
//! engine never reads a reader's socket. A channel with an end never
//! taken is removed once its time to live (5 minutes) has passed, on the
//! next sweep; a used one stays known (a second attach is answered and
//! closed at once, as by the engine).

mod ends;
mod table;

use std::sync::Arc;
use std::time::Duration;

use iii_protocol::channel::{CHANNEL_PATH_PREFIX, CREATE_CHANNEL, DEFAULT_BUFFER, MAX_BUFFER};
use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::http::StatusCode;

pub(crate) use table::{ChannelTable, Item, ItemReceiver, ItemSender};

use crate::core::{Core, EngineModule, Function, Refusal, SocketTask, raised};
use ends::Attach;

/// The input of `engine::channels::create`.
#[derive(Deserialize)]
struct NewChannel {
    #[serde(default)]
    buffer_size: Option<usize>,
}

/// The channels module.
pub(crate) struct Channels {
    table: Arc<ChannelTable>,
    /// How long a channel with an end never attached lives.
    ttl: Duration,
}

impl Channels {
    /// No channels yet; those never attached live `ttl`; each holds at
    /// most `per_channel` bytes, and all together at most `total`.
    pub(crate) fn new(ttl: Duration, per_channel: usize, total: usize) -> Channels {
        Channels {
            table: Arc::new(ChannelTable::new(per_channel, total)),
            ttl,
        }
    }

    /// The table of channels, for the modules that open some.
    pub(crate) fn table(&self) -> Arc<ChannelTable> {
        self.table.clone()
    }
}

impl EngineModule for Channels {
    fn name(&self) -> &'static str {
        "iii-engine-functions"
    }

    fn functions(self: Arc<Self>) -> Vec<Function> {
        vec![Function::now(
            CREATE_CHANNEL,
            &self,
            |channels, _, i: NewChannel| {
                let buffer = i.buffer_size.unwrap_or(DEFAULT_BUFFER).min(MAX_BUFFER);
                let (writer, reader) = channels.table.create(buffer);
                Ok(json!({"writer": writer, "reader": reader}))
            },
        )]
    }

    fn socket(self: Arc<Self>, path: &str, query: &str) -> Option<Result<SocketTask, Refusal>> {
        let id = path
            .strip_prefix(CHANNEL_PATH_PREFIX)
            .filter(|id| !id.is_empty() && !id.contains('/'))?;
        let refused = |status, body: &str| Refusal {
            status,
            body: Some(body.to_string()),
        };
        let end = match Attach::parse(id, query) {
            Err(why) => return Some(Err(refused(StatusCode::BAD_REQUEST, &why))),
            Ok(end) if !self.table.exists(&end.channel_id, &end.key) => {
                return Some(Err(refused(StatusCode::NOT_FOUND, "Channel not found")));
            }
            Ok(end) => end,
        };
        let table = self.table.clone();
        Some(Ok(Box::new(move |_, socket| {
            Box::pin(end.serve(table, socket))
        })))
    }

    /// Sweeps the channels every 60 s (or every `ttl`, when shorter) until
    /// the engine stops.
    fn start(self: Arc<Self>, core: &Arc<Core>) -> Vec<JoinHandle<()>> {
        let ttl = self.ttl;
        let period = ttl
            .min(Duration::from_secs(60))
            .max(Duration::from_millis(10));
        let mut stopped = core.stopped();
        vec![tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => self.table.sweep(ttl),
                    _ = raised(&mut stopped) => return,
                }
            }
        })]
    }
}
