//! Inbound frames: results of our calls, invocations of our functions,
//! bindings for the trigger types we provide, and the engine's verdicts.

use std::sync::Arc;

use serde_json::Value;

use crate::connection::Fatal;
use crate::context::Context;
use crate::error::codes;
use crate::handler::run_guarded;
use crate::worker::{Failure, Worker, lock};
use iii_protocol::{
    self as protocol, ErrorBody, InvocationResult, InvokeFunction, Message, RegisterTrigger,
    RegistrationRejected, TriggerRegistrationResult, UnregisterTrigger,
};

use iii_protocol::CALLER_WORKER_ID;

/// Handles one text frame. Returns `Some` when the session must end for good.
pub(crate) fn handle_frame(worker: &Worker, session: u64, text: &str) -> Option<Fatal> {
    let message = match protocol::decode(text) {
        Ok(message) => message,
        Err(e) => {
            if !text.trim().is_empty() {
                tracing::warn!(
                    "dropping a frame the SDK does not understand ({e}): {}",
                    preview(text)
                );
            }
            return None;
        }
    };
    match message {
        Message::InvocationResult(result) => complete(worker, result),
        Message::InvokeFunction(invoke) => invoke_local(worker, invoke),
        Message::RegisterTrigger(binding) => provider_register(worker, binding),
        Message::UnregisterTrigger(binding) => provider_unregister(worker, binding),
        Message::TriggerRegistrationResult(result) => trigger_verdict(worker, result),
        Message::RegistrationRejected(rejected) => return rejection(worker, rejected),
        Message::Error(frame) => return Some(Fatal::Refused(frame.error)),
        Message::Ping => {
            let _ = worker.send(&Message::Pong);
        }
        Message::Pong => {
            worker.inner.pongs.send_modify(|(s, n)| {
                if *s == session {
                    *n += 1;
                }
            });
        }
        Message::WorkerRegistered(_) => {}
        other => tracing::debug!("ignoring an unexpected frame from the engine: {other:?}"),
    }
    None
}

fn preview(text: &str) -> &str {
    let end = text.char_indices().nth(200).map_or(text.len(), |(i, _)| i);
    &text[..end]
}

fn complete(worker: &Worker, result: InvocationResult) {
    let pending = lock(&worker.inner.pending).remove(&result.invocation_id);
    let Some(pending) = pending else {
        // Timed out or cancelled already; the engine also ignores strays.
        tracing::debug!(invocation_id = %result.invocation_id, "result for a call nobody waits for");
        return;
    };
    let _ = pending
        .reply
        .send(result.into_outcome().map_err(Failure::Remote));
}

/// Removes `_caller_worker_id` from an object payload and returns it.
pub(crate) fn take_caller(data: &mut Value) -> Option<String> {
    match data.as_object_mut()?.remove(CALLER_WORKER_ID)? {
        Value::String(id) => Some(id),
        other => Some(other.to_string()),
    }
}

/// Runs one of this worker's functions in its own task and answers.
fn invoke_local(worker: &Worker, invoke: InvokeFunction) {
    let InvokeFunction {
        invocation_id,
        function_id,
        mut data,
        metadata,
        traceparent,
        baggage,
        ..
    } = invoke;
    if worker.is_shutting_down() {
        if let Some(id) = invocation_id {
            let body = ErrorBody::new(
                codes::INVOCATION_STOPPED,
                format!(
                    "worker `{}` is shutting down and takes no new invocations",
                    worker.name()
                ),
            );
            let _ = worker.send(&Message::InvocationResult(InvocationResult::new(
                id,
                function_id,
                Err(body),
            )));
        }
        return;
    }
    let guard = worker.inner.in_flight.enter();
    // The session this invocation came on answers it, without taking the
    // link lock again from the handler's task.
    let (found, session_tx) = {
        let link = lock(&worker.inner.link);
        let found = link
            .registry
            .functions
            .get(&function_id)
            .map(|entry| entry.handler.clone());
        (found, link.tx.clone())
    };
    let worker = worker.clone();
    tokio::spawn(async move {
        let _guard = guard;
        let caller_worker_id = take_caller(&mut data);
        let outcome = match found {
            Some(Some(handler)) => {
                let ctx = Context {
                    invocation_id,
                    function_id: Arc::from(function_id.as_str()),
                    caller_worker_id,
                    traceparent,
                    baggage,
                    metadata,
                    worker: worker.clone(),
                };
                run_guarded(handler, data, ctx).await
            }
            Some(None) => Err(ErrorBody::new(
                codes::FUNCTION_NOT_INVOKABLE,
                format!(
                    "`{function_id}` is HTTP-invoked; the engine calls its endpoint, not this worker"
                ),
            )),
            None => Err(ErrorBody::new(
                codes::FUNCTION_NOT_FOUND,
                format!(
                    "function `{function_id}` is not registered on worker `{}`",
                    worker.name()
                ),
            )),
        };
        let Some(id) = invocation_id else { return };
        let reply = Message::InvocationResult(InvocationResult::new(id, function_id, outcome));
        if let Err(e) = worker.answer(session_tx, &reply).await {
            tracing::warn!(%id, "could not send a result; the caller gets `invocation_stopped`: {e}");
        }
    });
}

