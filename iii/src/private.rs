//! What the macros' expansions name, and nothing else does. Not a public
//! API: its contents change without notice (`iii` pins `iii-macros` with
//! `=`, so both always agree).

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::context::Context;
pub use crate::error::Error;
pub use crate::function::Function;
pub use crate::linked::{FunctionRef, LinkedFunction, LinkedTriggerType};
pub use crate::trigger::Trigger;
pub use crate::trigger_type::TriggerTypeHandle;
pub use crate::worker::Worker;
pub use iii_protocol::TriggerKind;
pub use linkme;
pub use schemars;
pub use serde;
pub use serde_json;

use iii_protocol::ErrorBody;
use std::future::Future;

/// Every `#[iii::function]` linked into the program.
#[linkme::distributed_slice]
pub static FUNCTIONS: [LinkedFunction];

/// Every `#[iii::trigger_type]` linked into the program.
#[linkme::distributed_slice]
pub static TRIGGER_TYPES: [LinkedTriggerType];

/// The slice element of one `#[iii::function]`.
pub const fn linked_function(
    spec: &'static FunctionSpec,
    file: &'static str,
    line: u32,
) -> LinkedFunction {
    LinkedFunction::new(spec, file, line)
}

/// The slice element of one `#[iii::trigger_type]`.
pub const fn linked_trigger_type(
    id: &'static str,
    file: &'static str,
    line: u32,
    register: fn(&Worker) -> Result<TriggerTypeHandle, Error>,
) -> LinkedTriggerType {
    LinkedTriggerType::new(id, file, line, register)
}

/// Everything `#[iii::function]` says about one function, as static
/// data: the expansion writes one of these and no code of its own besides
/// the handler, so each function costs the compiler little.
#[derive(Debug)]
pub struct FunctionSpec {
    /// The id.
    pub id: &'static str,
    /// The description (from the attribute or the doc comment).
    pub description: Option<&'static str>,
    /// The metadata, as JSON text (checked when the macro expanded).
    pub metadata: Option<&'static str>,
    /// Makes the request format, from the input type, when registering.
    pub request_format: fn() -> Option<serde_json::Value>,
    /// Makes the response format, from the output type, when registering.
    pub response_format: fn() -> Option<serde_json::Value>,
    /// The handler: JSON in, JSON out.
    pub handler: Handler,
    /// One entry per `#[iii::trigger]`.
    pub triggers: &'static [TriggerSpec],
}

/// One `#[iii::trigger]`: its kind and keys, checked when the macro
/// expanded.
#[derive(Debug)]
pub struct TriggerSpec {
    /// The kind.
    pub kind: TriggerKind,
    /// The trigger type id of a `custom` trigger.
    pub custom_type: Option<&'static str>,
    /// The keys, in the order written.
    pub args: &'static [(&'static str, Arg)],
}

/// The format of a function that takes no input.
pub fn no_format() -> Option<serde_json::Value> {
    None
}

/// A boxed handler future, as an `#[iii::function]`'s handler returns it.
pub type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// An `#[iii::function]`'s handler: JSON in, JSON out, a plain `fn`. Each
/// expansion hands over a function pointer, so the SDK's registration code
/// is compiled once, not once per function.
pub type Handler = fn(serde_json::Value, Context) -> BoxFuture<Result<Output, Error>>;

/// A handler's output, encoded: JSON text for the answer's frame, or a
/// tree where the SDK still looks into it (see [`output_shape`]).
pub type Output = iii_protocol::ResultValue;

/// The shape an invocation's output is encoded in: a tree when it answers
/// an HTTP client (the SDK tells a response from a body by looking into
/// it), else text, written into the answer as it is.
pub fn output_shape(ctx: &Context) -> iii_protocol::Shape {
    crate::handler::output_shape(ctx)
}

/// An `#[iii::function]`'s future, boxed with what turns its output into
/// JSON. The box holds the user's future once (an `async` block awaiting
/// it would hold a moved-from copy of it beside it).
pub fn boxed<F, T>(future: F, finish: T) -> BoxFuture<Result<Output, Error>>
where
    F: Future + Send + 'static,
    T: FnOnce(F::Output) -> Result<Output, Error> + Send + 'static,
{
    Box::pin(Finish {
        future,
        finish: Some(finish),
    })
}

