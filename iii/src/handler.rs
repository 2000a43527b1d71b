//! Turning a Rust async fn into something the engine can invoke.
//!
//! [`Handler`] is implemented for async fns and closures of three shapes:
//! `fn() -> Fut`, `fn(I) -> Fut` and `fn(I, Context) -> Fut`, where `Fut`
//! resolves to `Result<O, E>` with `E: Into<iii::Error>`. The input type is
//! decoded from the call's JSON with a field path in every error; the output
//! is encoded back to JSON.

use crate::codec::{decode, encode};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use futures_util::FutureExt;
use iii_protocol::{ResultValue, Shape, TriggerKind};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::Context;
use crate::error::{Error, codes};

pub(crate) use crate::__private::BoxFuture;

/// A type-erased handler: JSON in, JSON out (as text or as a tree, see
/// [`output_shape`]).
pub(crate) type ErasedHandler =
    Arc<dyn Fn(Value, Context) -> BoxFuture<Result<ResultValue, Error>> + Send + Sync>;

/// The shape a handler's output is encoded in. A tree when the invocation
/// answers an HTTP client: the SDK looks into the value to tell a response
/// from a body (`dispatch::invocation`). Else JSON text, which the answer's
/// frame takes as it is: no tree built only to be written out.
pub(crate) fn output_shape(ctx: &Context) -> Shape {
    match &ctx.trigger {
        Some(trigger) if trigger.kind == TriggerKind::Http => Shape::Tree,
        _ => Shape::Text,
    }
}

/// Whether a function's invocations take their first step on the worker's
/// reader (see `dispatch::first_step`): yes, until [`Pace::STRIKES`] such
/// steps in a row run longer than their budget; then never again.
///
/// One long step proves little: the step is timed by the wall clock, so a
/// thread preempted in the middle of it (the engine, another process or
/// the runtime's other thread taking the core), or an invocation that is
/// the first to touch cold memory, looks as long as a handler that
/// computes. A single strike sent every quick function of a busy worker to
/// tasks of their own for good: in the call benchmark against the real
/// engine, one step over 100 us did so in every run.
#[derive(Debug)]
pub(crate) struct Pace {
    /// First steps over budget in a row; [`Pace::STRIKES`] or more once
    /// the function starts every invocation in a task of its own.
    over: AtomicU32,
}

impl Pace {
    /// Steps over budget in a row that send a function to tasks.
    pub(crate) const STRIKES: u32 = 3;

    pub(crate) fn new() -> Arc<Pace> {
        Arc::new(Pace {
            over: AtomicU32::new(0),
        })
    }

    /// Whether the next invocation may take its first step on the reader.
    pub(crate) fn inline(&self) -> bool {
        self.over.load(Ordering::Relaxed) < Self::STRIKES
    }

    /// Counts a first step taken on the reader: one over budget is a
    /// strike, one within it clears the strikes (unless they are already
    /// out: readers of several sessions may step the same function).
    pub(crate) fn stepped(&self, over_budget: bool) {
        if over_budget {
            self.over.fetch_add(1, Ordering::Relaxed);
        } else {
            // A load and no write in the common case: no strikes.
            let _ = self
                .over
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    (n > 0 && n < Self::STRIKES).then_some(0)
                });
        }
    }
}

/// An async function the engine can invoke. See the module docs for the
/// accepted shapes; `Args` only tells the shapes apart.
pub trait Handler<Args>: Send + Sync + 'static {
    /// Decoded from the invocation's `data`.
    type Input: DeserializeOwned + JsonSchema + 'static;
    /// Encoded into the invocation's `result`.
    type Output: Serialize + JsonSchema + 'static;
    /// Converted into [`Error`] on failure.
    type Error: Into<Error>;
    /// The handler's future.
    type Future: Future<Output = Result<Self::Output, Self::Error>> + Send + 'static;

    /// Runs the handler.
    fn call(&self, input: Self::Input, ctx: Context) -> Self::Future;
}

