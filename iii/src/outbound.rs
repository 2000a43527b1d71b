//! The outbound side of a session: a queue of frames and the socket's sink.
//!
//! A task that sends a frame and can await writes it itself when the sink is
//! free, so a call costs no hop through a writer task; when another task is
//! writing, that task writes the queued frame too (combining). Frames pushed
//! from synchronous code wake the session's background writer instead.
//!
//! Cancel safety: a frame leaves the queue only once the sink is ready to
//! take it, and a writer dropped mid-flush wakes the background writer, so no
//! accepted frame is lost or left unflushed.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::worker::lock;

pub(crate) type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Frame>;

pub(crate) struct Outbound {
    queue: Mutex<VecDeque<String>>,
    sink: tokio::sync::Mutex<Sink>,
    /// No more frames are accepted (the session is detaching or failed).
    closed: AtomicBool,
    /// Wakes the background writer.
    wake: Notify,
    /// Ends the session's reader when the socket cannot be written.
    kill: Arc<Notify>,
}

/// The session no longer accepts frames; the refused frame is handed back.
#[derive(Debug)]
pub(crate) struct Closed(pub(crate) String);

impl Outbound {
    pub(crate) fn new(sink: Sink, kill: Arc<Notify>) -> Arc<Self> {
        Arc::new(Outbound {
            queue: Mutex::new(VecDeque::new()),
            sink: tokio::sync::Mutex::new(sink),
            closed: AtomicBool::new(false),
            wake: Notify::new(),
            kill,
        })
    }

    /// Queues a frame; the caller then awaits [`Outbound::write`].
    pub(crate) fn push(&self, frame: String) -> Result<(), Closed> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Closed(frame));
        }
        lock(&self.queue).push_back(frame);
        Ok(())
    }

    /// Queues a frame for the background writer (for synchronous callers).
    pub(crate) fn send(&self, frame: String) -> Result<(), Closed> {
        self.push(frame)?;
        self.wake.notify_one();
        Ok(())
    }

    /// Stops accepting frames; the background writer flushes what is queued
    /// and sends a Close frame.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Writes every queued frame from this task, unless another task holds
    /// the sink (it then writes them).
    pub(crate) async fn write(&self) {
        loop {
            let Ok(mut sink) = self.sink.try_lock() else {
                return;
            };
            let mut guard = Unflushed(self, true);
            if let Err(e) = self.drain(&mut sink).await {
                tracing::debug!("writing to the engine failed: {e}");
                self.fail();
            }
            guard.1 = false;
            drop(sink);
            // A frame pushed while we held the sink, after our last look,
            // may have found the sink busy: look again.
            if lock(&self.queue).is_empty() {
                return;
            }
        }
    }

    async fn drain(&self, sink: &mut Sink) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        loop {
            poll_fn(|cx| sink.poll_ready_unpin(cx)).await?;
            let Some(frame) = lock(&self.queue).pop_front() else {
                break;
            };
            sink.start_send_unpin(Frame::text(frame))?;
        }
        poll_fn(|cx| sink.poll_flush_unpin(cx)).await
    }

    fn fail(&self) {
        self.closed.store(true, Ordering::Release);
        lock(&self.queue).clear();
        self.kill.notify_one();
    }

    /// The session's background writer: writes frames pushed by synchronous
    /// code, then closes the socket once the session detaches.
    pub(crate) async fn background(self: Arc<Self>) {
        loop {
            self.wake.notified().await;
            if self.closed.load(Ordering::Acquire) {
                let mut sink = self.sink.lock().await;
                let _ = self.drain(&mut sink).await;
                let _ = sink.send(Frame::Close(None)).await;
                let _ = sink.close().await;
                self.kill.notify_one();
                return;
            }
            self.write_or_wait().await;
        }
    }

    /// Like [`Outbound::write`] but waits for the sink rather than trusting
    /// the holder, so frames pushed by synchronous code always go out.
    async fn write_or_wait(&self) {
        let mut sink = self.sink.lock().await;
        if let Err(e) = self.drain(&mut sink).await {
            tracing::debug!("writing to the engine failed: {e}");
            self.fail();
        }
    }
}

/// Wakes the background writer if a write is dropped before it flushed.
struct Unflushed<'a>(&'a Outbound, bool);

impl Drop for Unflushed<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0.wake.notify_one();
        }
    }
}