fn provider_register(worker: &Worker, binding: RegisterTrigger) {
    let provider = {
        let link = lock(&worker.inner.link);
        link.registry
            .trigger_types
            .get(&binding.trigger_type)
            .map(|e| e.provider.clone())
    };
    let worker = worker.clone();
    tokio::spawn(async move {
        let error = match provider {
            None => Some(ErrorBody::new(
                codes::TRIGGER_TYPE_NOT_FOUND,
                format!(
                    "worker `{}` does not provide trigger type `{}`",
                    worker.name(),
                    binding.trigger_type
                ),
            )),
            Some(provider) => provider
                .register(binding.clone(), worker.clone())
                .await
                .err()
                .map(|e| e.to_body()),
        };
        let verdict = Message::TriggerRegistrationResult(TriggerRegistrationResult {
            id: binding.id,
            trigger_type: binding.trigger_type,
            function_id: binding.function_id,
            error,
        });
        let _ = worker.send_now(&verdict).await;
    });
}

fn provider_unregister(worker: &Worker, binding: UnregisterTrigger) {
    let Some(trigger_type) = binding.trigger_type.clone() else {
        tracing::debug!(id = binding.id, "unregistertrigger without a trigger type");
        return;
    };
    let provider = {
        let link = lock(&worker.inner.link);
        link.registry
            .trigger_types
            .get(&trigger_type)
            .map(|e| e.provider.clone())
    };
    if let Some(provider) = provider {
        tokio::spawn(async move {
            if let Err(e) = provider.unregister(binding.id.clone(), trigger_type).await {
                tracing::warn!(
                    id = binding.id,
                    "trigger provider failed to unregister a binding: {e}"
                );
            }
        });
    }
}

fn trigger_verdict(worker: &Worker, result: TriggerRegistrationResult) {
    let Some(error) = result.error else { return };
    tracing::warn!(
        trigger_id = result.id,
        trigger_type = result.trigger_type,
        function_id = result.function_id,
        "trigger binding refused: {error}"
    );
    let link = lock(&worker.inner.link);
    if let Some(entry) = link.registry.triggers.get(&result.id) {
        entry.status.send_replace(Some(error));
    }
}

fn rejection(worker: &Worker, rejected: RegistrationRejected) -> Option<Fatal> {
    if rejected.code == protocol::FUNCTION_NAMESPACE_CONFLICT
        && let Some(function_id) = &rejected.function_id
    {
        tracing::warn!(
            function_id,
            namespace = rejected.namespace,
            owner = rejected.owner_worker_id,
            "function refused: another live worker exports this id"
        );
        let body = ErrorBody::new(
            rejected.code.clone(),
            format!(
                "`{function_id}` is already exported in namespace `{}` by worker {}",
                rejected.namespace, rejected.owner_worker_id
            ),
        );
        let link = lock(&worker.inner.link);
        if let Some(entry) = link.registry.functions.get(function_id) {
            entry.status.send_replace(Some(body));
        }
        return None;
    }
    // Worker-name conflicts and codes this SDK does not know are fatal.
    Some(Fatal::Rejected(rejected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn caller_id_is_taken_from_objects_only() {
        let mut data = json!({"name":"Ada","_caller_worker_id":"w-9"});
        assert_eq!(take_caller(&mut data).as_deref(), Some("w-9"));
        assert_eq!(data, json!({"name":"Ada"}));
        let mut scalar = json!("x");
        assert_eq!(take_caller(&mut scalar), None);
        assert_eq!(scalar, json!("x"));
    }

    #[test]
    fn previews_cut_on_char_boundaries() {
        let long = "é".repeat(500);
        assert_eq!(preview(&long).chars().count(), 200);
    }
}
