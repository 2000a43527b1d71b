//! The session's outbound side: a queue of frames, and the two ways of
//! writing it, which share one lock on the socket's sink.
//!
//! - [`Outbound::try_drive`] runs in the task that sent a frame. It writes
//!   what is queued **without waiting**: if the lock is taken, or the socket
//!   cannot take everything at once, it gives up at once. So a call or an
//!   answer costs no hop through another task when the socket is free (one
//!   thread wake-up per frame is tens of microseconds on a small machine),
//!   and a sender never holds the sink while it waits for anything.
//! - Under load the sender does not write: when the socket was flushed
//!   less than [`BUSY`] ago, it queues its frame and wakes the background
//!   writer, which first lets the tasks that are ready run, then writes
//!   every frame they queued with one flush. On a 2-core machine against
//!   the real engine, with 64 calls in flight, that took the workers' CPU
//!   per call from 19.5-21.0 us to 16.0-17.5 us (one write system call on
//!   loopback costs several microseconds, and most of a call's CPU was
//!   there). A lone call still goes out from its own task.
//! - Frames sent while the session's reader handles a frame on the same
//!   thread (the answers of invocations it runs in place) are only queued:
//!   the reader drives the queue as a sender does when it is about to wait
//!   for the socket, so a burst of answers costs one write and no wake-up
//!   of the writer task (`crate::burst`). Against the real engine, with 64
//!   calls in flight, that took the SDK pair from 39,670 to 38,970
//!   instructions per call.
//! - [`background`] is the session's writer task. It is the only code that
//!   waits on the socket (for room to write, to flush, to close). It is a
//!   task of its own, so it is always polled: a sender that stops being
//!   polled (a caller's future parked in a `select!`) can never hold the
//!   sink and stall the others.
//!
//! The invariant that keeps every frame moving: **whoever holds the sink
//! looks at the queue after releasing it**: a sender wakes the background
//! writer if anything is left, and the writer drives again. A sender that
//! finds the sink taken returns at once: the holder was holding it at that
//! moment, so its look at the queue comes after the push. (The only holds
//! that end without that look are a failed write, which kills the session,
//! and a written Close frame: either way the queue takes no more frames.)
//!
//! A frame leaves the queue only in the same poll that hands it to the sink,
//! so abandoning a write (a sender giving up, or the writer dropped when the
//! session dies) never loses a frame that was not yet in the sink.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::{self, Message as Frame};

use super::{Session, Socket, dead};
use crate::sync::lock;

/// What the writer is asked to do, in order.
#[derive(Debug)]
pub(super) enum Out {
    /// Write this frame.
    Frame(super::Frame),
    /// Write everything queued before, then a Close frame, then stop.
    Close,
}

pub(super) type Sink = SplitSink<Socket, Frame>;

/// Frames written before a flush when more keep arriving, so a long burst
/// does not hold back the first frames' flush.
const BATCH: usize = 256;

/// A socket flushed less than this long ago is busy: frames sent now are
/// coalesced by the background writer instead of written one by one. A
/// write on loopback costs a system call and the TCP stack's work, several
/// microseconds; under load many frames share it, while a lone call (the
/// previous frame a round trip ago) still goes out from its own task, with
/// no hop.
pub(super) const BUSY: Duration = Duration::from_micros(50);

/// The instant [`Outbound::flushed_at`] counts from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Whether a socket last flushed at `flushed` (0: never) is busy at `now`,
/// both in microseconds since [`epoch`].
pub(super) fn busy(flushed: u64, now: u64) -> bool {
    flushed != 0 && now.saturating_sub(flushed) < BUSY.as_micros() as u64
}

