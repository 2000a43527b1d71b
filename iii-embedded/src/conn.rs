//! One worker connection: handshake, reading frames, writing frames.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use iii_protocol::channel::CHANNEL_PATH_PREFIX;
use iii_protocol::{
    self as protocol, DEFAULT_NAMESPACE, ErrorBody, InvokeFunction, Message, TriggerAction,
    WorkerRegistered,
};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use uuid::Uuid;

use crate::Shared;
use crate::core::{Caller, Conn, Event};

/// Accepts one connection (TCP, or TLS over it) as a worker socket, a
/// channel end or the telemetry socket.
pub(crate) async fn serve<S: crate::Io>(shared: Arc<Shared>, stream: S) {
    // `/` is the worker socket; `/ws/channels/<id>` attaches a channel end;
    // `/otel` takes telemetry.
    let mut channel = None;
    let mut telemetry = false;
    // The callback's type is fixed by tungstenite.
    #[allow(clippy::result_large_err)]
    let route = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let path = request.uri().path();
        if path == "/" || path.is_empty() {
            return Ok(response);
        }
        if path == "/otel" {
            telemetry = true;
            return Ok(response);
        }
        let refuse = |status: StatusCode, body: Option<String>| {
            let mut refusal = ErrorResponse::new(body);
            *refusal.status_mut() = status;
            refusal
        };
        let Some(id) = path
            .strip_prefix(CHANNEL_PATH_PREFIX)
            .filter(|id| !id.is_empty() && !id.contains('/'))
        else {
            return Err(refuse(StatusCode::NOT_FOUND, None));
        };
        match crate::channels::parse_query(id, request.uri().query().unwrap_or("")) {
            Err(why) => Err(refuse(StatusCode::BAD_REQUEST, Some(why))),
            Ok(end) if !shared.channels.exists(&end.channel_id, &end.key) => Err(refuse(
                StatusCode::NOT_FOUND,
                Some("Channel not found".into()),
            )),
            Ok(end) => {
                channel = Some(end);
                Ok(response)
            }
        }
    };
    let socket = match tokio::time::timeout(
        shared.settings.handshake_timeout,
        tokio_tungstenite::accept_hdr_async(stream, route),
    )
    .await
    {
        Ok(Ok(socket)) => socket,
        Ok(Err(e)) => {
            tracing::debug!("websocket handshake failed: {e}");
            return;
        }
        Err(_) => return,
    };
    if let Some(end) = channel {
        return crate::channels::serve(shared, socket, end).await;
    }
    if telemetry {
        return crate::traces::serve(shared, socket).await;
    }
    let (mut sink, mut stream) = socket.split();
    let worker_id = Uuid::new_v4().to_string();
    let token = Uuid::new_v4().to_string();
    // Bounded: a worker that leaves this many frames unread is
    // disconnected (tokio's bound is at most `usize::MAX >> 3`).
    let max_queued = shared.settings.max_queued_frames.min(usize::MAX >> 4);
    let (tx, mut rx) = mpsc::channel::<String>(max_queued);
    let (kill, mut killed) = watch::channel(false);
    let welcome = Message::WorkerRegistered(WorkerRegistered {
        worker_id: worker_id.clone(),
        reattach_token: Some(token.clone()),
        // As the engine 0.23 it plays: no feature tokens.
        features: Vec::new(),
    });
    if let Ok(frame) = protocol::encode(&welcome) {
        let _ = tx.try_send(frame);
    }
    {
        let mut core = shared.lock();
        core.workers.insert(
            worker_id.clone(),
            Conn {
                tx,
                max_queued,
                kill,
                reattach_token: token,
                buffered: Some(Vec::new()),
                namespace: DEFAULT_NAMESPACE.into(),
                info: json!({}),
                name: None,
                has_pid: false,
                connected_at_ms: crate::now_ms(),
            },
        );
    }
    shared.deliver(vec![Event::Workers(
        json!({"event":"worker_connected","worker_id":worker_id}),
    )]);
    shared.clone().start_grace_timer(worker_id.clone());

    // Writer: drains the queue; a dropped queue means a graceful Close
    // after every frame queued (a rejection, say), a kill means the socket
    // is dropped without one. Removing the connection drops both senders:
    // only a raised kill counts as one.
    let (writer_done_tx, mut writer_done) = watch::channel(false);
    let mut writer_killed = killed.clone();
    tokio::spawn(async move {
        let mut kill = std::pin::pin!(async move {
            if writer_killed.wait_for(|k| *k).await.is_err() {
                std::future::pending::<()>().await;
            }
        });
        loop {
            tokio::select! {
                biased;
                _ = &mut kill => break,
                frame = rx.recv() => match frame {
                    Some(frame) => {
                        // What is queued behind it goes out with one flush.
                        if sink.feed(Frame::text(frame)).await.is_err() { break; }
                        while let Ok(more) = rx.try_recv() {
                            if sink.feed(Frame::text(more)).await.is_err() { break; }
                        }
                        if sink.flush().await.is_err() { break; }
                    }
                    None => {
                        let _ = sink.send(Frame::Close(None)).await;
                        break;
                    }
                },
            }
        }
        let _ = writer_done_tx.send(true);
    });

    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = crate::raised(&mut killed) => break,
            _ = crate::raised(&mut writer_done) => break,
        };
        let text = match frame {
            Some(Ok(Frame::Text(text))) => text.as_str().to_owned(),
            Some(Ok(Frame::Binary(bytes))) => {
                if crate::traces::ingest(&shared, &bytes) {
                    continue;
                }
                match String::from_utf8(bytes.to_vec()) {
                    Ok(text) => text,
                    Err(_) => continue,
                }
            }
            Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => continue,
        };
        handle_frame(&shared, &worker_id, &text);
    }
    let mut events = Vec::new();
    shared.lock().remove_worker(&worker_id, &mut events);
    shared.deliver(events);
}

