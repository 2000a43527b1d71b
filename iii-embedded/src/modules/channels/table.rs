//! The engine's channels: each a bounded queue of items with two ends,
//! each end taken once. Both the channel sockets and the `http` module
//! (for a request's body and a streamed response) take ends from here.
//!
//! A queue is bounded twice: in items, as the engine bounds it, and in
//! bytes, per channel and over every channel. An item holds its bytes'
//! permits from both budgets until the reader takes it, so a writer past
//! either budget waits, as one past the item count does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use iii_protocol::channel::MAX_BUFFER;
use iii_protocol::{ChannelDirection, StreamChannelRef};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use uuid::Uuid;

/// One item of a channel, its kind kept.
#[derive(Debug)]
pub(crate) enum Item {
    /// A text message (a streamed response's control message, say).
    Text(String),
    /// A binary message (a chunk of a body).
    Binary(Bytes),
}

impl Item {
    /// The bytes the item holds.
    fn len(&self) -> usize {
        match self {
            Item::Text(text) => text.len(),
            Item::Binary(bytes) => bytes.len(),
        }
    }
}

/// A byte budget: a semaphore with one permit per byte.
#[derive(Clone)]
struct Budget {
    bytes: Arc<Semaphore>,
    max: usize,
}

impl Budget {
    fn new(max: usize) -> Budget {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Budget {
            bytes: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// Waits until `len` bytes fit; an item bigger than the whole budget
    /// waits for all of it, so that it fits alone.
    async fn take(&self, len: usize) -> Option<OwnedSemaphorePermit> {
        let n = len.min(self.max).min(u32::MAX as usize) as u32;
        self.bytes.clone().acquire_many_owned(n).await.ok()
    }
}

/// An item in a queue, with the bytes it holds of both budgets.
struct Held {
    item: Item,
    _bytes: [OwnedSemaphorePermit; 2],
}

/// The writing end of a channel's queue.
pub(crate) struct ItemSender {
    tx: mpsc::Sender<Held>,
    channel: Budget,
    total: Budget,
}

/// The reader is gone: the item was not queued.
#[derive(Debug)]
pub(crate) struct Closed;

impl ItemSender {
    /// Queues `item` once it fits in the queue and in both budgets.
    pub(crate) async fn send(&self, item: Item) -> Result<(), Closed> {
        let len = item.len();
        // The channel's own budget first: a writer waiting on it holds
        // nothing of the total that other channels could use.
        let own = self.channel.take(len).await.ok_or(Closed)?;
        let total = self.total.take(len).await.ok_or(Closed)?;
        let held = Held {
            item,
            _bytes: [own, total],
        };
        self.tx.send(held).await.map_err(|_| Closed)
    }
}

/// The reading end of a channel's queue; an item's bytes are free again
/// once it is taken.
pub(crate) struct ItemReceiver {
    rx: mpsc::Receiver<Held>,
}

impl ItemReceiver {
    /// The next item; `None` once the writer is gone and all are taken.
    pub(crate) async fn recv(&mut self) -> Option<Item> {
        self.rx.recv().await.map(|held| held.item)
    }

    /// [`ItemReceiver::recv`], polled.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Item>> {
        self.rx.poll_recv(cx).map(|held| held.map(|h| h.item))
    }
}

struct Record {
    key: String,
    tx: Option<ItemSender>,
    rx: Option<ItemReceiver>,
    created: Instant,
}

/// Every channel of the engine, by id.
pub(crate) struct ChannelTable {
    records: Mutex<HashMap<String, Record>>,
    /// Each channel's byte budget.
    per_channel: usize,
    /// The byte budget every channel shares.
    total: Budget,
}

impl ChannelTable {
    /// No channels yet; each will hold at most `per_channel` bytes, and
    /// all together at most `total`.
    pub(crate) fn new(per_channel: usize, total: usize) -> ChannelTable {
        ChannelTable {
            records: Mutex::default(),
            per_channel,
            total: Budget::new(total),
        }
    }

