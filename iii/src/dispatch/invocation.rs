//! One invocation of this worker's functions, in the steps of its life:
//!
//! 1. [`start`] **admits** it (the worker is not shutting down, and runs
//!    fewer invocations than its limit) and **routes** it (the registry
//!    names the handler, and for a trigger's fire the binding), then runs
//!    the rest to its first wait in place, and in a task of its own from
//!    there (see [`super::first_step`]);
//! 2. [`Parts::prepare`] builds what the handler's code knows: the
//!    caller, an `http` fire's channels, the invocation's span and scope;
//! 3. [`Prepared::run`] evaluates a binding's condition where the engine
//!    does not, and runs the handler;
//! 4. [`Prepared::finish`] turns an `http` fire's result into the answer
//!    the engine expects (a streamed response, or 204 for nothing);
//! 5. [`Invocation::send`] sends the result back; when a cron fire's
//!    answer waits past its tick, or a response body is streamed,
//!    [`Invocation::answer_later`] does, then streams the body.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use iii_protocol::{ErrorBody, InvokeFunction, ResultValue, TriggerKind};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::answer::{answer, no_content, refuse};
use super::fire::{condition_allows, is_http_fire};
use crate::context::Context;
use crate::error::{Error, codes};
use crate::handler::{ErasedHandler, Guarded};
use crate::http::body::{Deferred, InvocationChannels};
use crate::http::streamed::Streamed;
use crate::scope::Scope;
use crate::session::Session;
use crate::trace::TraceContext;
use crate::worker::registry::Alias;
use crate::worker::registry::Route;
use crate::worker::{InFlightGuard, Worker};

/// Admits and routes an invocation, and runs it: to its first wait here,
/// on the reader, while its function's steps stay short.
///
/// `caller` is the calling worker's id, already taken out of the payload.
pub(super) fn start(
    worker: &Worker,
    session: &Session,
    invoke: InvokeFunction,
    caller: Option<String>,
) {
    let guard = match admit(worker) {
        Ok(guard) => guard,
        Err((code, reason)) => {
            let (id, function_id) = (invoke.invocation_id, invoke.function_id);
            refuse(worker, session, id, function_id, code, reason);
            return;
        }
    };
    let route = worker.route(&invoke.function_id);
    let pace = match &route {
        Route::Run { pace, .. } => Some(pace.clone()),
        Route::Refuse { .. } => None,
    };
    let (invocation, parts) = Invocation::new(invoke, caller, route);
    // Prepared here, not in the task: the task then holds the prepared
    // invocation alone, not its parts beside it. Preparing runs the user's
    // span processors (feature `otel`): a panic there fails this
    // invocation, and the reader goes on.
    let id = invocation.id;
    let prepared = std::panic::catch_unwind(AssertUnwindSafe(|| parts.prepare(worker, id)));
    let mut prepared = match prepared {
        Ok(prepared) => prepared,
        Err(panic) => {
            let reason = format!(
                "preparing the invocation of `{}` panicked (a tracing layer or span processor?): {}",
                invocation.function_id,
                crate::handler::panic_message(&panic)
            );
            tracing::error!("{reason}");
            let body = ErrorBody::new(codes::INVOCATION_FAILED, reason);
            invocation.send(worker, session, Err(body));
            return;
        }
    };
    let worker_budget = worker.first_step_budget();
    let (worker, session) = (worker.clone(), session.clone());
    let task = Box::pin(async move {
        let _guard = guard;
        let outcome = prepared.run(&worker).await;
        let (outcome, streamed) = prepared.finish(outcome);
        match (invocation.answer_at, streamed) {
            (None, None) => invocation.send(&worker, &session, outcome),
            // Boxed: rare paths, kept out of every invocation's task.
            (_, streamed) => {
                Box::pin(invocation.answer_later(&worker, &session, outcome, streamed)).await
            }
        }
    });
    super::first_step::run(task, pace.as_deref(), worker_budget);
}

/// Admits one more invocation: not while shutting down, and not past the
/// limit of invocations running at once.
fn admit(worker: &Worker) -> Result<InFlightGuard, (&'static str, String)> {
    if worker.is_shutting_down() {
        return Err((
            codes::INVOCATION_STOPPED,
            format!(
                "worker `{}` is shutting down and takes no new invocations",
                worker.name()
            ),
        ));
    }
    worker.enter_invocation().ok_or_else(|| {
        (
            codes::TOO_MANY_INVOCATIONS,
            format!(
                "worker `{}` is running {} invocations, its limit (`WorkerBuilder::max_concurrent_invocations`); nothing ran, try again later",
                worker.name(),
                worker.max_concurrent_invocations()
            ),
        )
    })
}

/// A streamed response body, and the channel end it goes out on.
type Body = (Streamed, crate::channel::End);

/// An admitted invocation: who to answer, and when.
struct Invocation {
    id: Option<uuid::Uuid>,
    function_id: String,
    /// A cron fire through a binding is answered no sooner than just after
    /// its tick (see [`crate::tick_lock`]).
    answer_at: Option<Instant>,
}