fn now_us() -> u64 {
    u64::try_from(epoch().elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// The queue and the sink of one session.
pub(super) struct Outbound {
    queue: Mutex<Queue>,
    /// `None` once the session closed or died: the socket is released.
    sink: tokio::sync::Mutex<Option<Sink>>,
    /// Wakes the background writer.
    wake: Notify,
    /// When the socket was last flushed, in microseconds since [`epoch`]
    /// (by a sender: when it found the socket free, just before writing,
    /// which saves a second clock read per frame): a sender that comes
    /// within [`BUSY`] of it leaves its frame to the background writer,
    /// which flushes every frame queued meanwhile in one write.
    flushed_at: AtomicU64,
    /// Tests widen the race this module is about: a sender keeps the sink
    /// this many microseconds after writing, before it releases it.
    #[cfg(test)]
    pub(super) hold_after_write_us: std::sync::atomic::AtomicU64,
    /// Tests count the socket's flushes: one per write.
    #[cfg(test)]
    pub(super) flushes: AtomicU64,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Out>,
    /// No more frames are taken: the session is closing or dead.
    closed: bool,
}

/// Who is writing: a sender (never waits; it read the clock at `.0`
/// before writing) or the background writer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writer {
    Sender(u64),
    Background,
}

/// How a round of writing ended.
enum Flow {
    /// The queue was empty when the round ended.
    Idle,
    /// Work is left for the background writer: frames still queued (a
    /// batch was full, or a Close is left for it), or a socket that could
    /// not take everything at once.
    More,
    /// The Close frame went out, or the sink was already released.
    Closed,
}

impl Outbound {
    pub(super) fn new(sink: Sink) -> Outbound {
        Outbound {
            queue: Mutex::new(Queue::default()),
            sink: tokio::sync::Mutex::new(Some(sink)),
            wake: Notify::new(),
            flushed_at: AtomicU64::new(0),
            #[cfg(test)]
            hold_after_write_us: std::sync::atomic::AtomicU64::new(0),
            #[cfg(test)]
            flushes: AtomicU64::new(0),
        }
    }

    /// Queues `frame`; hands it back if the session takes no more frames.
    pub(super) fn push_frame(&self, frame: super::Frame) -> Result<(), super::Frame> {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return Err(frame);
        }
        queue.items.push_back(Out::Frame(frame));
        Ok(())
    }

    /// Queues the Close, once: frames pushed later are refused. `false`
    /// if the session took no more.
    pub(super) fn push_close(&self) -> bool {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return false;
        }
        queue.closed = true;
        queue.items.push_back(Out::Close);
        true
    }

    /// How many frames and Closes wait in the queue.
    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        lock(&self.queue).items.len()
    }

    /// Whether the queue still takes frames.
    pub(super) fn is_closed(&self) -> bool {
        lock(&self.queue).closed
    }

    /// `None` if the socket was flushed within [`BUSY`]: a frame sent now
    /// is better left to the background writer, with the others coming.
    /// Otherwise the time read, for [`Outbound::try_drive`].
    pub(super) fn free_at(&self) -> Option<u64> {
        let now = now_us();
        (!busy(self.flushed_at.load(Ordering::Relaxed), now)).then_some(now)
    }

    /// Asks the background writer to drive the queue.
    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Takes no more frames and drops those queued (the socket is gone),
    /// saying how many could not go out. Calls among them are failed by the
    /// reader; answers and registrations are the engine's and the next
    /// session's to redo.
    pub(super) fn refuse_rest(&self, reason: &str) {
        let unsent = {
            let mut queue = lock(&self.queue);
            queue.closed = true;
            queue
                .items
                .drain(..)
                .filter(|out| matches!(out, Out::Frame(_)))
                .count()
        };
        if unsent > 0 {
            tracing::warn!(
                unsent,
                "frames queued for the engine were not sent: {reason}"
            );
        }
    }

    /// Writes what is queued from the calling task without waiting for
    /// anything; whatever it cannot finish at once goes to the background
    /// writer. `Err` if the socket failed. `now` is what
    /// [`Outbound::free_at`] read.
    pub(super) fn try_drive(&self, now: u64) -> Result<(), tungstenite::Error> {
        let Ok(mut sink) = self.sink.try_lock() else {
            // The holder looks at the queue after releasing the sink.
            return Ok(());
        };
        let flow = match sink.as_mut() {
            None => return Ok(()),
            Some(sink) => {
                let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
                match pin!(self.write_queued(sink, Writer::Sender(now))).poll(&mut cx) {
                    Poll::Ready(result) => result?,
                    // The socket is full or busy: the rest is the writer's.
                    Poll::Pending => Flow::More,
                }
            }
        };
        #[cfg(test)]
        {
            let us = self
                .hold_after_write_us
                .load(std::sync::atomic::Ordering::Relaxed);
            if us > 0 {
                std::thread::sleep(std::time::Duration::from_micros(us));
            }
        }
        drop(sink);
        if matches!(flow, Flow::More) || !lock(&self.queue).items.is_empty() {
            self.wake();
        }
        Ok(())
    }

    /// Writes until the queue is empty, waiting for the socket as needed.
    /// Only the background writer calls it.
    async fn drive(&self) -> Result<Flow, tungstenite::Error> {
        loop {
            let mut sink = self.sink.lock().await;
            let Some(open) = sink.as_mut() else {
                return Ok(Flow::Closed);
            };
            let flow = self.write_queued(open, Writer::Background).await?;
            if matches!(flow, Flow::Closed) {
                *sink = None;
                return Ok(Flow::Closed);
            }
            drop(sink);
            if lock(&self.queue).items.is_empty() {
                return Ok(Flow::Idle);
            }
        }
    }

    /// Writes queued frames (up to [`BATCH`]), then flushes. A frame is
    /// taken off the queue only once the sink is ready for it. A sender
    /// leaves a Close for the background writer.
    async fn write_queued(
        &self,
        sink: &mut Sink,
        writer: Writer,
    ) -> Result<Flow, tungstenite::Error> {
        let mut flow = Flow::Idle;
        for _ in 0..BATCH {
            poll_fn(|cx| sink.poll_ready_unpin(cx)).await?;
            let out = {
                let mut queue = lock(&self.queue);
                match queue.items.front() {
                    None => break,
                    Some(Out::Close) if writer != Writer::Background => {
                        flow = Flow::More;
                        break;
                    }
                    Some(_) => queue.items.pop_front(),
                }
            };
            match out {
                Some(Out::Frame(frame)) => sink.start_send_unpin(Frame::text(frame.into_text()))?,
                Some(Out::Close) => {
                    sink.send(Frame::Close(None)).await?;
                    sink.close().await?;
                    return Ok(Flow::Closed);
                }
                None => break,
            }
        }
        poll_fn(|cx| sink.poll_flush_unpin(cx)).await?;
        #[cfg(test)]
        self.flushes.fetch_add(1, Ordering::Relaxed);
        let flushed = match writer {
            Writer::Sender(began) => began,
            Writer::Background => now_us(),
        };
        self.flushed_at.store(flushed.max(1), Ordering::Relaxed);
        if matches!(flow, Flow::Idle) && !lock(&self.queue).items.is_empty() {
            flow = Flow::More;
        }
        Ok(flow)
    }
}

/// The session's writer task: drives the queue whenever a sender leaves
/// work, until the session closes or dies; then releases the socket.
pub(super) async fn background(session: Session) {
    let outbound = &session.shared.outbound;
    let mut death = session.death();
    // One wait for the session's end for the task's life, not one per round.
    let mut dying = std::pin::pin!(dead(&mut death));
    let reason = loop {
        tokio::select! {
            biased;
            reason = &mut dying => break reason,
            _ = outbound.wake.notified() => {}
        }
        // Let the tasks that are ready run first: the frames they send now
        // go out in this round's one write.
        tokio::task::yield_now().await;
        let written = tokio::select! {
            biased;
            reason = &mut dying => break reason,
            written = outbound.drive() => written,
        };
        match written {
            Ok(Flow::Idle | Flow::More) => {}
            Ok(Flow::Closed) => {
                session.kill("the worker closed the connection");
            }
            Err(e) => session.kill(format!("writing to the engine failed: {e}")),
        }
    };
    outbound.refuse_rest(&reason);
    // The socket closes once the reader's half is gone too.
    *outbound.sink.lock().await = None;
}
