//! One WebSocket connection to the engine, and the only code that touches
//! its socket.
//!
//! A [`Session`] is a cheap handle to one open connection. It sends frames
//! (never waiting: see [`outbound`] for how a frame is written by its
//! sender when the socket takes it at once, and by the writer task
//! otherwise, and why none is ever left behind), registers calls waiting
//! for their `invocationresult`, and pings. Three tasks serve it:
//!
//! - the **writer** ([`outbound::background`]) is the only code that waits
//!   on the socket's sink;
//! - the **reader** ([`inbound`]) owns the stream: it completes pending
//!   calls, counts pongs, answers pings, and hands every other frame to the
//!   worker's [`Inbound`] handler;
//! - the **keepalive** pings on a schedule and ends a silent session;
//! - the **watchdog** ([`deadlines`]) fails each call whose timeout passed.
//!
//! When the session ends, for whatever reason, the reader fails every call
//! still pending on it and the queue refuses new frames, so no call waits
//! on a dead socket and no frame is accepted that cannot go out.

mod deadlines;
mod frame;
mod inbound;
mod open;
mod outbound;
mod pending;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iii_protocol::{
    ErrorBody, IncomingInvoke, IncomingResult, Message, RegistrationRejected, ResultValue, Shape,
};
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot, watch};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

use crate::error::Error;
use crate::sync::lock;
pub(crate) use frame::{Frame, Rules};
pub(crate) use open::{OpenError, Settings, open};
use outbound::{Outbound, Sink};
use pending::{Admitted, PendingCalls};

/// A connection to the engine.
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// At most the first 200 characters of `text`, cut on a char boundary (for
/// logging frames).
fn preview(text: &str) -> &str {
    let end = text.char_indices().nth(200).map_or(text.len(), |(i, _)| i);
    &text[..end]
}

/// What the worker does with the frames a session does not handle itself.
pub(crate) trait Inbound: Send + Sync + 'static {
    /// Handles one frame that arrived on `session`. Returns `Some` when the
    /// session must end and the worker must not reconnect.
    fn on_message(&self, session: &Session, message: Message) -> Option<Fatal>;

    /// Handles an invocation of one of the worker's functions, the
    /// caller's id already read out of its payload.
    fn on_invoke(&self, session: &Session, invoke: IncomingInvoke) -> Option<Fatal>;
}

/// Why a session ended.
#[derive(Debug)]
pub(crate) enum End {
    /// The link broke or went silent; worth reconnecting.
    Lost(String),
    /// The engine refused the worker; never reconnect.
    Fatal(Fatal),
}

/// A reason never to reconnect.
#[derive(Debug, Clone)]
pub(crate) enum Fatal {
    /// `registrationrejected` with a worker-level code.
    Rejected(RegistrationRejected),
    /// `{"type":"error"}`: the engine refused the connection.
    Refused(ErrorBody),
}

impl Fatal {
    pub(crate) fn to_error(&self, url: &str) -> Error {
        match self {
            Fatal::Rejected(r) => Error::Rejected(r.clone()),
            Fatal::Refused(body) => Error::Refused {
                url: url.to_string(),
                body: body.clone(),
            },
        }
    }
}

/// A frame the session did not take: it has ended or is closing. The
/// frame is handed back.
#[derive(Debug)]
pub(crate) struct Closed(pub(crate) Frame);

/// Why a call waiting on a session got no value.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The callee (or the engine) answered with an error.
    Remote(ErrorBody),
    /// No answer came within the call's timeout.
    TimedOut,
    /// The connection dropped first.
    Lost,
    /// The worker shut down first.
    Shutdown,
    /// The engine refused the worker for good.
    Fatal(Fatal),
}

/// The outcome a pending call receives: its value (`None`: no value), in
/// the [`Shape`] the call asked for.
pub(crate) type Outcome = Result<Option<ResultValue>, Failure>;

/// Why [`Session::await_pongs`] stopped short of its target.
#[derive(Debug)]
pub(crate) enum PongWait {
    /// The session ended first.
    Lost,
    /// No answer for the whole wait; `seen` pongs had arrived.
    Stalled { seen: u64 },
}

/// A handle to one open connection. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Session {
    shared: Arc<Shared>,
}

