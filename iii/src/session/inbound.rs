//! The session's reader and keepalive.
//!
//! The reader owns the socket's stream. It handles what belongs to the
//! session itself (results of calls made on it, pings and pongs, the
//! engine's refusal) and hands every other frame to the worker. When the
//! session ends it fails every call still pending, so none is left waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::SplitStream;
use futures_util::{FutureExt, StreamExt};
use iii_protocol::{Incoming, Message};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::{End, Failure, Fatal, Frame, Inbound, Keepalive, Session, Socket, dead, preview};
use crate::burst::Burst;

/// Reads frames until the session ends, then tears it down.
pub(super) async fn read_loop(
    mut stream: SplitStream<Socket>,
    session: Session,
    handler: Arc<dyn Inbound>,
    keepalive: Keepalive,
) -> End {
    let seen = Arc::new(LastSeen::new());
    let pinger = tokio::spawn(keep_alive(session.clone(), seen.clone(), keepalive));
    // Whatever ends this task, a panic included, ends the session.
    let mut teardown = Teardown(Some(session.clone()));
    let mut death = session.death();
    // One wait for the session's end across the loop: made afresh at each
    // wait for the socket, it cost a call about 600 instructions.
    let mut dying = std::pin::pin!(dead(&mut death));
    // Since the reader last waited for the socket: the time spent on
    // invocations' first steps in place (`dispatch::first_step`), and the
    // frames its handlers sent, which it writes (`crate::burst`).
    let mut burst = Burst::default();
    // Frames read without waiting since the last time stamp.
    let mut unstamped = 0u32;
    let end = loop {
        // A frame already here continues the burst; waiting ends it.
        let frame = match stream.next().now_or_never() {
            Some(frame) => match session.shared.dead.borrow().clone() {
                Some(reason) => break End::Lost(reason),
                None => frame,
            },
            None => {
                if burst.pause() {
                    session.write();
                }
                unstamped = STAMP_EVERY;
                tokio::select! {
                    biased;
                    reason = &mut dying => break End::Lost(reason),
                    frame = stream.next() => frame,
                }
            }
        };
        // A frame that came after a wait is stamped. Frames already here
        // came after the last stamp, which is at most STAMP_EVERY frames'
        // work old, so only one in STAMP_EVERY is: a clock read for every
        // frame cost a call about 280 instructions of its 40,000.
        unstamped += 1;
        if unstamped > STAMP_EVERY {
            seen.now();
            unstamped = 0;
        }
        let frame = match frame {
            None => break End::Lost("the engine closed the connection".into()),
            Some(Err(e)) => break End::Lost(e.to_string()),
            Some(Ok(frame)) => frame,
        };
        let text = match &frame {
            WsMessage::Text(text) => text.as_str(),
            // The engine reads JSON in binary frames too; so do we.
            WsMessage::Binary(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => continue,
            },
            WsMessage::Close(_) => break End::Lost("the engine closed the connection".into()),
            _ => continue,
        };
        let handled = crate::burst::lend(&mut burst, session.key(), || {
            handle(&session, handler.as_ref(), text)
        });
        if let Some(fatal) = handled {
            break End::Fatal(fatal);
        }
        if burst.frame_done() {
            session.write();
        }
    };
    pinger.abort();
    let reason = match &end {
        End::Lost(reason) => reason.clone(),
        End::Fatal(fatal) => format!("the engine refused the worker: {fatal:?}"),
    };
    session.kill(reason);
    session.fail_pending(|| match &end {
        End::Lost(_) => Failure::Lost,
        End::Fatal(fatal) => Failure::Fatal(fatal.clone()),
    });
    teardown.0 = None;
    end
}

/// Ends the session if the reader stops without doing so itself (a panic
/// in a frame handler), so no call is left on a socket nobody reads.
struct Teardown(Option<Session>);

impl Drop for Teardown {
    fn drop(&mut self) {
        if let Some(session) = self.0.take() {
            session.kill("the session's reader stopped");
            session.fail_pending(|| Failure::Lost);
        }
    }
}