/// The invocation's input and context, as the engine sent them.
struct Parts {
    data: Value,
    caller_worker_id: Option<String>,
    metadata: Option<Value>,
    traceparent: Option<String>,
    baggage: Option<String>,
    http_fire: bool,
    route: Route,
}

impl Invocation {
    /// The invocation, and the parts its handler gets.
    fn new(
        invoke: InvokeFunction,
        caller_worker_id: Option<String>,
        route: Route,
    ) -> (Invocation, Parts) {
        let cron_binding = matches!(
            &route,
            Route::Run { alias: Some(alias), .. } if alias.info.kind == TriggerKind::Cron
        );
        let invocation = Invocation {
            id: invoke.invocation_id,
            answer_at: cron_binding
                .then(|| crate::tick_lock::answer_at(&invoke.data))
                .flatten(),
            function_id: invoke.function_id,
        };
        let parts = Parts {
            http_fire: is_http_fire(&invoke.data),
            data: invoke.data,
            caller_worker_id,
            metadata: invoke.metadata,
            traceparent: invoke.traceparent,
            baggage: invoke.baggage,
            route,
        };
        (invocation, parts)
    }

    /// Sends the result.
    fn send(self, worker: &Worker, session: &Session, outcome: Result<ResultValue, ErrorBody>) {
        if let Some(id) = self.id {
            answer(worker, session, id, &self.function_id, outcome.as_ref());
        }
    }

    /// Sends the result held past a cron fire's tick, then streams the
    /// response body, if the handler streams one.
    async fn answer_later(
        self,
        worker: &Worker,
        session: &Session,
        outcome: Result<ResultValue, ErrorBody>,
        streamed: Option<Body>,
    ) {
        if let Some(at) = self.answer_at {
            tokio::time::sleep_until(at).await;
        }
        self.send(worker, session, outcome);
        if let Some((streamed, end)) = streamed {
            // Still counted in flight: shutdown waits for the body.
            crate::http::streamed::send(streamed, end).await;
        }
    }
}

/// An invocation ready to run: its input, and what its code knows.
struct Prepared {
    id: Option<uuid::Uuid>,
    parts: Parts,
    caller_worker_id: Option<String>,
    channels: Option<Arc<InvocationChannels>>,
    trace: Arc<TraceContext>,
    scope: Scope,
    #[cfg(feature = "otel")]
    span: Option<crate::otel::InvocationSpan>,
}

impl Parts {
    /// Builds what the handler's code knows about the invocation.
    fn prepare(mut self, worker: &Worker, id: Option<uuid::Uuid>) -> Prepared {
        let caller_worker_id = self.caller_worker_id.take();
        // What decoding the input may bind to: the engine, for channel
        // ends, and for an http fire its channels, which every decoding of
        // its request shares.
        let channels = self.http_fire.then(|| {
            Arc::new(InvocationChannels::of_fire(
                worker.channel_endpoint(),
                &self.data,
            ))
        });
        // The invocation's own span, child of the one it came with.
        let trace = TraceContext::child_of(self.traceparent.as_deref(), self.baggage.clone());
        #[cfg(feature = "otel")]
        let (trace, span) = match &self.route {
            Route::Run { target, .. } => crate::otel::start_invocation(target, worker, trace),
            Route::Refuse { .. } => (trace, None),
        };
        let trace = Arc::new(trace);
        let scope = Scope {
            worker: worker.clone(),
            invocation: channels.clone(),
            trace: Some(trace.clone()),
            #[cfg(feature = "otel")]
            otel: span.as_ref().map(crate::otel::InvocationSpan::context),
        };
        Prepared {
            id,
            parts: self,
            caller_worker_id,
            channels,
            trace,
            scope,
            #[cfg(feature = "otel")]
            span,
        }
    }
}

impl Prepared {
    /// Runs the handler, unless the engine sent it nowhere or a binding's
    /// condition (evaluated by the SDK where the engine does not) says no.
    ///
    /// Across its awaits this future holds only references and the
    /// handler's boxed future: the input and the context are built and
    /// handed to the handler in [`Prepared::call`], a plain function.
    async fn run(&mut self, worker: &Worker) -> Result<ResultValue, Error> {
        let (handler, target, alias) = match &self.parts.route {
            Route::Run {
                handler,
                target,
                alias,
                ..
            } => (handler.clone(), target.clone(), alias.clone()),
            Route::Refuse { target, body } => {
                return Err(Error::Remote {
                    function_id: target.clone(),
                    body: ErrorBody::clone(body),
                });
            }
        };
        if let Some(condition) = alias.as_ref().and_then(|a| a.condition.as_deref()) {
            // Boxed: a rare path, kept out of every invocation's task.
            let gate = condition_allows(worker, condition, &self.parts.data);
            if !Box::pin(self.scope.clone().run(gate)).await {
                return Ok(ResultValue::Tree(Value::Null));
            }
        }
        let future = self.call(worker, &handler, target.clone(), alias)?;
        let polled = self.scope.clone().run(future).await;
        crate::handler::outcome(&target, polled)
    }