impl<F, Fut, I, O, E> Handler<(I, Context)> for F
where
    F: Fn(I, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, E>> + Send + 'static,
    I: DeserializeOwned + JsonSchema + 'static,
    O: Serialize + JsonSchema + 'static,
    E: Into<Error>,
{
    type Input = I;
    type Output = O;
    type Error = E;
    type Future = Fut;
    fn call(&self, input: I, ctx: Context) -> Fut {
        self(input, ctx)
    }
}

impl<F, Fut, I, O, E> Handler<(I,)> for F
where
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, E>> + Send + 'static,
    I: DeserializeOwned + JsonSchema + 'static,
    O: Serialize + JsonSchema + 'static,
    E: Into<Error>,
{
    type Input = I;
    type Output = O;
    type Error = E;
    type Future = Fut;
    fn call(&self, input: I, _ctx: Context) -> Fut {
        self(input)
    }
}

impl<F, Fut, O, E> Handler<()> for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, E>> + Send + 'static,
    O: Serialize + JsonSchema + 'static,
    E: Into<Error>,
{
    type Input = NoInput;
    type Output = O;
    type Error = E;
    type Future = Fut;
    fn call(&self, _input: NoInput, _ctx: Context) -> Fut {
        self()
    }
}

/// The input of a handler that takes none: accepts any JSON and ignores it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInput;

impl<'de> serde::Deserialize<'de> for NoInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| NoInput)
    }
}

impl JsonSchema for NoInput {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NoInput".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::Schema::from(true)
    }
}

/// Erases a typed handler to JSON in, JSON out.
pub(crate) fn erase<H, Args>(handler: H) -> ErasedHandler
where
    H: Handler<Args>,
{
    let handler = Arc::new(handler);
    Arc::new(move |data: Value, ctx: Context| {
        let function_id = ctx.function_id.clone();
        let shape = output_shape(&ctx);
        // Input that does not decode is the caller's mistake: 400 to an
        // HTTP client, `deserialization_error` to any caller.
        let input = match decode::<H::Input>(data, || format!("the input of `{function_id}`")) {
            Ok(input) => input,
            Err(error) => {
                let error = undecodable_input(error);
                return Box::pin(std::future::ready(Err(error))) as BoxFuture<_>;
            }
        };
        // Mapped, not awaited in an async block: the box holds the
        // handler's future once, not a moved-from copy of it beside it.
        Box::pin(handler.call(input, ctx).map(move |output| {
            let output = output.map_err(Into::into)?;
            encode(output, shape).map_err(|source| Error::Encode {
                what: format!("the output of `{function_id}`"),
                source,
            })
        }))
    })
}

/// What input that does not decode answers: 400 to an HTTP client,
/// `deserialization_error` to any caller (for `Function::new` handlers
/// and `#[iii::function]` expansions alike).
pub(crate) fn undecodable_input(error: Error) -> Error {
    Error::Http {
        status: 400,
        code: codes::DESERIALIZATION_ERROR.into(),
        message: error.to_string(),
    }
}

/// A handler's future, with a panic while it is polled caught.
pub(crate) type Guarded =
    futures_util::future::CatchUnwind<AssertUnwindSafe<BoxFuture<Result<ResultValue, Error>>>>;

/// What a panic caught in a handler left: its payload.
pub(crate) type Panic = Box<dyn std::any::Any + Send>;

/// Calls an erased handler now (its input is decoded in the call, before
/// any future exists) and returns its future, guarded. A panic in the call
/// is returned as [`Error::Panicked`], as one while polling is by
/// [`outcome`].
///
/// Made apart from the await, so the task that awaits holds the handler's
/// boxed future alone, not the input and the context beside it.
pub(crate) fn call(handler: &ErasedHandler, data: Value, ctx: Context) -> Result<Guarded, Error> {
    let function_id = ctx.function_id.clone();
    std::panic::catch_unwind(AssertUnwindSafe(|| handler(data, ctx)))
        .map(|future| AssertUnwindSafe(future).catch_unwind())
        .map_err(|panic| panicked(&function_id, panic))
}

/// The outcome of a guarded handler's future; a panic is
/// [`Error::Panicked`], naming `function_id`.
pub(crate) fn outcome(
    function_id: &str,
    polled: Result<Result<ResultValue, Error>, Panic>,
) -> Result<ResultValue, Error> {
    polled.unwrap_or_else(|panic| Err(panicked(function_id, panic)))
}

fn panicked(function_id: &str, panic: Panic) -> Error {
    Error::Panicked {
        function_id: function_id.to_string(),
        message: panic_message(&panic),
    }
}

/// What a panic said: its message, when it is text.
pub(crate) fn panic_message(panic: &Panic) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".into())
}