struct Shared {
    /// The queue of frames and the socket's sink.
    outbound: Outbound,
    /// Calls waiting for their result on this session.
    pending: Mutex<PendingCalls>,
    /// Tells the watchdog a call came with a deadline earlier than its
    /// next wake-up.
    rearm: Notify,
    /// Pings sent so far; locked while a ping is queued, so numbers follow
    /// queue order.
    pings: Mutex<u64>,
    /// Pongs received so far (the engine answers pings in order).
    pongs: watch::Sender<u64>,
    /// Set once, with the reason, when the session is killed (the socket
    /// broke or went silent, the worker closed it, or it was abandoned);
    /// the socket is released soon after.
    dead: watch::Sender<Option<String>>,
    /// Set once the worker is announced on this session.
    ready: watch::Sender<bool>,
    /// The rules its own frames (pongs, refusals) are encoded by.
    rules: Rules,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("open", &self.is_open())
            .finish_non_exhaustive()
    }
}

impl Session {
    fn new(sink: Sink, rules: Rules) -> Session {
        Session {
            shared: Arc::new(Shared {
                outbound: Outbound::new(sink),
                pending: Mutex::new(PendingCalls::default()),
                rearm: Notify::new(),
                pings: Mutex::new(0),
                pongs: watch::channel(0).0,
                dead: watch::channel(None).0,
                ready: watch::channel(false).0,
                rules,
            }),
        }
    }

    /// Whether both handles are to the same session.
    pub(crate) fn same(&self, other: &Session) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Whether the session still takes frames.
    pub(crate) fn is_open(&self) -> bool {
        !self.shared.outbound.is_closed() && self.shared.dead.borrow().is_none()
    }

    /// The rules of the frames sent on this session.
    pub(crate) fn rules(&self) -> Rules {
        self.shared.rules
    }

    /// Queues a frame and writes it from this task if the socket takes it
    /// at once (else the session's writer task does). Never waits. Frames
    /// go out in the order they were queued.
    pub(crate) fn send(&self, frame: Frame) -> Result<(), Closed> {
        self.shared.outbound.push_frame(frame).map_err(Closed)?;
        self.write();
        Ok(())
    }

    /// Writes what is queued without waiting; a socket that fails ends the
    /// session (the frame's fate is then that of every queued frame).
    /// While this session's reader handles a frame on this thread, it is
    /// left to the reader, which writes everything its burst queued at once
    /// (`crate::burst`).
    fn write(&self) {
        if crate::burst::leave_to_reader(self.key()) {
            return;
        }
        let outbound = &self.shared.outbound;
        let Some(now) = outbound.free_at() else {
            // Frames are flowing: the background writer sends this one
            // with the others queued meanwhile.
            outbound.wake();
            return;
        };
        if let Err(e) = outbound.try_drive(now) {
            self.kill(format!("writing to the engine failed: {e}"));
        }
    }

    /// This session's identity among the readers sharing a thread.
    fn key(&self) -> usize {
        Arc::as_ptr(&self.shared).addr()
    }

    /// Registers a call waiting for `invocation_id`, then sends its frame.
    /// The receiver gets the result, the failure that ended the session,
    /// or [`Failure::TimedOut`] once `timeout` has passed without either.
    /// The result's value comes in `shape`.
    pub(crate) fn call(
        &self,
        invocation_id: Uuid,
        frame: Frame,
        timeout: Duration,
        shape: Shape,
    ) -> Result<oneshot::Receiver<Outcome>, Closed> {
        let (reply, answer) = oneshot::channel();
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        let admitted = lock(&self.shared.pending).insert(invocation_id, reply, deadline, shape);
        match admitted {
            Admitted::Refused => return Err(Closed(frame)),
            Admitted::Waiting { rearm: true } => self.shared.rearm.notify_one(),
            Admitted::Waiting { rearm: false } => {}
        }
        if let Err(e) = self.send(frame) {
            lock(&self.shared.pending).remove(&invocation_id);
            return Err(e);
        }
        Ok(answer)
    }

    /// Stops waiting for `invocation_id` (its caller timed out or gave up).
    pub(crate) fn forget(&self, invocation_id: &Uuid) {
        lock(&self.shared.pending).remove(invocation_id);
    }

    /// The shape in which the call waiting for `invocation_id` wants its
    /// result's value (text if none waits: nothing is built for a stray).
    fn shape_of(&self, invocation_id: &Uuid) -> Shape {
        lock(&self.shared.pending)
            .shape(invocation_id)
            .unwrap_or(Shape::Text)
    }