    fn records(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new channel buffering `buffer` items (clamped to 1..=1024, as the
    /// engine clamps) within its byte budgets; both ends share its id and
    /// key.
    pub(crate) fn create(&self, buffer: usize) -> (StreamChannelRef, StreamChannelRef) {
        let (tx, rx) = mpsc::channel(buffer.clamp(1, MAX_BUFFER));
        let tx = ItemSender {
            tx,
            channel: Budget::new(self.per_channel),
            total: self.total.clone(),
        };
        let rx = ItemReceiver { rx };
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
    pub(crate) fn take_sender(&self, channel_id: &str, key: &str) -> Option<ItemSender> {
        let mut records = self.records();
        let record = records.get_mut(channel_id).filter(|r| r.key == key)?;
        record.tx.take()
    }

    /// Takes the reading end; `None` if it was taken or the channel is gone.
    pub(crate) fn take_receiver(&self, channel_id: &str, key: &str) -> Option<ItemReceiver> {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::FutureExt;

    use super::*;

    fn chunk(len: usize) -> Item {
        Item::Binary(Bytes::from(vec![7u8; len]))
    }

    fn ends(table: &ChannelTable) -> (ItemSender, ItemReceiver) {
        let (writer, reader) = table.create(1024);
        let tx = table.take_sender(&writer.channel_id, &writer.access_key);
        let rx = table.take_receiver(&reader.channel_id, &reader.access_key);
        (tx.expect("writer"), rx.expect("reader"))
    }

    #[tokio::test]
    async fn a_channel_holds_its_byte_budget_and_its_writer_waits_past_it() {
        let table = ChannelTable::new(1000, 1 << 20);
        let (tx, mut rx) = ends(&table);
        for _ in 0..4 {
            let sent = tx.send(chunk(250)).now_or_never();
            assert!(matches!(sent, Some(Ok(()))), "within the budget");
        }
        // 1,000 bytes wait: one more byte must wait for the reader, though
        // the queue has room for 1,020 more items.
        assert!(
            tx.send(chunk(1)).now_or_never().is_none(),
            "over the budget"
        );
        let late = tokio::spawn(async move { tx.send(chunk(1)).await });
        assert_eq!(rx.recv().await.map(|i| i.len()), Some(250));
        let sent = tokio::time::timeout(Duration::from_secs(5), late).await;
        assert!(
            matches!(sent, Ok(Ok(Ok(())))),
            "sent once a reader took an item"
        );
    }

    #[tokio::test]
    async fn an_item_over_the_budget_goes_alone() {
        let table = ChannelTable::new(1000, 1 << 20);
        let (tx, mut rx) = ends(&table);
        let sent = tx.send(chunk(5000)).now_or_never();
        assert!(matches!(sent, Some(Ok(()))), "an empty channel takes it");
        assert!(
            tx.send(chunk(1)).now_or_never().is_none(),
            "nothing beside it"
        );
        assert_eq!(rx.recv().await.map(|i| i.len()), Some(5000));
        assert!(tx.send(chunk(1)).now_or_never().is_some(), "room again");
    }

    #[tokio::test]
    async fn all_channels_together_hold_at_most_the_total() {
        let table = ChannelTable::new(1000, 1500);
        let (a, mut a_rx) = ends(&table);
        let (b, _b_rx) = ends(&table);
        assert!(a.send(chunk(1000)).now_or_never().is_some());
        assert!(b.send(chunk(500)).now_or_never().is_some());
        // b is within its own budget, but the total is spent.
        assert!(
            b.send(chunk(1)).now_or_never().is_none(),
            "the total is spent"
        );
        a_rx.recv().await.expect("a's item");
        assert!(b.send(chunk(1)).now_or_never().is_some(), "a's bytes freed");
    }

    #[tokio::test]
    async fn a_channel_dropped_with_items_unread_gives_their_bytes_back() {
        let table = ChannelTable::new(1000, 1000);
        let (a, a_rx) = ends(&table);
        assert!(a.send(chunk(1000)).now_or_never().is_some());
        drop(a_rx);
        let (b, _b_rx) = ends(&table);
        assert!(b.send(chunk(1000)).now_or_never().is_some(), "freed");
    }
}
