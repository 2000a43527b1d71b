//! What a handler knows about the invocation it is serving.

use std::sync::Arc;

use serde_json::Value;
use uuid::Uuid;

use crate::http::ApiRequest;
use crate::scope::Scope;
use crate::trace::TraceContext;
use crate::trigger::TriggerInfo;
use crate::worker::Worker;

/// The invocation a handler is serving, and the worker to make calls with.
///
/// ```no_run
/// # async fn handler(_input: serde_json::Value, ctx: iii::Context) -> Result<(), iii::Error> {
/// if let Some(caller) = ctx.caller_worker_id() {
///     println!("called by worker {caller} as {}", ctx.function_id());
/// }
/// let total: u64 = ctx.worker().call("billing::total", &serde_json::json!({})).await?;
/// # let _ = total; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Context {
    pub(crate) invocation_id: Option<Uuid>,
    pub(crate) function_id: Arc<str>,
    pub(crate) caller_worker_id: Option<String>,
    pub(crate) traceparent: Option<String>,
    pub(crate) baggage: Option<String>,
    pub(crate) trace: Arc<TraceContext>,
    pub(crate) scope: Scope,
    pub(crate) metadata: Option<Value>,
    pub(crate) trigger: Option<Arc<TriggerInfo>>,
    pub(crate) request: Option<Arc<ApiRequest>>,
    pub(crate) worker: Worker,
}

impl Context {
    /// The engine's id for this invocation (absent only for local test calls).
    pub fn invocation_id(&self) -> Option<Uuid> {
        self.invocation_id
    }

    /// The function id this invocation targets.
    pub fn function_id(&self) -> &str {
        &self.function_id
    }

    /// The calling worker, when another worker made the call. The engine adds
    /// `_caller_worker_id` to object payloads; the SDK removes it from the
    /// input and hands it over here.
    pub fn caller_worker_id(&self) -> Option<&str> {
        self.caller_worker_id.as_deref()
    }

    /// The W3C `traceparent` this invocation arrived with (its parent);
    /// [`Context::trace`] has the invocation's own span.
    pub fn traceparent(&self) -> Option<&str> {
        self.traceparent.as_deref()
    }

    /// The W3C `baggage` this invocation arrived with.
    pub fn baggage(&self) -> Option<&str> {
        self.baggage.as_deref()
    }

    /// The invocation's trace context: its trace, its own span, the span
    /// that caused it. Calls made while serving it carry it on.
    pub fn trace(&self) -> &TraceContext {
        &self.trace
    }

    /// `future` with this invocation's scope: run it in a task the handler
    /// spawns, and calls and log lines there still carry the invocation's
    /// trace (and channel ends still decode there).
    ///
    /// ```no_run
    /// # async fn handler(_: serde_json::Value, ctx: iii::Context) -> Result<(), iii::Error> {
    /// let worker = ctx.worker().clone();
    /// tokio::spawn(ctx.scoped(async move {
    ///     // Still a child of the invocation's span.
    ///     let _ = worker.invoke("audit::record").void().await;
    /// }));
    /// # Ok(()) }
    /// ```
    pub fn scoped<F: std::future::Future>(
        &self,
        future: F,
    ) -> impl std::future::Future<Output = F::Output> + use<F> {
        self.scope.clone().run(future)
    }

    /// Per-invocation metadata; for trigger fires, the binding's metadata
    /// (for bindings to this worker's functions, on every kind, even those
    /// the engine passes none with).
    pub fn metadata(&self) -> Option<&Value> {
        self.metadata.as_ref()
    }

    /// The trigger binding that fired this invocation: kind, index among
    /// the function's triggers, and config. `None` for direct calls and
    /// for fires of bindings this worker did not make.
    pub fn trigger(&self) -> Option<&TriggerInfo> {
        self.trigger.as_deref()
    }

    /// The HTTP request, when an `http` binding fired this invocation
    /// (whatever the handler's input type), as [`Context::trigger`] knows
    /// it: for bindings this worker made to its own functions.
    pub fn request(&self) -> Option<&ApiRequest> {
        self.request.as_deref()
    }

    /// The worker serving this invocation, to call other functions.
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// Calls `function_id` with `input` and decodes its result, as
    /// [`Worker::call`] does, as a child of this invocation's trace (also
    /// when the call is awaited in a spawned task).
    ///
    /// ```no_run
    /// # async fn handler(order: serde_json::Value, ctx: iii::Context) -> Result<(), iii::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Quote { cents: u64 }
    /// let quote: Quote = ctx.call("pricing::quote", &order).await?;
    /// # let _ = quote.cents; Ok(()) }
    /// ```
    pub async fn call<O, I>(&self, function_id: &str, input: &I) -> Result<O, crate::Error>
    where
        O: serde::de::DeserializeOwned + 'static,
        I: serde::Serialize + ?Sized,
    {
        self.scoped(self.worker.call(function_id, input)).await
    }

    /// Calls an `#[iii::function]` by naming it, with its input and output
    /// types checked by the compiler (see [`Worker::call_fn`]), as a child
    /// of this invocation's trace.
    ///
    /// ```no_run
    /// #[iii::function]
    /// async fn double(x: i64) -> i64 { x * 2 }
    ///
    /// #[iii::function]
    /// async fn quadruple(x: i64, ctx: iii::Context) -> Result<i64, iii::Error> {
    ///     let twice = ctx.call_fn::<double>(&x).await?;
    ///     ctx.call_fn::<double>(&twice).await
    /// }
    /// ```
    pub async fn call_fn<F>(&self, input: &F::Input) -> Result<F::Output, crate::Error>
    where
        F: crate::FunctionRef,
        F::Input: serde::Serialize,
        F::Output: serde::de::DeserializeOwned + 'static,
    {
        self.scoped(self.worker.call_fn::<F>(input)).await
    }

    /// Publishes `data` to `topic` (see [`Worker::publish`]): every
    /// `subscribe` trigger on the topic fires with it.
    ///
    /// ```no_run
    /// # async fn handler(order: serde_json::Value, ctx: iii::Context) -> Result<(), iii::Error> {
    /// ctx.publish("orders.accepted", &order).await?;
    /// # Ok(()) }
    /// ```
    #[doc(alias = "emit")]
    pub async fn publish<T: serde::Serialize + ?Sized>(
        &self,
        topic: &str,
        data: &T,
    ) -> Result<(), crate::Error> {
        self.scoped(self.worker.publish(topic, data)).await
    }

    /// Another name for [`Context::publish`] (the official SDKs' event
    /// vocabulary); the same call.
    pub async fn emit<T: serde::Serialize + ?Sized>(
        &self,
        topic: &str,
        data: &T,
    ) -> Result<(), crate::Error> {
        self.publish(topic, data).await
    }

    /// A logger whose lines carry this invocation's trace and span ids.
    pub fn logger(&self) -> crate::logger::Logger {
        crate::logger::Logger::new(self.worker.clone(), Some(&self.trace))
    }

    /// Creates a data channel (see [`Worker::create_channel`]).
    pub async fn create_channel(&self) -> Result<crate::channel::Channel, crate::Error> {
        self.worker.create_channel().await
    }

    /// The engine's key-value state (see [`Worker::state`]).
    pub fn state(&self) -> crate::state::State {
        self.worker.state()
    }
}
