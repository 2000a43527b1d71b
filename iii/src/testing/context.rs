//! [`TestContext`]: a [`Context`] for unit tests, whose engine is a
//! recording double.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::double::{Answer, Double};
use super::records::{Call, Event, LogLine, Published, StateWrite, StreamWrite};
use crate::context::Context;
use crate::error::Error;
use crate::http::ApiRequest;
use crate::linked::FunctionRef;
use crate::scope::Scope;
use crate::trace::TraceContext;
use crate::worker::Worker;

/// A [`Context`] for unit tests of handlers, with no engine: every call
/// the handler makes through it is answered here and recorded.
///
/// Calls to other functions (`ctx.call`, `ctx.call_fn`,
/// `ctx.worker().invoke(..)`) get the answers given with
/// [`TestContext::answer`], [`TestContext::answer_with`],
/// [`TestContext::answer_fn`] or [`TestContext::fail`]; a call with none
/// fails with `function_not_found`, saying how to add one. Publishes, log
/// lines, and the engine's state and streams (kept in memory, so a read
/// sees an earlier write) need no answers. Afterwards the test reads what
/// happened, in order: [`TestContext::calls`], [`TestContext::published`],
/// [`TestContext::logs`], [`TestContext::state_writes`],
/// [`TestContext::stream_writes`], or all of it as
/// [`TestContext::events`].
///
/// ```
/// use iii::Context;
///
/// #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// struct Order { id: String, cents: u64 }
///
/// #[iii::function(id = "shop::checkout")]
/// async fn checkout(order: Order, ctx: Context) -> Result<u64, iii::Error> {
///     let fee: u64 = ctx.call("pricing::fee", &order).await?;
///     ctx.state().set("orders", &order.id, &order).await?;
///     ctx.publish("orders.paid", &order).await?;
///     ctx.logger().info("checked out");
///     Ok(order.cents + fee)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), iii::Error> {
/// let kit = iii::testing::TestContext::new();
/// kit.answer("pricing::fee", &30);
/// let total = checkout(Order { id: "o1".into(), cents: 1000 }, kit.context()).await?;
/// assert_eq!(total, 1030);
/// assert_eq!(kit.calls()[0].input::<Order>()?.id, "o1");
/// assert_eq!(kit.state::<Order>("orders", "o1")?.map(|o| o.cents), Some(1000));
/// assert_eq!(kit.published()[0].topic(), "orders.paid");
/// assert_eq!(kit.logs()[0].message(), "checked out");
/// # Ok(()) }
/// ```
///
/// Clones share the same answers, store and records.
#[derive(Clone, Debug)]
pub struct TestContext {
    double: Arc<Double>,
    worker: Worker,
}

impl Default for TestContext {
    fn default() -> Self {
        TestContext::new()
    }
}

impl TestContext {
    /// A test context whose worker is named `test-worker`.
    pub fn new() -> TestContext {
        TestContext::named("test-worker")
    }

    /// A test context whose worker has this name (what log lines carry as
    /// their `service_name`, and [`Worker::name`] says).
    pub fn named(worker_name: &str) -> TestContext {
        let double = Arc::new(Double::default());
        TestContext {
            worker: Worker::with_double(worker_name, double.clone()),
            double,
        }
    }

    /// The worker behind every context made here: never connected, its
    /// calls answered by this test context.
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// A context for an invocation of `test::handler` with a fresh trace,
    /// no caller, no metadata and no trigger; set those with
    /// [`TestContext::invocation`].
    pub fn context(&self) -> Context {
        self.invocation().build()
    }

    /// A context to fill in: function id, caller, metadata, trace, request.
    ///
    /// ```
    /// let kit = iii::testing::TestContext::new();
    /// let ctx = kit
    ///     .invocation()
    ///     .function_id("users::get")
    ///     .caller_worker_id("w-7")
    ///     .metadata(serde_json::json!({"tenant": "acme"}))
    ///     .build();
    /// assert_eq!(ctx.function_id(), "users::get");
    /// assert_eq!(ctx.caller_worker_id(), Some("w-7"));
    /// assert_eq!(ctx.metadata().unwrap()["tenant"], "acme");
    /// ```
    pub fn invocation(&self) -> InvocationBuilder {
        InvocationBuilder {
            worker: self.worker.clone(),
            function_id: "test::handler".into(),
            caller_worker_id: None,
            metadata: None,
            traceparent: None,
            baggage: None,
            request: None,
        }
    }