fn handle_frame(shared: &Arc<Shared>, worker_id: &str, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    let message = match protocol::decode(text) {
        Ok(message) => message,
        Err(e) => {
            tracing::warn!(worker_id, "json decode error, frame dropped: {e}");
            refuse_undecodable(shared, worker_id, text, &e);
            return;
        }
    };
    match message {
        Message::RegisterFunction(_)
        | Message::UnregisterFunction(_)
        | Message::RegisterTrigger(_)
        | Message::UnregisterTrigger(_)
        | Message::RegisterTriggerType(_) => {
            let mut events = Vec::new();
            {
                let mut core = shared.lock();
                let Some(conn) = core.workers.get_mut(worker_id) else {
                    return;
                };
                match &mut conn.buffered {
                    Some(queue) => queue.push(message),
                    None => core.apply_registration(worker_id, message, &mut events),
                }
            }
            shared.deliver(events);
        }
        Message::RegisterService(_) => {}
        Message::UnregisterTriggerType(t) => {
            tracing::warn!(
                worker_id,
                id = t.id,
                "json decode error: unknown message type `unregistertriggertype`, frame dropped"
            );
        }
        Message::InvokeFunction(invoke) => handle_invoke(shared, worker_id, invoke),
        Message::InvocationResult(result) => shared.lock().complete(worker_id, result),
        Message::TriggerRegistrationResult(result) => {
            shared.lock().provider_verdict(worker_id, result)
        }
        Message::Ping => shared.lock().send_to(worker_id, &Message::Pong),
        Message::Reattach(reattach) => {
            let mut events = Vec::new();
            {
                let mut core = shared.lock();
                let matches = reattach.previous_worker_id != worker_id
                    && core
                        .workers
                        .get(&reattach.previous_worker_id)
                        .is_some_and(|old| {
                            reattach.reattach_token.as_deref() == Some(old.reattach_token.as_str())
                        });
                if matches {
                    if let Some(old) = core.workers.get(&reattach.previous_worker_id) {
                        let _ = old.kill.send(true);
                    }
                    core.remove_worker(&reattach.previous_worker_id, &mut events);
                }
            }
            shared.deliver(events);
        }
        other => tracing::debug!(worker_id, "ignoring {other:?}"),
    }
}

/// A worker's frame that does not decode (its payload nested past 127
/// levels, or a field missing): unlike the engine, which drops it and
/// leaves a caller waiting for its timeout, iii-embedded answers an
/// invocation with the reason, and fails the call a result was for (when
/// the sender is the worker the call was sent to).
fn refuse_undecodable(
    shared: &Arc<Shared>,
    worker_id: &str,
    text: &str,
    error: &serde_json::Error,
) {
    use iii_protocol::salvage::{Refusal, refusal};
    match refusal(text, error) {
        Some(Refusal::Invocation(reply)) => {
            let caller = Caller::Worker {
                worker_id: worker_id.to_string(),
                invocation_id: reply.invocation_id,
            };
            let function_id = reply.function_id.clone();
            shared
                .lock()
                .answer(caller, &function_id, reply.into_outcome());
        }
        Some(Refusal::Result(failed)) => shared.lock().complete(worker_id, failed),
        None => {}
    }
}

fn handle_invoke(shared: &Arc<Shared>, worker_id: &str, mut invoke: InvokeFunction) {
    let namespace = invoke
        .namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.into());
    let void = matches!(invoke.action, Some(TriggerAction::Void));
    let caller = match invoke.invocation_id {
        Some(invocation_id) if !void => Caller::Worker {
            worker_id: worker_id.to_string(),
            invocation_id,
        },
        _ => Caller::Nobody,
    };
    if namespace.trim().is_empty() {
        let error = ErrorBody::new("INVALID_NAMESPACE", "namespace must not be blank");
        shared
            .lock()
            .answer(caller, &invoke.function_id, Err(error));
        return;
    }
    if let Value::Object(map) = &mut invoke.data {
        map.insert(
            iii_protocol::CALLER_WORKER_ID.into(),
            Value::String(worker_id.to_string()),
        );
    }
    if let Some(TriggerAction::Enqueue { queue }) = invoke.action.take() {
        let shared = shared.clone();
        tokio::spawn(async move {
            let function_id = invoke.function_id.clone();
            let outcome = crate::queue::enqueue(&shared, &namespace, &queue, invoke).await;
            shared.lock().answer(caller, &function_id, outcome);
        });
        return;
    }
    if namespace == DEFAULT_NAMESPACE && invoke.function_id == "engine::workers::register" {
        crate::builtins::register_worker(shared, worker_id, invoke.data, caller);
        return;
    }
    shared.clone().route(namespace, invoke, caller);
}
