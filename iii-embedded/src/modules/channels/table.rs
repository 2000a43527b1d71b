//! The engine's channels: each a bounded queue of items with two ends,
//! each end taken once. Both the channel sockets and the `http` module
//! (for a request's body and a streamed response) take ends from here.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use iii_protocol::channel::MAX_BUFFER;
use iii_protocol::{ChannelDirection, StreamChannelRef};
use tokio::sync::mpsc;
use uuid::Uuid;

/// One item of a channel, its kind kept.
#[derive(Debug)]
pub(crate) enum Item {
    /// A text message (a streamed response's control message, say).
    Text(String),
    /// A binary message (a chunk of a body).
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
pub(crate) struct ChannelTable {
    records: Mutex<HashMap<String, Record>>,
}

impl ChannelTable {
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
    pub(super) fn sweep(&self, ttl: Duration) {
        self.records()
            .retain(|_, r| r.created.elapsed() <= ttl || (r.tx.is_none() && r.rx.is_none()));
    }
}
