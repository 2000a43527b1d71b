//! Frames for the worker: invocations of its functions, bindings for the
//! trigger types it provides, and the engine's verdicts on its
//! registrations. Each answer goes out on the session the frame came on.

use std::sync::Arc;

use iii_protocol::{
    CALLER_WORKER_ID, ErrorBody, FUNCTION_NAMESPACE_CONFLICT, InvocationResult, InvokeFunction,
    Message, RegisterTrigger, RegistrationRejected, StreamChannelRef, TriggerKind,
    TriggerRegistrationResult, UnregisterTrigger,
};
use serde_json::Value;

use crate::context::Context;
use crate::error::codes;
use crate::handler::{ErasedHandler, run_guarded};
use crate::http::body::{Deferred, InvocationChannels};
use crate::scope::Scope;
use crate::session::{Fatal, Inbound, Session};
use crate::sync::lock;
use crate::trace::TraceContext;
use crate::worker::Worker;
use crate::worker::registry::{Alias, Serving};

/// The worker's side of every session.
pub(crate) struct Dispatch {
    worker: Worker,
}

impl Dispatch {
    pub(crate) fn new(worker: &Worker) -> Self {
        Dispatch {
            worker: worker.clone(),
        }
    }
}

impl Inbound for Dispatch {
    fn on_message(&self, session: &Session, message: Message) -> Option<Fatal> {
        let worker = &self.worker;
        match message {
            Message::InvokeFunction(invoke) => invoke_local(worker, session, invoke),
            Message::RegisterTrigger(binding) => provider_register(worker, session, binding),
            Message::UnregisterTrigger(binding) => provider_unregister(worker, binding),
            Message::TriggerRegistrationResult(result) => trigger_verdict(worker, result),
            Message::RegistrationRejected(rejected) => return rejection(worker, rejected),
            Message::WorkerRegistered(_) => {}
            other => tracing::debug!("ignoring an unexpected frame from the engine: {other:?}"),
        }
        None
    }
}

/// Removes `_caller_worker_id` from an object payload and returns it.
pub(crate) fn take_caller(data: &mut Value) -> Option<String> {
    match data.as_object_mut()?.remove(CALLER_WORKER_ID)? {
        Value::String(id) => Some(id),
        other => Some(other.to_string()),
    }
}

/// Sends the answer to one invocation. A result over the frame limit is
/// replaced by an error saying so, so the caller is never left waiting.
fn answer(worker: &Worker, session: &Session, reply: InvocationResult) {
    let id = reply.invocation_id;
    let function_id = reply.function_id.clone();
    let frame = worker.encode(&Message::InvocationResult(reply), || {
        format!("the result of `{function_id}`")
    });
    let frame = match frame {
        Ok(frame) => frame,
        Err(error) => {
            tracing::warn!(%id, "answering with an error instead: {error}");
            let body = ErrorBody::new(error.code(), error.to_string());
            let refusal = InvocationResult::new(id, function_id.clone(), Err(body));
            match worker.encode(&Message::InvocationResult(refusal), || {
                format!("the error result of `{function_id}`")
            }) {
                Ok(frame) => frame,
                Err(e) => {
                    tracing::error!(%id, "could not encode an error result: {e}");
                    return;
                }
            }
        }
    };
    if !worker.send_on(session, frame) {
        tracing::warn!(%id, "could not send a result: not connected; the caller gets `invocation_stopped`");
    }
}

/// Turns an invocation away before it runs: its caller gets `code` and
/// `reason`; a fire-and-forget one, with nobody to answer, is logged.
fn refuse(
    worker: &Worker,
    session: &Session,
    invocation_id: Option<uuid::Uuid>,
    function_id: String,
    code: &str,
    reason: String,
) {
    match invocation_id {
        Some(id) => {
            let body = ErrorBody::new(code, reason);
            answer(
                worker,
                session,
                InvocationResult::new(id, function_id, Err(body)),
            );
        }
        None => tracing::warn!(
            function_id,
            "dropping a fire-and-forget invocation: {reason}"
        ),
    }
}

