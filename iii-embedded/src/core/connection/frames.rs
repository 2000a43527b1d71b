//! What the engine does with each frame a worker sends.

use std::sync::Arc;

use iii_protocol::{
    self as protocol, DEFAULT_NAMESPACE, ErrorBody, InvokeFunction, Message, TriggerAction,
};
use serde_json::Value;

use crate::core::Core;
use crate::core::registry::Caller;
use crate::core::workers::REGISTER_WORKER;

/// Decodes one text frame of `worker_id` and acts on it.
pub(super) fn handle_frame(core: &Arc<Core>, worker_id: &str, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    let message = match protocol::decode(text) {
        Ok(message) => message,
        Err(e) => {
            tracing::warn!(worker_id, "json decode error, frame dropped: {e}");
            refuse_undecodable(core, worker_id, text, &e);
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
                let mut registry = core.lock();
                let Some(conn) = registry.workers.get_mut(worker_id) else {
                    return;
                };
                match &mut conn.buffered {
                    Some(queue) => queue.push(message),
                    None => registry.apply_registration(worker_id, message, &mut events),
                }
            }
            core.deliver(events);
        }
        Message::RegisterService(_) => {}
        Message::UnregisterTriggerType(t) => {
            tracing::warn!(
                worker_id,
                id = t.id,
                "json decode error: unknown message type `unregistertriggertype`, frame dropped"
            );
        }
        Message::InvokeFunction(invoke) => handle_invoke(core, worker_id, invoke),
        Message::InvocationResult(result) => core.lock().complete(worker_id, result),
        Message::TriggerRegistrationResult(result) => {
            core.lock().provider_verdict(worker_id, result)
        }
        Message::Ping => core.lock().send_to(worker_id, &Message::Pong),
        Message::Reattach(reattach) => {
            let mut events = Vec::new();
            {
                let mut registry = core.lock();
                let matches = reattach.previous_worker_id != worker_id
                    && registry
                        .workers
                        .get(&reattach.previous_worker_id)
                        .is_some_and(|old| {
                            reattach.reattach_token.as_deref() == Some(old.reattach_token.as_str())
                        });
                if matches {
                    if let Some(old) = registry.workers.get(&reattach.previous_worker_id) {
                        let _ = old.kill.send(true);
                    }
                    registry.remove_worker(&reattach.previous_worker_id, &mut events);
                }
            }
            core.deliver(events);
        }
        other => tracing::debug!(worker_id, "ignoring {other:?}"),
    }
}

/// A worker's frame that does not decode (its payload nested past 127
/// levels, or a field missing): unlike the engine, which drops it and
/// leaves a caller waiting for its timeout, iii-embedded answers an
/// invocation with the reason, and fails the call a result was for (when
/// the sender is the worker the call was sent to).
fn refuse_undecodable(core: &Arc<Core>, worker_id: &str, text: &str, error: &serde_json::Error) {
    use iii_protocol::salvage::{Refusal, refusal};
    match refusal(text, error) {
        Some(Refusal::Invocation(reply)) => {
            let caller = Caller::Worker {
                worker_id: worker_id.to_string(),
                invocation_id: reply.invocation_id,
            };
            let function_id = reply.function_id.clone();
            core.lock()
                .answer(caller, &function_id, reply.into_outcome());
        }
        Some(Refusal::Result(failed)) => core.lock().complete(worker_id, failed),
        None => {}
    }
}

/// A worker's call: `engine::workers::register` answered here, an
/// `enqueue` action handed to the queue, anything else routed.
fn handle_invoke(core: &Arc<Core>, worker_id: &str, mut invoke: InvokeFunction) {
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
    if let Err(reason) = iii_protocol::rules::validate_namespace(&namespace) {
        let error = ErrorBody::new("INVALID_NAMESPACE", format!("namespace: {reason}"));
        core.lock().answer(caller, &invoke.function_id, Err(error));
        return;
    }
    if let Value::Object(map) = &mut invoke.data {
        map.insert(
            iii_protocol::CALLER_WORKER_ID.into(),
            Value::String(worker_id.to_string()),
        );
    }
    if let Some(TriggerAction::Enqueue { queue }) = invoke.action.take() {
        let core = core.clone();
        tokio::spawn(async move {
            let function_id = invoke.function_id.clone();
            let outcome = core.enqueue(&namespace, &queue, invoke).await;
            core.lock().answer(caller, &function_id, outcome);
        });
        return;
    }
    if namespace == DEFAULT_NAMESPACE && invoke.function_id == REGISTER_WORKER {
        core.register_worker(worker_id, invoke.data, caller);
        return;
    }
    core.clone().route(namespace, invoke, caller);
}
