//! The session's outbound side: a queue of frames and the one function that
//! writes them.
//!
//! Every frame is pushed onto the queue, then [`Outbound::drive`] writes
//! queued frames in order. `drive` is the only code that touches the
//! socket's sink, and it runs in two kinds of task:
//!
//! - a task that sent a frame and can await drives the queue itself, so a
//!   call or an answer costs no hop through another task (one thread
//!   wake-up per frame, tens of microseconds on a small machine);
//! - the session's background writer drives it for frames pushed from
//!   synchronous code (registrations, pongs, keepalive pings).
//!
//! The invariant that keeps every frame moving: **whoever holds the sink
//! looks at the queue again after releasing it.** A pusher that finds the
//! sink taken returns at once; the holder was holding it at that moment,
//! so its release, and the look after it, come after the push: it either
//! wrote the frame already or sees it and drives again. Frames that are
//! ready together go out in one flush.
//!
//! Cancellation: a frame leaves the queue only when the sink is ready to
//! take it, in the same poll; and a drive dropped while it held the sink
//! (its caller timed out) wakes the background writer, after the sink is
//! released, to finish the job. So no accepted frame is lost or left
//! unflushed.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Mutex;

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
    Frame(String),
    /// Write everything queued before, then a Close frame, then stop.
    Close,
}

pub(super) type Sink = SplitSink<Socket, Frame>;

/// Frames written before a flush when more keep arriving, so a long burst
/// does not hold back the first frames' flush.
const BATCH: usize = 256;

/// The queue and the sink of one session.
pub(super) struct Outbound {
    queue: Mutex<Queue>,
    /// `None` once a Close frame went out.
    sink: tokio::sync::Mutex<Option<Sink>>,
    /// Wakes the background writer.
    wake: Notify,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Out>,
    /// No more frames are taken: the session closed or died.
    closed: bool,
}

/// A drive in progress: if it is dropped before it finished, the
/// background writer takes over.
struct Handover<'a> {
    outbound: &'a Outbound,
    armed: bool,
}

impl Drop for Handover<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.outbound.wake.notify_one();
        }
    }
}

impl Outbound {
    pub(super) fn new(sink: Sink) -> Outbound {
        Outbound {
            queue: Mutex::new(Queue::default()),
            sink: tokio::sync::Mutex::new(Some(sink)),
            wake: Notify::new(),
        }
    }

    /// Queues `out`; hands it back if the session takes no more frames.
    /// The caller then drives the queue or wakes the background writer.
    pub(super) fn push(&self, out: Out) -> Result<(), Out> {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return Err(out);
        }
        if matches!(out, Out::Close) {
            queue.closed = true;
        }
        queue.items.push_back(out);
        Ok(())
    }

    /// Whether the queue takes frames.
    pub(super) fn is_closed(&self) -> bool {
        lock(&self.queue).closed
    }

    /// Asks the background writer to drive the queue.
    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Writes every queued frame from this task, unless another task holds
    /// the sink (it then writes them: see the module docs).
    pub(super) async fn drive(&self, session: &Session) {
        loop {
            // Declared before the sink guard, so on cancellation the sink is
            // released before the background writer is woken.
            let mut handover = Handover {
                outbound: self,
                armed: true,
            };
            let Ok(mut sink) = self.sink.try_lock() else {
                handover.armed = false;
                return;
            };
            let written = match sink.as_mut() {
                Some(sink) => self.write_queued(sink).await,
                None => Ok(Flow::Closed),
            };
            if matches!(written, Ok(Flow::Closed)) {
                *sink = None;
            }
            handover.armed = false;
            drop(sink);
            match written {
                Ok(Flow::More) => {}
                Ok(Flow::Closed) => {
                    session.kill("the worker closed the connection");
                    return;
                }
                Err(e) => {
                    let reason = format!("writing to the engine failed: {e}");
                    session.kill(reason.clone());
                    self.refuse_rest(&reason);
                    return;
                }
            }
            if lock(&self.queue).items.is_empty() {
                return;
            }
        }
    }

    /// Writes queued frames (up to [`BATCH`]), then flushes. A frame is
    /// taken off the queue only once the sink is ready for it.
    async fn write_queued(&self, sink: &mut Sink) -> Result<Flow, tungstenite::Error> {
        for _ in 0..BATCH {
            poll_fn(|cx| sink.poll_ready_unpin(cx)).await?;
            let Some(out) = lock(&self.queue).items.pop_front() else {
                break;
            };
            match out {
                Out::Frame(text) => sink.start_send_unpin(Frame::text(text))?,
                Out::Close => {
                    sink.send(Frame::Close(None)).await?;
                    sink.close().await?;
                    return Ok(Flow::Closed);
                }
            }
        }
        poll_fn(|cx| sink.poll_flush_unpin(cx)).await?;
        Ok(Flow::More)
    }

    /// Refuses new frames once the socket is gone, and says how many queued
    /// ones cannot go out. (Calls among them are failed by the reader;
    /// answers and registrations are the engine's and the next session's to
    /// redo.)
    fn refuse_rest(&self, reason: &str) {
        let unsent = {
            let mut queue = lock(&self.queue);
            queue.closed = true;
            let unsent = queue
                .items
                .iter()
                .filter(|out| matches!(out, Out::Frame(_)))
                .count();
            queue.items.clear();
            unsent
        };
        if unsent > 0 {
            tracing::warn!(
                unsent,
                "frames queued for the engine were not sent: {reason}"
            );
        }
    }
}

enum Flow {
    More,
    Closed,
}

/// The session's background writer: drives the queue for synchronous
/// pushers and for drives that were dropped, until the session dies.
pub(super) async fn background(session: Session) {
    let outbound = &session.shared.outbound;
    let mut death = session.death();
    loop {
        tokio::select! {
            biased;
            reason = dead(&mut death) => {
                outbound.refuse_rest(&reason);
                return;
            }
            _ = outbound.wake.notified() => outbound.drive(&session).await,
        }
    }
}