pin_project_lite::pin_project! {
    /// A handler's future, then `finish` on its output. Compiled once per
    /// `#[iii::function]`, so it is kept to a field projection and a match
    /// (`futures_util`'s `Map` also swaps its state out when it completes,
    /// some 160 more lines of LLVM IR a function).
    struct Finish<F, T> {
        #[pin]
        future: F,
        finish: Option<T>,
    }
}

impl<F, T> Future for Finish<F, T>
where
    F: Future,
    T: FnOnce(F::Output) -> Result<Output, Error>,
{
    type Output = Result<Output, Error>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        if this.finish.is_none() {
            // Polled again after it finished: the user's future is done
            // and must not be polled again.
            return std::task::Poll::Ready(Err(polled_after_finishing()));
        }
        let out = std::task::ready!(this.future.poll(cx));
        match this.finish.take() {
            Some(finish) => std::task::Poll::Ready(finish(out)),
            None => std::task::Poll::Ready(Err(polled_after_finishing())),
        }
    }
}

/// The error of a handler's future polled after it finished (never by
/// the SDK's own dispatch).
fn polled_after_finishing() -> Error {
    Error::new(
        "invocation_failed",
        "a handler's future was polled after it finished",
    )
}

/// The future of a handler whose input did not decode.
pub fn failed(error: Error) -> BoxFuture<Result<Output, Error>> {
    Box::pin(std::future::ready(Err(error)))
}

/// The value of one `#[iii::trigger]` key, checked when the macro expanded.
#[derive(Debug, Clone, Copy)]
pub enum Arg {
    /// A string.
    Str(&'static str),
    /// A non-negative integer.
    Int(u64),
    /// A JSON value, as text.
    Json(&'static str),
    /// The id of an `#[iii::function]` (a condition).
    Function(&'static str),
    /// The ids of `#[iii::function]`s (middleware), in order.
    Functions(&'static [&'static str]),
}

/// What a condition may return: `bool` (an exact `false` skips the fire).
#[diagnostic::on_unimplemented(
    message = "a trigger condition must return `bool`, not `{Self}`",
    note = "the engine skips the fire when the condition returns exactly `false`"
)]
pub trait ConditionOutput {}
impl ConditionOutput for bool {}

/// Checks a condition's output type (spanned at the user's path).
pub fn condition_output<T: ConditionOutput>() {}

/// What a route middleware may return.
#[diagnostic::on_unimplemented(
    message = "an http middleware must return `iii::http::MiddlewareVerdict`, not `{Self}`",
    note = "answer `MiddlewareVerdict::Continue` to go on, or `MiddlewareVerdict::respond(..)` to answer the client"
)]
pub trait MiddlewareOutput {}
impl MiddlewareOutput for crate::http::MiddlewareVerdict {}

/// Checks a middleware's output type (spanned at the user's path).
pub fn middleware_output<T: MiddlewareOutput>() {}

/// Holds a handler's error while the right conversion is picked.
///
/// Expansions call `(&&&ErrorWrap(e)).iii_error()`: method lookup tries
/// `&&ErrorWrap<E>`, then `&ErrorWrap<E>`, then `ErrorWrap<E>`, so an
/// `iii::Error` keeps its code, an `anyhow::Error` keeps its chain, and any
/// other `std::error::Error` becomes `invocation_failed`.
pub struct ErrorWrap<E>(pub E);

/// `iii::Error`: passed through with its code.
pub trait ViaIii {
    /// The error to answer with.
    fn iii_error(&self) -> Error;
}

impl ViaIii for &&ErrorWrap<Error> {
    fn iii_error(&self) -> Error {
        Error::from(self.0.to_body())
    }
}

/// `anyhow::Error`: its whole chain as the message (cargo feature
/// `anyhow`; the trait always exists so expansions can import it).
pub trait ViaAnyhow {
    /// The error to answer with.
    fn iii_error(&self) -> Error;
}

#[cfg(feature = "anyhow")]
impl ViaAnyhow for &ErrorWrap<anyhow::Error> {
    fn iii_error(&self) -> Error {
        Error::msg(format!("{:#}", self.0))
    }
}

/// Any `std::error::Error`: `invocation_failed` with its source chain.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned as an iii handler error",
    note = "return `iii::Error`, a type implementing `std::error::Error`, or `anyhow::Error` (cargo feature `anyhow`)"
)]
pub trait ViaStd {
    /// The error to answer with.
    fn iii_error(&self) -> Error;
}