/// Handles one text frame. `Some` ends the session for good.
fn handle(session: &Session, handler: &dyn Inbound, text: &str) -> Option<Fatal> {
    // A result's value is read as its caller asks: a caller of its own
    // type decodes it from the text, in its own task.
    let message = match iii_protocol::decode_incoming(text, |id| session.shape_of(id)) {
        Ok(Incoming::Result(result)) => {
            session.complete(result);
            return None;
        }
        Ok(Incoming::Invoke(invoke)) => return handler.on_invoke(session, invoke),
        Ok(Incoming::Message(message)) => message,
        Err(e) => {
            undecodable(session, text, &e);
            return None;
        }
    };
    match message {
        Message::InvocationResult(result) => session.complete(result.into()),
        Message::Pong => {
            session.shared.pongs.send_modify(|n| *n += 1);
        }
        Message::Ping => {
            let _ = session.send(Frame::pong());
        }
        Message::Error(refused) => return Some(Fatal::Refused(refused.error)),
        other => return handler.on_message(session, other),
    }
    None
}

/// A frame that does not decode: if it is an invocation, its caller gets
/// an error (nothing ran); if it is the result of a call of ours, that call
/// fails with the reason; anything else is dropped with a warning.
fn undecodable(session: &Session, text: &str, error: &serde_json::Error) {
    use iii_protocol::salvage::{Refusal, refusal};
    if text.trim().is_empty() {
        return;
    }
    match refusal(text, error) {
        Some(Refusal::Invocation(reply)) => {
            let (id, function_id) = (reply.invocation_id, reply.function_id.clone());
            tracing::warn!(
                %id,
                function_id,
                "refusing an invocation that does not decode: {}",
                iii_protocol::salvage::reason(error)
            );
            let what = || format!("the refusal of `{function_id}`");
            let sent = session
                .rules()
                .encode(&Message::InvocationResult(reply), what)
                .map_err(|e| e.to_string())
                .and_then(|frame| {
                    session
                        .send(frame)
                        .map_err(|_| "the connection is closing".to_string())
                });
            if let Err(why) = sent {
                tracing::warn!(%id, function_id, "could not send the refusal ({why}); the caller waits for its timeout");
            }
        }
        Some(Refusal::Result(failed)) => session.complete(failed.into()),
        None => tracing::warn!(
            "dropping a frame the SDK does not understand ({}): {}",
            iii_protocol::salvage::reason(error),
            preview(text)
        ),
    }
}

/// How many frames read without waiting may share one time stamp of
/// [`LastSeen`]: a burst that never waits still stamps every so often, so
/// a long one never looks like silence.
const STAMP_EVERY: u32 = 64;

/// When the reader last saw a frame, as milliseconds since it started.
struct LastSeen {
    epoch: Instant,
    at_ms: AtomicU64,
}

impl LastSeen {
    fn new() -> Self {
        LastSeen {
            epoch: Instant::now(),
            at_ms: AtomicU64::new(0),
        }
    }

    fn now(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.at_ms.store(ms, Ordering::Relaxed);
    }

    fn silence(&self) -> Duration {
        let seen = Duration::from_millis(self.at_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(seen)
    }
}

/// Pings every interval; kills the session after `idle_timeout` without
/// any frame from the engine.
async fn keep_alive(session: Session, seen: Arc<LastSeen>, keepalive: Keepalive) {
    let mut ticker = tokio::time::interval(keepalive.interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut death = session.death();
    loop {
        tokio::select! {
            biased;
            _ = dead(&mut death) => return,
            _ = ticker.tick() => {}
        }
        let silent = seen.silence();
        if silent >= keepalive.idle_timeout {
            tracing::warn!("no frame from the engine for {silent:?}; dropping the connection");
            session.kill(format!("no frame from the engine for {silent:?}"));
            return;
        }
        // A closing session takes no ping, but a silent engine must still
        // end it: keep watching until it is dead (the reader aborts this).
        let _ = session.ping();
    }
}
