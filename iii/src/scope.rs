//! What the code serving an invocation knows, wherever it runs in the
//! handler's task: the worker (whose engine hosts channel ends decoded
//! from payloads, and takes the `tracing` layer's lines), an `http`
//! fire's channels, and the invocation's trace context (for log lines and
//! the `traceparent` of calls it makes).
//!
//! It is a tokio task-local, set while the handler's future is polled and
//! while a call's result is decoded; [`crate::Context::scoped`] carries it
//! into futures a handler spawns.

use std::sync::Arc;

use crate::http::body::InvocationChannels;
use crate::trace::TraceContext;
use crate::worker::Worker;

tokio::task_local! {
    static SCOPE: Scope;
}

/// What decoding, logging and calling inside an invocation know.
#[derive(Clone)]
pub(crate) struct Scope {
    /// The worker serving (or decoding); its engine hosts channels.
    pub(crate) worker: Worker,
    /// The `http` fire being served, for its request and response channels.
    pub(crate) invocation: Option<Arc<InvocationChannels>>,
    /// The invocation's trace context.
    pub(crate) trace: Option<Arc<TraceContext>>,
    /// The invocation's OpenTelemetry context (its span), attached while
    /// the handler is polled.
    #[cfg(feature = "otel")]
    pub(crate) otel: Option<opentelemetry::Context>,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("http", &self.invocation.is_some())
            .field("trace", &self.trace)
            .finish_non_exhaustive()
    }
}

impl Scope {
    /// Runs `future` (a handler) with this scope set during each poll.
    /// A plain function, not an `async fn`: the returned future holds
    /// `future` once, where an `async fn` would keep its argument beside it.
    pub(crate) fn run<F: Future>(self, future: F) -> impl Future<Output = F::Output> + use<F> {
        #[cfg(feature = "otel")]
        let future = {
            use futures_util::future::Either;
            use opentelemetry::context::FutureExt as _;
            match self.otel.clone() {
                Some(cx) => Either::Left(future.with_context(cx)),
                None => Either::Right(future),
            }
        };
        SCOPE.scope(self, future)
    }

    /// Runs `f` (a decode, a handler's call) with this scope set.
    /// With the invocation's OpenTelemetry context attached too, as while
    /// its handler is polled: a handler's call runs here.
    pub(crate) fn sync<R>(self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "otel")]
        let _attached = self.otel.clone().map(opentelemetry::Context::attach);
        SCOPE.sync_scope(self, f)
    }

    /// The scope set now, if any.
    pub(crate) fn current() -> Option<Scope> {
        SCOPE.try_with(Scope::clone).ok()
    }

    /// A scope for decoding outside an invocation (a call's result).
    pub(crate) fn of_worker(worker: &Worker) -> Scope {
        Scope {
            worker: worker.clone(),
            invocation: None,
            trace: None,
            #[cfg(feature = "otel")]
            otel: None,
        }
    }

    /// The trace context set now, if any.
    pub(crate) fn current_trace() -> Option<Arc<TraceContext>> {
        SCOPE.try_with(|s| s.trace.clone()).ok().flatten()
    }
}