impl<E: std::error::Error> ViaStd for ErrorWrap<E> {
    fn iii_error(&self) -> Error {
        let mut message = self.0.to_string();
        let mut source = self.0.source();
        while let Some(inner) = source {
            message.push_str(": ");
            message.push_str(&inner.to_string());
            source = inner.source();
        }
        Error::from(ErrorBody::new(
            crate::error::codes::INVOCATION_FAILED,
            message,
        ))
    }
}

/// Registers a `#[iii::trigger_type]` provider built with `Default`;
/// expansions span the call at the type, so a missing impl is reported there.
pub fn register_provider<T: crate::trigger_type::TriggerTypeHandler + Default>(
    worker: &crate::Worker,
    id: &str,
    description: &str,
) -> Result<crate::TriggerTypeHandle, Error> {
    worker.register_trigger_type(crate::TriggerType::new(id, description), T::default())
}

/// Runs an `#[iii::main]`: a multi-threaded tokio runtime, a worker
/// connected from the environment, the user's body, then serving until
/// ctrl-c or shutdown.
pub fn run_main<F, Fut>(name: Option<&str>, body: F) -> Result<(), Error>
where
    F: FnOnce(crate::Worker) -> Fut,
    Fut: core::future::Future<Output = Result<(), Error>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // The attribute's name is a default: the environment overrides it.
        let mut builder = crate::Worker::builder();
        if let Some(name) = name {
            builder = builder.name(name);
        }
        let worker = builder.env().connect().await?;
        body(worker.clone()).await?;
        worker.run().await
    })
}

/// Decodes a handler's input; expansions span the call at the input type,
/// so a type that is not `Deserialize` is reported there.
pub fn decode_input<T: DeserializeOwned + 'static>(
    value: serde_json::Value,
    function_id: &str,
) -> Result<T, Error> {
    match crate::codec::decode_as::<T>(value) {
        Ok(input) => Ok(input),
        Err(failure) => Err(input_error(failure, function_id)),
    }
}

fn input_error(failure: crate::codec::Undecodable, function_id: &str) -> Error {
    crate::handler::undecodable_input(failure.into_error(format!("the input of `{function_id}`")))
}

/// Encodes a handler's output in `shape`; spanned at the output type.
pub fn encode_output<T: Serialize + 'static>(
    value: T,
    function_id: &str,
    shape: iii_protocol::Shape,
) -> Result<Output, Error> {
    match crate::codec::encode(value, shape) {
        Ok(value) => Ok(value),
        Err(source) => Err(output_error(source, function_id)),
    }
}

fn output_error(source: serde_json::Error, function_id: &str) -> Error {
    Error::Encode {
        what: format!("the output of `{function_id}`"),
        source,
    }
}

/// What a handler's input and output need: a JSON Schema (schemars 1's
/// `JsonSchema`), for the formats the engine shows. Named in the error
/// when one is missing, with the fix.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no JSON Schema, which the input and output of an `#[iii::function]` need",
    label = "`{Self}` does not derive `schemars::JsonSchema`",
    note = "add `#[derive(schemars::JsonSchema)]` to `{Self}`, with `schemars = \"1\"` in [dependencies] (a derive of schemars 0.8 does not count)"
)]
pub trait HasSchema: JsonSchema {}
impl<T: JsonSchema + ?Sized> HasSchema for T {}

/// The request format of a handler's input; spanned at the input type.
pub fn request_format<T: HasSchema>() -> Option<serde_json::Value> {
    crate::schema::request_format::<T>()
}

/// The response format of a handler's output; spanned at the output type.
pub fn response_format<T: HasSchema>() -> Option<serde_json::Value> {
    crate::schema::response_format::<T>()
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll, Waker};

    use super::*;

    #[test]
    fn a_boxed_handler_finishes_its_output_once_and_refuses_a_second_poll() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
        let mut future = boxed(rx, |out| match out {
            Ok(n) => Ok(iii_protocol::ResultValue::Tree((n * 2).into())),
            Err(_) => Err(Error::msg("dropped")),
        });
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        tx.send(21).expect("the future waits");
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(iii_protocol::ResultValue::Tree(value))) => assert_eq!(value, 42),
            other => panic!("expected the finished output, got {other:?}"),
        }
        // The user's future is done: it is not polled again (an `async fn`
        // would panic), and the caller learns why.
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(Err(error)) => {
                assert_eq!(error.code(), "invocation_failed");
                assert!(
                    error.to_string().contains("polled after it finished"),
                    "{error}"
                );
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
}
