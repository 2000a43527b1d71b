//! A worker's socket: its welcome, its place in the registries, the writer
//! that drains its queue of frames, and the reader that hands each frame
//! to [`frames`](super::frames).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::{SinkExt, StreamExt};
use iii_protocol::{self as protocol, DEFAULT_NAMESPACE, Message, WorkerRegistered};
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use uuid::Uuid;

use super::Io;
use super::frames::handle_frame;
use crate::clock::now_ms;
use crate::core::Core;
use crate::core::events::Event;
use crate::core::flag::raised;
use crate::core::registry::Conn;

/// Serves a worker until its socket closes or it is dropped.
pub(super) async fn serve<S: Io>(core: Arc<Core>, socket: WebSocketStream<S>) {
    let (mut sink, mut stream) = socket.split();
    let worker_id = Uuid::new_v4().to_string();
    let token = Uuid::new_v4().to_string();
    // Bounded: a worker that leaves this many frames unread is
    // disconnected (tokio's bound is at most `usize::MAX >> 3`).
    let max_queued = core.settings.max_queued_frames.min(usize::MAX >> 4);
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(max_queued);
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    let (kill, mut killed) = watch::channel(false);
    let welcome = Message::WorkerRegistered(WorkerRegistered {
        worker_id: worker_id.clone(),
        reattach_token: Some(token.clone()),
        // As the engine 0.23 it plays: no feature tokens.
        features: Vec::new(),
    });
    if let Ok(frame) = protocol::encode(&welcome) {
        queued_bytes.fetch_add(frame.len(), Ordering::Relaxed);
        let _ = tx.try_send(Utf8Bytes::from(frame));
    }
    core.lock().workers.insert(
        worker_id.clone(),
        Conn {
            tx,
            max_queued,
            queued_bytes: queued_bytes.clone(),
            max_queued_bytes: core.settings.max_queued_bytes,
            kill,
            reattach_token: token,
            buffered: Some(Vec::new()),
            namespace: DEFAULT_NAMESPACE.into(),
            info: json!({}),
            name: None,
            has_pid: false,
            connected_at_ms: now_ms(),
        },
    );
    core.deliver(vec![Event::Workers(
        json!({"event":"worker_connected","worker_id":worker_id}),
    )]);
    core.clone().start_grace_timer(worker_id.clone());

    // Writer: drains the queue; a dropped queue means a graceful Close
    // after every frame queued (a rejection, say), a kill means the socket
    // is dropped without one. Removing the connection drops both senders:
    // only a raised kill counts as one.
    let (writer_done_tx, mut writer_done) = watch::channel(false);
    let mut writer_killed = killed.clone();
    // A frame's bytes stop counting once the writer takes it off the queue.
    let taken = move |frame: Utf8Bytes| {
        queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
        Frame::Text(frame)
    };
    // The reader's reason to close, when a frame breaks the protocol.
    let (close_tx, mut close_rx) = oneshot::channel::<CloseFrame>();
    tokio::spawn(async move {
        let kill = async move {
            if writer_killed.wait_for(|k| *k).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let work = async move {
            loop {
                tokio::select! {
                    biased;
                    Ok(reason) = &mut close_rx => {
                        let _ = sink.send(Frame::Close(Some(reason))).await;
                        return;
                    }
                    frame = rx.recv() => match frame {
                        Some(frame) => {
                            // What is queued behind it goes out with one flush.
                            let mut next = Some(frame);
                            while let Some(frame) = next.take().or_else(|| rx.try_recv().ok()) {
                                if sink.feed(taken(frame)).await.is_err() {
                                    return;
                                }
                            }
                            if sink.flush().await.is_err() {
                                return;
                            }
                        }
                        None => {
                            let _ = sink.send(Frame::Close(None)).await;
                            return;
                        }
                    },
                }
            }
        };
        // A kill drops the socket at once, even in the middle of a write
        // to a worker that does not read.
        tokio::select! {
            biased;
            _ = kill => {}
            _ = work => {}
        }
        let _ = writer_done_tx.send(true);
    });

    let mut close_tx = Some(close_tx);
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = raised(&mut killed) => break,
            _ = raised(&mut writer_done) => break,
        };
        // A text frame is read where it lies, not copied.
        let text = match frame {
            Some(Ok(Frame::Text(text))) => text,
            Some(Ok(Frame::Binary(bytes))) => {
                if core.builtins.worker_frame(&core, &bytes) {
                    continue;
                }
                match Utf8Bytes::try_from(bytes) {
                    Ok(text) => text,
                    Err(_) => continue,
                }
            }
            Some(Err(e)) => {
                if let (Some(reason), Some(tx)) = (close_reason(&e), close_tx.take()) {
                    tracing::debug!(worker_id, "closing a worker's socket: {e}");
                    let _ = tx.send(reason);
                }
                break;
            }
            Some(Ok(Frame::Close(_))) | None => break,
            Some(Ok(_)) => continue,
        };
        handle_frame(&core, &worker_id, text.as_str());
    }
    core.forget_worker(&worker_id);
}

/// The close frame for a read that broke the protocol: 1009 for a message
/// over the size limit, 1002 for any other protocol error; none for a
/// socket that simply failed. (The engine 0.23 sends no code: it drops the
/// socket.)
fn close_reason(error: &WsError) -> Option<CloseFrame> {
    let (code, reason) = match error {
        WsError::Capacity(e) => (CloseCode::Size, e.to_string()),
        WsError::Protocol(e) => (CloseCode::Protocol, e.to_string()),
        _ => return None,
    };
    // A close reason holds at most 123 bytes.
    let reason: String = reason
        .chars()
        .scan(0, |n, c| {
            *n += c.len_utf8();
            (*n <= 123).then_some(c)
        })
        .collect();
    Some(CloseFrame {
        code,
        reason: reason.into(),
    })
}