/// Runs one of this worker's functions in its own task and answers.
fn invoke_local(worker: &Worker, session: &Session, invoke: InvokeFunction) {
    let InvokeFunction {
        invocation_id,
        function_id,
        mut data,
        metadata,
        traceparent,
        baggage,
        ..
    } = invoke;
    let http_fire = is_http_fire(&data);
    let limit = worker.inner.config.max_concurrent_invocations;
    let admitted = if worker.is_shutting_down() {
        Err((
            codes::INVOCATION_STOPPED,
            format!(
                "worker `{}` is shutting down and takes no new invocations",
                worker.name()
            ),
        ))
    } else {
        worker.inner.in_flight.try_enter(limit).ok_or_else(|| {
            (
                codes::TOO_MANY_INVOCATIONS,
                format!(
                    "worker `{}` is running {limit} invocations, its limit (`WorkerBuilder::max_concurrent_invocations`); nothing ran, try again later",
                    worker.name()
                ),
            )
        })
    };
    let guard = match admitted {
        Ok(guard) => guard,
        Err((code, reason)) => {
            refuse(worker, session, invocation_id, function_id, code, reason);
            return;
        }
    };
    let route = route(worker, &function_id);
    // A cron fire through a binding's alias is answered no sooner than
    // just after its tick, so the engine keeps the tick's lock that long.
    let hold = match &route {
        Route::Run {
            alias: Some(alias), ..
        } if alias.info.kind == TriggerKind::Cron => crate::tick_lock::answer_at(&data),
        _ => None,
    };
    let worker = worker.clone();
    let session = session.clone();
    tokio::spawn(async move {
        let _guard = guard;
        let caller_worker_id = take_caller(&mut data);
        // What decoding the input may bind to: the engine, for channel
        // ends, and for an http fire its channels, which every decoding of
        // its request shares.
        let channels = http_fire.then(|| {
            Arc::new(InvocationChannels::of_fire(
                worker.channel_endpoint(),
                &data,
            ))
        });
        // The invocation's own span, child of the one it came with.
        let trace = TraceContext::child_of(traceparent.as_deref(), baggage.clone());
        #[cfg(feature = "otel")]
        let (trace, span) = match &route {
            Route::Run { target, .. } => crate::otel::start_invocation(target, &worker, trace),
            Route::Refuse(_) => (trace, None),
        };
        let trace = Arc::new(trace);
        let scope = Scope {
            worker: worker.clone(),
            invocation: channels.clone(),
            trace: Some(trace.clone()),
            #[cfg(feature = "otel")]
            otel: span.as_ref().map(crate::otel::InvocationSpan::context),
        };
        let outcome = match route {
            Route::Run {
                handler,
                target,
                alias,
            } => {
                let (trigger, metadata, condition) = match alias {
                    Some(alias) => (
                        Some(alias.info.clone()),
                        metadata.or_else(|| alias.metadata.clone()),
                        alias.condition.clone(),
                    ),
                    None => (None, metadata, None),
                };
                // Boxed: a rare path, kept out of every invocation's task.
                let allowed = match &condition {
                    Some(condition) => {
                        let payload = without_channels(&data);
                        let gate = condition_allows(&worker, condition, &payload);
                        Box::pin(scope.clone().run(gate)).await
                    }
                    None => true,
                };
                if !allowed {
                    Ok(Value::Null)
                } else {
                    let request = trigger
                        .as_ref()
                        .filter(|t| t.kind == TriggerKind::Http)
                        .and_then(|_| {
                            scope
                                .clone()
                                .sync(|| serde_json::from_value(data.clone()).ok())
                        })
                        .map(Arc::new);
                    let ctx = Context {
                        invocation_id,
                        function_id: target,
                        caller_worker_id,
                        traceparent,
                        baggage,
                        trace,
                        scope: scope.clone(),
                        metadata,
                        trigger,
                        request,
                        worker: worker.clone(),
                    };
                    scope.run(run_guarded(handler, data, ctx)).await
                }
            }
            Route::Refuse(body) => Err(body),
        };
        #[cfg(feature = "otel")]
        if let Some(span) = span {
            span.end(outcome.as_ref().err());
        }
        let deferred = channels.as_ref().and_then(|c| c.take_deferred());
        let (outcome, streamed) = match (outcome, deferred) {
            // The response goes out on its channel; the answer is `null`.
            (Ok(Value::Null), Some((Deferred::Streamed(streamed), end))) => {
                (Ok(Value::Null), Some((streamed, end)))
            }
            (Ok(Value::Null), Some((Deferred::Elsewhere, _))) => (Ok(Value::Null), None),
            (Ok(Value::Null), None) if http_fire => (Ok(no_content()), None),
            (outcome, deferred) => {
                if deferred.is_some() {
                    tracing::warn!(
                        function_id,
                        "a StreamedResponse inside another value is not sent; return it as the handler's result"
                    );
                }
                (outcome, None)
            }
        };
        if let Some(at) = hold {
            tokio::time::sleep_until(at).await;
        }
        if let Some(id) = invocation_id {
            answer(
                &worker,
                &session,
                InvocationResult::new(id, function_id, outcome),
            );
        }
        if let Some((streamed, end)) = streamed {
            // Still counted in flight: shutdown waits for the body. Boxed,
            // to keep the writer out of every invocation's task.
            Box::pin(crate::http::streamed::send(streamed, end)).await;
        }
    });
}

/// Where an invocation of `function_id` goes.
enum Route {
    /// To this handler, for the function `target` (through a binding's
    /// alias, for a trigger fire).
    Run {
        handler: ErasedHandler,
        target: Arc<str>,
        alias: Option<Arc<Alias>>,
    },
    /// Nowhere: answer this.
    Refuse(ErrorBody),
}