    /// Calls to `function_id` return `value` (any serialisable value).
    /// The answers of a test context stand for any call to that id,
    /// the engine's own functions included (`state::get`, say, to make a
    /// read fail).
    pub fn answer<T: Serialize + ?Sized>(&self, function_id: &str, value: &T) -> &Self {
        let answer = match serde_json::to_value(value) {
            Ok(value) => Answer::Value(value),
            Err(e) => Answer::Fail(crate::ErrorBody::new(
                "test_setup",
                format!("the canned answer for `{function_id}` cannot be encoded as JSON: {e}"),
            )),
        };
        self.double.set_answer(function_id, answer);
        self
    }

    /// Calls to `function_id` return what `answer` makes of their input
    /// (decoded as an `I`); its error is what the caller gets, as from a
    /// failing function.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), iii::Error> {
    /// let kit = iii::testing::TestContext::new();
    /// kit.answer_with("math::double", |x: i64| Ok(x * 2));
    /// let four: i64 = kit.context().call("math::double", &2).await?;
    /// assert_eq!(four, 4);
    /// # Ok(()) }
    /// ```
    pub fn answer_with<I, O, F>(&self, function_id: &str, answer: F) -> &Self
    where
        I: DeserializeOwned,
        O: Serialize,
        F: Fn(I) -> Result<O, Error> + Send + Sync + 'static,
    {
        let id = function_id.to_string();
        let with = move |input: Value| -> Result<Value, Error> {
            let input: I = serde_json::from_value(input).map_err(|e| Error::Decode {
                what: format!("the input of the call to `{id}` (for its canned answer)"),
                reason: e.to_string(),
            })?;
            let output = answer(input)?;
            serde_json::to_value(output).map_err(|source| Error::Encode {
                what: format!("the canned answer for `{id}`"),
                source,
            })
        };
        self.double
            .set_answer(function_id, Answer::With(Arc::new(with)));
        self
    }