    /// Hands a result to the call waiting for it, if any.
    fn complete(&self, result: IncomingResult) {
        let waiting = lock(&self.shared.pending).remove(&result.invocation_id);
        match waiting {
            Some(reply) => {
                let _ = reply.send(result.into_outcome().map_err(Failure::Remote));
            }
            // Timed out or cancelled already; the engine also ignores strays.
            None => tracing::debug!(
                invocation_id = %result.invocation_id,
                "result for a call nobody waits for"
            ),
        }
    }

    /// Fails every pending call with what `make` builds, and refuses new
    /// ones.
    pub(crate) fn fail_pending(&self, make: impl Fn() -> Failure) {
        let drained = lock(&self.shared.pending).close();
        for reply in drained {
            let _ = reply.send(Err(make()));
        }
    }

    /// Sends a ping and returns its number: the pong count that proves the
    /// engine has read everything queued before it.
    pub(crate) fn ping(&self) -> Result<u64, Closed> {
        let mut pings = lock(&self.shared.pings);
        self.send(Frame::ping())?;
        *pings += 1;
        Ok(*pings)
    }

    /// Waits until `target` pongs have arrived, as long as the engine keeps
    /// answering: every pong is progress (it answers pings in order) and
    /// restarts `stall`, so only `stall` without any answer gives up. An
    /// engine that takes seconds over many bindings, a ping after every
    /// few, is waited for; a silent one is not.
    pub(crate) async fn await_pongs(&self, target: u64, stall: Duration) -> Result<(), PongWait> {
        let mut seen = *self.shared.pongs.borrow();
        while seen < target {
            match tokio::time::timeout(stall, self.pong_after(seen)).await {
                Ok(Some(pongs)) => seen = pongs,
                Ok(None) => return Err(PongWait::Lost),
                Err(_) => return Err(PongWait::Stalled { seen }),
            }
        }
        Ok(())
    }

    /// Waits for a pong past the first `seen`, and returns how many have
    /// arrived; `None` if the session ended first.
    async fn pong_after(&self, seen: u64) -> Option<u64> {
        let mut pongs = self.shared.pongs.subscribe();
        let mut dead = self.shared.dead.subscribe();
        tokio::select! {
            reached = pongs.wait_for(|n| *n > seen) => reached.ok().map(|n| *n),
            _ = dead.wait_for(Option::is_some) => {
                Some(*self.shared.pongs.borrow()).filter(|n| *n > seen)
            }
        }
    }

    /// Closes the session gracefully: the writer sends every frame queued
    /// before this call, then a Close frame. New frames are refused.
    pub(crate) fn close(&self) {
        if self.shared.outbound.push_close() {
            self.shared.outbound.wake();
        }
    }

    /// Ends the session at once (the socket is broken or silent): no frame
    /// is taken from now on, those still queued are dropped, the reader
    /// fails the calls still pending, and the socket is released.
    pub(crate) fn kill(&self, reason: impl Into<String>) {
        let reason = reason.into();
        let first = self.shared.dead.send_if_modified(|dead| {
            if dead.is_none() {
                *dead = Some(reason.clone());
                true
            } else {
                false
            }
        });
        if first {
            self.shared.outbound.refuse_rest(&reason);
        }
    }

    /// Marks the session announced: the engine has applied everything sent
    /// before `engine::workers::register` (it holds registrations until then).
    pub(crate) fn mark_ready(&self) {
        self.shared.ready.send_replace(true);
    }

    /// Waits until the session is announced; `false` if it died first.
    pub(crate) async fn ready(&self) -> bool {
        let mut ready = self.shared.ready.subscribe();
        let mut death = self.death();
        tokio::select! {
            reached = ready.wait_for(|r| *r) => reached.is_ok(),
            _ = dead(&mut death) => *self.shared.ready.borrow(),
        }
    }

    /// A receiver to wait on with [`dead`].
    fn death(&self) -> watch::Receiver<Option<String>> {
        self.shared.dead.subscribe()
    }
}

/// Resolves once the session is dead, with the reason. Cancel safe.
async fn dead(death: &mut watch::Receiver<Option<String>>) -> String {
    match death.wait_for(Option::is_some).await {
        Ok(reason) => reason.clone().unwrap_or_default(),
        Err(_) => "the session was dropped".into(),
    }
}

/// Keepalive settings of a session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keepalive {
    /// How often to ping.
    pub(crate) interval: Duration,
    /// How long without any frame before the link counts as dead.
    pub(crate) idle_timeout: Duration,
}

#[cfg(test)]
mod tests;