    /// Builds the handler's context and calls it, in the invocation's
    /// scope: the input is decoded there.
    fn call(
        &mut self,
        worker: &Worker,
        handler: &ErasedHandler,
        target: Arc<str>,
        alias: Option<Arc<Alias>>,
    ) -> Result<Guarded, Error> {
        let metadata = self.parts.metadata.take();
        let (trigger, metadata) = match alias {
            Some(alias) => (
                Some(alias.info.clone()),
                metadata.or_else(|| alias.metadata.clone()),
            ),
            None => (None, metadata),
        };
        let data = std::mem::take(&mut self.parts.data);
        let scope = self.scope.clone();
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
            invocation_id: self.id,
            function_id: target,
            // Moved, not copied: the context is built once per invocation,
            // and nothing after it reads these.
            caller_worker_id: self.caller_worker_id.take(),
            traceparent: self.parts.traceparent.take(),
            baggage: self.parts.baggage.take(),
            trace: self.trace.clone(),
            scope: scope.clone(),
            metadata,
            trigger,
            request,
            worker: worker.clone(),
        };
        scope.sync(|| crate::handler::call(handler, data, ctx))
    }

    /// The answer for the engine, and a response body to stream after it.
    /// An `http` fire is answered as a response: a streamed one answers
    /// `null` (the engine then reads the response channel), and a handler
    /// that returned nothing answers 204. Through an `http` binding of this
    /// worker, a value that is no response is the body of a 200, and a
    /// failure answers the status it chose (or 500 with an error id).
    /// Every failure is logged.
    fn finish(
        self,
        outcome: Result<ResultValue, Error>,
    ) -> (Result<ResultValue, ErrorBody>, Option<Body>) {
        #[cfg(feature = "otel")]
        if let Some(span) = self.span {
            span.end(outcome.as_ref().err().map(Error::to_body).as_ref());
        }
        let http_fire = self.parts.http_fire;
        // The handler of an `http` binding answers the client; a function
        // the engine calls with the same payload (a route's condition)
        // answers the engine, and keeps its value and its error as they are.
        let answers_client = matches!(
            &self.parts.route,
            Route::Run { alias: Some(alias), .. } if alias.info.kind == TriggerKind::Http
        );
        let deferred = self.channels.as_ref().and_then(|c| c.take_deferred());
        let value = match outcome {
            Err(error) => {
                let error_id = answers_client.then(crate::http::status::error_id);
                let at = (&self.parts.route, self.id, self.trace.as_ref());
                log_failure(at, &error, error_id.as_deref());
                return match error_id {
                    Some(error_id) => {
                        let (status, body, _) = crate::http::status::respond(&error, &error_id);
                        let answer = json!({"status_code": status, "body": body});
                        (Ok(ResultValue::Tree(answer)), None)
                    }
                    None => (Err(error.to_body()), None),
                };
            }
            Ok(value) => value,
        };
        let null = || ResultValue::Tree(Value::Null);
        match (value.is_null(), deferred) {
            // The response goes out on its channel; the answer is `null`.
            (true, Some((Deferred::Streamed(streamed), end))) => {
                (Ok(null()), Some((streamed, end)))
            }
            (true, Some((Deferred::Elsewhere, _))) => (Ok(null()), None),
            (true, None) if http_fire => (Ok(ResultValue::Tree(no_content())), None),
            (_, deferred) => {
                if deferred.is_some() {
                    tracing::warn!(
                        function_id = target(&self.parts.route),
                        "a StreamedResponse inside another value is not sent; return it as the handler's result"
                    );
                }
                if !answers_client {
                    return (Ok(value), None);
                }
                // A tree already: the handler encoded it as one for an
                // HTTP client (`handler::output_shape`).
                let value = value.into_value();
                let answer = match crate::http::is_response(&value) {
                    true => value,
                    false => json!({"status_code": 200, "body": value}),
                };
                (Ok(ResultValue::Tree(answer)), None)
            }
        }
    }
}

/// The function an invocation runs, for logs.
fn target(route: &Route) -> &str {
    match route {
        Route::Run { target, .. } => target,
        Route::Refuse { target, .. } => target,
    }
}

/// Logs a failed invocation with what finds it again: the function, the
/// invocation and trace ids, and the error id an HTTP client was given.
fn log_failure(
    (route, id, trace): (&Route, Option<uuid::Uuid>, &TraceContext),
    error: &Error,
    error_id: Option<&str>,
) {
    let function_id = target(route);
    let invocation_id = id.map(|id| id.to_string());
    let trace_id = trace.trace_id();
    let error_id = error_id.unwrap_or_default();
    match error {
        Error::Panicked { .. } => {
            tracing::error!(function_id, invocation_id, trace_id, error_id, "{error}")
        }
        chosen if chosen.http_status().is_some_and(|s| s < 500) => tracing::info!(
            function_id,
            invocation_id,
            trace_id,
            error_id,
            "the handler answered {error}"
        ),
        _ => tracing::warn!(
            function_id,
            invocation_id,
            trace_id,
            error_id,
            "the handler failed: {error}"
        ),
    }
}