    /// [`TestContext::answer_with`] for an `#[iii::function]` named by its
    /// type, with its own input and output types.
    ///
    /// ```
    /// #[iii::function(id = "math::double")]
    /// async fn double(x: i64) -> i64 { x * 2 }
    ///
    /// #[iii::function]
    /// async fn quadruple(x: i64, ctx: iii::Context) -> Result<i64, iii::Error> {
    ///     let twice = ctx.call_fn::<double>(&x).await?;
    ///     ctx.call_fn::<double>(&twice).await
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), iii::Error> {
    /// let kit = iii::testing::TestContext::new();
    /// kit.answer_fn::<double>(|x| Ok(x * 2));
    /// assert_eq!(quadruple(3, kit.context()).await?, 12);
    /// assert_eq!(kit.calls_to("math::double").len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn answer_fn<F>(
        &self,
        answer: impl Fn(F::Input) -> Result<F::Output, Error> + Send + Sync + 'static,
    ) -> &Self
    where
        F: FunctionRef,
        F::Input: DeserializeOwned,
        F::Output: Serialize,
    {
        self.answer_with(F::ID, answer)
    }

    /// Calls to `function_id` fail with `error`, as the caller would see
    /// it from a function that returned it (its code and message).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let kit = iii::testing::TestContext::new();
    /// kit.fail("cards::charge", iii::Error::new("card_declined", "insufficient funds"));
    /// let err = kit.context().call::<(), _>("cards::charge", &7).await.unwrap_err();
    /// assert_eq!(err.code(), "card_declined");
    /// # }
    /// ```
    pub fn fail(&self, function_id: &str, error: Error) -> &Self {
        self.double
            .set_answer(function_id, Answer::Fail(error.to_body()));
        self
    }

    /// Everything the handlers did so far, in order.
    pub fn events(&self) -> Vec<Event> {
        self.double.events()
    }

    /// The calls made to functions (not the engine's state, stream,
    /// publish and log functions), in order; fire-and-forget and enqueued
    /// ones too ([`Call::kind`]).
    pub fn calls(&self) -> Vec<Call> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Call(call) => Some(call),
                _ => None,
            })
            .collect()
    }

    /// The calls made to `function_id`, in order.
    pub fn calls_to(&self, function_id: &str) -> Vec<Call> {
        let mut calls = self.calls();
        calls.retain(|c| c.function_id == function_id);
        calls
    }

    /// The messages published, in order.
    pub fn published(&self) -> Vec<Published> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Published(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// The log lines sent, in order.
    pub fn logs(&self) -> Vec<LogLine> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Log(line) => Some(line),
                _ => None,
            })
            .collect()
    }

    /// The writes to the engine's state, in order.
    pub fn state_writes(&self) -> Vec<StateWrite> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::StateWrite(w) => Some(w),
                _ => None,
            })
            .collect()
    }

    /// The writes to streams, in order (sent events too).
    pub fn stream_writes(&self) -> Vec<StreamWrite> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::StreamWrite(w) => Some(w),
                _ => None,
            })
            .collect()
    }

    /// Forgets what was recorded; answers and stored values stay.
    pub fn clear(&self) {
        self.double.clear();
    }

    /// The state value at `scope`/`key` now, as a `T`.
    pub fn state<T: DeserializeOwned>(&self, scope: &str, key: &str) -> Result<Option<T>, Error> {
        self.double
            .state(scope, key)
            .map(|v| {
                serde_json::from_value(v).map_err(|e| Error::Decode {
                    what: format!("the state value at `{scope}`/`{key}`"),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// Stores a state value before the handler runs (not recorded as a
    /// write).
    pub fn set_state<T: Serialize + ?Sized>(
        &self,
        scope: &str,
        key: &str,
        value: &T,
    ) -> Result<&Self, Error> {
        let value = serde_json::to_value(value).map_err(|source| Error::Encode {
            what: format!("the state value for `{scope}`/`{key}`"),
            source,
        })?;
        self.double.seed_state(scope, key, value);
        Ok(self)
    }

    /// The item `item` of `group` in stream `stream` now, as a `T`.
    pub fn stream_item<T: DeserializeOwned>(
        &self,
        stream: &str,
        group: &str,
        item: &str,
    ) -> Result<Option<T>, Error> {
        self.double
            .stream_item(stream, group, item)
            .map(|v| {
                serde_json::from_value(v).map_err(|e| Error::Decode {
                    what: format!("the item `{group}`/`{item}` of stream `{stream}`"),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// Stores a stream item before the handler runs (not recorded as a
    /// write).
    pub fn set_stream_item<T: Serialize + ?Sized>(
        &self,
        stream: &str,
        group: &str,
        item: &str,
        value: &T,
    ) -> Result<&Self, Error> {
        let value = serde_json::to_value(value).map_err(|source| Error::Encode {
            what: format!("the item `{group}`/`{item}` of stream `{stream}`"),
            source,
        })?;
        self.double.seed_stream(stream, group, item, value);
        Ok(self)
    }
}

/// The invocation a [`TestContext`] makes a [`Context`] for; from
/// [`TestContext::invocation`].
#[derive(Debug)]
#[must_use = "`.build()` makes the context"]
pub struct InvocationBuilder {
    worker: Worker,
    function_id: String,
    caller_worker_id: Option<String>,
    metadata: Option<Value>,
    traceparent: Option<String>,
    baggage: Option<String>,
    request: Option<ApiRequest>,
}

impl InvocationBuilder {
    /// The function being invoked ([`Context::function_id`]).
    pub fn function_id(mut self, id: impl Into<String>) -> Self {
        self.function_id = id.into();
        self
    }

    /// The calling worker ([`Context::caller_worker_id`]).
    pub fn caller_worker_id(mut self, id: impl Into<String>) -> Self {
        self.caller_worker_id = Some(id.into());
        self
    }

    /// The invocation's metadata ([`Context::metadata`]).
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The `traceparent` it arrived with: its trace continues that one.
    pub fn traceparent(mut self, traceparent: impl Into<String>) -> Self {
        self.traceparent = Some(traceparent.into());
        self
    }

    /// The `baggage` it arrived with.
    pub fn baggage(mut self, baggage: impl Into<String>) -> Self {
        self.baggage = Some(baggage.into());
        self
    }

    /// The HTTP request ([`Context::request`]), for handlers that read it
    /// there.
    pub fn request(mut self, request: ApiRequest) -> Self {
        self.request = Some(request);
        self
    }

    /// The context.
    pub fn build(self) -> Context {
        let trace = Arc::new(TraceContext::child_of(
            self.traceparent.as_deref(),
            self.baggage.clone(),
        ));
        let scope = Scope {
            worker: self.worker.clone(),
            invocation: None,
            trace: Some(trace.clone()),
            #[cfg(feature = "otel")]
            otel: None,
        };
        Context {
            invocation_id: None,
            function_id: self.function_id.into(),
            caller_worker_id: self.caller_worker_id,
            traceparent: self.traceparent,
            baggage: self.baggage,
            trace,
            scope,
            metadata: self.metadata,
            trigger: None,
            request: self.request.map(Arc::new),
            worker: self.worker,
        }
    }
}