fn route(worker: &Worker, function_id: &str) -> Route {
    let link = lock(&worker.inner.link);
    let functions = &link.registry.functions;
    let (target, alias) = match functions.get(function_id).map(|e| &e.serving) {
        Some(Serving::Alias(alias)) => (alias.function_id.as_str(), Some(alias.clone())),
        _ => (function_id, None),
    };
    match functions.get(target).map(|e| &e.serving) {
        Some(Serving::Local(handler)) => Route::Run {
            handler: handler.clone(),
            target: Arc::from(target),
            alias,
        },
        Some(Serving::Endpoint) => Route::Refuse(ErrorBody::new(
            codes::FUNCTION_NOT_INVOKABLE,
            format!("`{target}` is HTTP-invoked; the engine calls its endpoint, not this worker"),
        )),
        Some(Serving::Alias(_)) | None => Route::Refuse(ErrorBody::new(
            codes::FUNCTION_NOT_FOUND,
            format!(
                "function `{target}` is not registered on worker `{}`",
                worker.name()
            ),
        )),
    }
}

/// A binding's condition, evaluated by the SDK where the engine ignores
/// it, as the engine evaluates its own: an exact `false` skips the fire,
/// and so does a condition that fails.
async fn condition_allows(worker: &Worker, condition: &str, data: &Value) -> bool {
    match worker.invoke(condition).payload(data).call::<Value>().await {
        Ok(Value::Bool(false)) => false,
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(
                condition,
                "a trigger condition failed; skipping the fire: {error}"
            );
            false
        }
    }
}

/// A fire's payload as the engine hands it to a condition: without an
/// `http` request's channels, which only the handler may read.
fn without_channels(data: &Value) -> std::borrow::Cow<'_, Value> {
    let carries = |key| data.get(key).is_some_and(StreamChannelRef::is_ref);
    if !carries("request_body") && !carries("response") {
        return std::borrow::Cow::Borrowed(data);
    }
    let mut data = data.clone();
    if let Value::Object(map) = &mut data {
        map.remove("request_body");
        map.remove("response");
    }
    std::borrow::Cow::Owned(data)
}

/// Whether `data` is what an `http` trigger delivers.
fn is_http_fire(data: &Value) -> bool {
    let http = TriggerKind::Http.engine_type();
    data.get("trigger")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| Some(t) == http)
}

/// The answer to an `http` fire whose handler returned nothing (`()` or
/// `null`). The engine reads a `null` result as "the response is streamed
/// on the response channel" and, with nothing streamed, makes the client
/// wait for its HTTP timeout (30 s) and answers 504; a handler with nothing
/// to say means 204 No Content.
fn no_content() -> Value {
    serde_json::json!({"status_code": 204})
}

fn provider_register(worker: &Worker, session: &Session, binding: RegisterTrigger) {
    let provider = lock(&worker.inner.link)
        .registry
        .trigger_types
        .get(&binding.trigger_type)
        .map(|e| e.provider.clone());
    let worker = worker.clone();
    let session = session.clone();
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
        match worker.encode(&verdict, || "a binding verdict".into()) {
            Ok(frame) => {
                if !worker.send_on(&session, frame) {
                    tracing::debug!("could not send a binding verdict: not connected");
                }
            }
            Err(e) => tracing::error!("could not encode a binding verdict: {e}"),
        }
    });
}

fn provider_unregister(worker: &Worker, binding: UnregisterTrigger) {
    let Some(trigger_type) = binding.trigger_type.clone() else {
        tracing::debug!(id = binding.id, "unregistertrigger without a trigger type");
        return;
    };
    let provider = lock(&worker.inner.link)
        .registry
        .trigger_types
        .get(&trigger_type)
        .map(|e| e.provider.clone());
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

/// A refused registration: one that names a function refuses only that
/// function (its handle reports why) and keeps the connection; the
/// others (a worker-name conflict, a code naming no function) refuse the
/// worker.
fn rejection(worker: &Worker, rejected: RegistrationRejected) -> Option<Fatal> {
    let Some(function_id) = rejected
        .function_id
        .as_deref()
        .filter(|_| rejected.refuses_one_function())
    else {
        return Some(Fatal::Rejected(rejected));
    };
    let namespace = &rejected.namespace;
    let message = if rejected.code == FUNCTION_NAMESPACE_CONFLICT {
        format!(
            "`{function_id}` is already exported in namespace `{namespace}` by worker {}",
            rejected.owner_worker_id
        )
    } else {
        format!(
            "the engine refused `{function_id}` in namespace `{namespace}` with `{}`",
            rejected.code
        )
    };
    tracing::warn!(
        function_id,
        code = rejected.code,
        "function refused: {message}"
    );
    let link = lock(&worker.inner.link);
    if let Some(entry) = link.registry.functions.get(function_id) {
        entry
            .status
            .send_replace(Some(ErrorBody::new(rejected.code.clone(), message)));
    }
    None
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
}
