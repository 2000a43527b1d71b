//! Write [iii](https://github.com/iii-hq/iii) workers in Rust.
//!
//! A worker connects to the iii engine over WebSocket, registers functions,
//! binds triggers (HTTP routes, cron, queues, pub/sub, state and stream
//! changes, custom types) to them, and calls other workers' functions.
//! Functions are `async fn`s with serde types; an attribute registers one:
//!
//! ```no_run
//! use iii::http::{ApiRequest, ApiResponse};
//!
//! #[derive(serde::Serialize, schemars::JsonSchema)]
//! struct Greeting { message: String }
//!
//! /// Greets whoever is named in the path.
//! #[iii::function(id = "greetings::greet")]
//! #[iii::trigger(http, path = "/greet/:name", method = "GET")]
//! async fn greet(req: ApiRequest) -> Result<ApiResponse<Greeting>, iii::Error> {
//!     let name = req.path_param("name")?;
//!     Ok(ApiResponse::ok(Greeting { message: format!("Hello, {name}!") }))
//! }
//!
//! // Connects to III_URL (default ws://127.0.0.1:49134), registers every
//! // #[iii::function] of the program, and serves until ctrl-c or SIGTERM.
//! #[iii::main(name = "greeter")]
//! async fn main(worker: iii::Worker) -> Result<(), iii::Error> {
//!     Ok(())
//! }
//! ```
//!
//! The doc comment is the function's description, and its request and
//! response formats (JSON Schema) come from its types. With the `embedded`
//! feature, `WorkerBuilder::embedded_engine` runs the same worker on an
//! in-process engine when `III_URL` is unset.
//!
//! The same without macros, where functions are made at run time:
//!
//! ```no_run
//! use iii::{Function, Worker, trigger::{Http, Trigger}};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Greet { name: String }
//! #[derive(serde::Serialize, schemars::JsonSchema)]
//! struct Greeting { message: String }
//!
//! async fn greet(input: Greet) -> Result<Greeting, iii::Error> {
//!     Ok(Greeting { message: format!("Hello, {}!", input.name) })
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), iii::Error> {
//!     let worker = Worker::from_env().name("greeter").connect().await?;
//!     worker.register_function(Function::new("greetings::greet", greet).description("Greets a user"))?;
//!     worker.register_trigger(Trigger::new("greetings::greet", Http::post("/greet")))?;
//!     worker.run().await
//! }
//! ```
//!
//! Where to go next: [`Worker`] (every call a worker makes, in one table),
//! [`Context`] (what a handler gets: its trigger, trace, logger, state,
//! and calls that carry its trace), [`http`] (requests, responses, HTTP
//! statuses), [`trigger`](mod@trigger) (every trigger kind), [`state`] and [`stream`]
//! (the engine's storage), [`Error`] (codes, and how failures answer).
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod availability;
mod burst;
pub mod channel;
mod codec;
pub mod context;
pub mod discovery;
mod dispatch;
pub mod error;
pub mod function;
pub mod handler;
mod hashing;
pub mod http;
mod ids;
pub mod invoke;
pub mod linked;
pub mod logger;
pub mod openapi;
#[cfg(feature = "otel")]
pub mod otel;
mod publish;
pub mod rbac;
pub mod schema;
mod scope;
mod session;
pub mod state;
pub mod stream;
pub mod stream_store;
mod sync;
pub mod testing;
mod tick_lock;
mod tls;
pub mod trace;
pub mod trigger;
pub mod trigger_type;
mod verdict;
pub mod worker;

pub use channel::{Channel, ChannelReader, ChannelWriter};
pub use context::Context;
pub use error::{Error, ErrorBody, FlushFailure, Result};
pub use function::{Function, FunctionHandle};
/// Registers an `async fn` as an iii function.
///
/// ```no_run
/// use serde::{Deserialize, Serialize};
///
/// // Serialize/Deserialize both ways so that other Rust code can call it
/// // with `call_fn`; the function itself needs only the first derive of each.
/// #[derive(Deserialize, Serialize, schemars::JsonSchema)]
/// struct Greet { name: String }
/// #[derive(Serialize, Deserialize, schemars::JsonSchema)]
/// struct Greeting { message: String }
///
/// /// Greets a user. (The doc comment becomes the description.)
/// #[iii::function(id = "greetings::greet", metadata = {"team": "growth"})]
/// #[iii::trigger(http, path = "/greet", method = "POST")]
/// #[iii::trigger(subscribe, topic = "greet.requested")]
/// async fn greet(input: Greet, ctx: iii::Context) -> Result<Greeting, iii::Error> {
///     let _ = ctx.caller_worker_id();
///     Ok(Greeting { message: format!("Hello, {}!", input.name) })
/// }
///
/// # async fn run() -> Result<(), iii::Error> {
/// // Connecting registers every #[iii::function] linked into the program:
/// let worker = iii::Worker::from_env().connect().await?;
/// // and a call site can name the function itself, types checked:
/// let g: Greeting = worker.call_fn::<greet>(&Greet { name: "Ada".into() }).await?;
/// # let _ = g; Ok(()) }
/// ```
///
/// The function stays as written and callable directly, so it can be unit
/// tested without an engine.
///
/// Keys (all optional):
/// - `id = "service::name"`: the function id; defaults to the fn name.
/// - `description = ".."`: defaults to the doc comment.
/// - `metadata = {..}`: a JSON object (inline, or as a string).
/// - `crate = path`: where the `iii` crate is, if renamed.
///
/// Accepted shapes: `async fn f()`, `async fn f(input: T)` and
/// `async fn f(input: T, ctx: iii::Context)`, returning `O` or
/// `Result<O, E>` (any return type whose name ends in `Result`, such as
/// `iii::Result<O>`, `std::io::Result<O>` or `anyhow::Result<O>`, is read as
/// a result), where `E` is `iii::Error` (its code is kept), any
/// `std::error::Error` (`invocation_failed`), or `anyhow::Error` (cargo
/// feature `anyhow`). `T` needs `Deserialize` and `JsonSchema`, `O` needs
/// `Serialize` and `JsonSchema`; the request and response formats come from
/// them, and `()` and `serde_json::Value` send none.
///
/// Without the macro, the same registration is:
///
/// ```no_run
/// # #[derive(serde::Deserialize, schemars::JsonSchema)] struct Greet { name: String }
/// # #[derive(serde::Serialize, schemars::JsonSchema)] struct Greeting { message: String }
/// # async fn greet(input: Greet, ctx: iii::Context) -> Result<Greeting, iii::Error> { todo!() }
/// # async fn run(worker: iii::Worker) -> Result<(), iii::Error> {
/// use iii::{Function, Trigger, trigger::{Http, Subscribe}};
/// worker.register_function(
///     Function::new("greetings::greet", greet)
///         .description("Greets a user.")
///         .metadata(serde_json::json!({"team": "growth"})),
/// )?;
/// worker.register_trigger(Trigger::new("greetings::greet", Http::post("/greet")))?;
/// worker.register_trigger(Trigger::new("greetings::greet", Subscribe::new("greet.requested")))?;
/// # Ok(()) }
/// ```
pub use iii_macros::function;
pub use iii_protocol::RegisterService;

/// Binds a trigger to the `#[iii::function]` above it; give one per binding.
///
/// The first argument is the kind, then its keys (checked when the macro
/// expands; a wrong key names the keys the kind takes):
///
/// | kind | keys | engine type |
/// |---|---|---|
/// | `http` | `path` (required), `method` (default `GET`) | `http` |
/// | `cron` | `expression` (required; 6 or 7 fields, seconds first, UTC) | `cron` |
/// | `subscribe` | `topic` (required) | `subscribe` |
/// | `queue` | `topic` (required), `max_retries`, `concurrency`, `visibility_timeout`, `delay_seconds`, `backoff_type`, `backoff_delay_ms`, `max_priority`, `queue_mode` | `durable:subscriber` |
/// | `state` | `scope`, `key` | `state` |
/// | `stream` | `stream_name` (required), `group_id`, `item_id` | `stream` |
/// | `stream_join` | | `stream:join` |
/// | `stream_leave` | | `stream:leave` |
/// | `log` | `level` (`all`, or exactly `trace`, `debug`, `info`, `warn`, `error`) | `log` |
/// | `functions_available` | | `engine::functions-available` |
/// | `workers_available` | | `engine::workers-available` |
/// | `custom = "type-id"` | `config = {..}` | the custom type |
///
/// Every kind also takes `metadata = {..}`, delivered with each fire
/// ([`Context::metadata`]), and each fire says which binding it is for
/// ([`Context::trigger`]: kind, index, config).
///
/// `condition = is_vip` names an `#[iii::function]` returning `bool`, run
/// with the fire's payload first: the fire is skipped when it returns
/// `false` (an `http` request then gets 422). The engine evaluates it on
/// `http`, `cron`, `queue`, `state`, `stream` and `custom` bindings; on
/// `subscribe`, where the engine ignores conditions, the SDK evaluates it
/// (as it passes the metadata on `subscribe` and `queue` fires, which the
/// engine drops).
/// `middleware = [auth, audit]` (`http` only) names `#[iii::function]`s
/// taking [`http::MiddlewareInput`] and returning
/// [`http::MiddlewareVerdict`], run in order after the condition; one may
/// answer the request itself (say, 401).
///
/// ```no_run
/// use iii::http::{ApiRequest, ApiResponse, MiddlewareInput, MiddlewareVerdict};
///
/// #[iii::function]
/// async fn is_big(order: ApiRequest) -> bool {
///     order.body["amount"].as_u64().unwrap_or(0) > 1000
/// }
///
/// #[iii::function]
/// async fn auth(input: MiddlewareInput) -> MiddlewareVerdict {
///     match input.request.headers.get("authorization") {
///         Some(_) => MiddlewareVerdict::Continue,
///         None => MiddlewareVerdict::respond(ApiResponse::new(401, serde_json::json!({}))),
///     }
/// }
///
/// #[iii::function]
/// #[iii::trigger(http, path = "/orders", method = "POST", condition = is_big, middleware = [auth])]
/// async fn take_order(order: ApiRequest) -> ApiResponse {
///     ApiResponse::new(201, order.body)
/// }
/// ```
///
/// A binding's target resolves in the worker's own namespace. An `http`
/// function that returns nothing (`()`) answers 204 No Content.
///
/// ```no_run
/// #[iii::function(id = "reports::nightly")]
/// #[iii::trigger(cron, expression = "0 0 3 * * *")]
/// #[iii::trigger(custom = "ticker", config = {"every": 60}, metadata = {"source": "ticker"})]
/// async fn nightly() {}
/// ```
pub use iii_macros::trigger;

/// Provides a custom trigger type from a type that implements
/// [`trigger_type::TriggerTypeHandler`] and `Default`; the worker registers
/// it when it connects, before its functions. The description defaults to
/// the doc comment (the engine requires one). Bindings reach the handler
/// with the worker to fire them ([`trigger_type::Binding::worker`]).
///
/// ```no_run
/// use iii::trigger_type::{Binding, TriggerTypeHandler};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Every { seconds: u64 }
///
/// /// Fires every `seconds` seconds.
/// #[iii::trigger_type(id = "ticker")]
/// #[derive(Default)]
/// struct Ticker;
///
/// impl TriggerTypeHandler for Ticker {
///     type Config = Every;
///     async fn register(&self, binding: Binding<Every>) -> Result<(), iii::Error> {
///         let period = std::time::Duration::from_secs(binding.config.seconds);
///         tokio::spawn(async move {
///             loop {
///                 tokio::time::sleep(period).await;
///                 let _ = binding.worker.invoke(&binding.function_id).void().await;
///             }
///         });
///         Ok(())
///     }
///     async fn unregister(&self, _id: String) -> Result<(), iii::Error> { Ok(()) }
/// }
/// ```
///
/// Without the macro: `worker.register_trigger_type(TriggerType::new("ticker",
/// "Fires every `seconds` seconds."), Ticker)`.
pub use iii_macros::trigger_type;

/// A `main` for a worker process: it starts a multi-threaded tokio runtime,
/// connects a worker from the environment (`III_URL`, `III_WORKER_NAME`,
/// `III_NAMESPACE`; `name = ".."` is the name when `III_WORKER_NAME` is
/// unset), registers every
/// linked function, runs the body, then serves until ctrl-c.
///
/// ```no_run
/// #[iii::main(name = "greeter")]
/// async fn main(worker: iii::Worker) -> Result<(), iii::Error> {
///     println!("connected as {:?}", worker.worker_id());
///     Ok(())
/// }
/// ```
///
/// The plain tokio equivalent:
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> Result<(), iii::Error> {
///     let worker = iii::Worker::builder().name("greeter").env().connect().await?;
///     println!("connected as {:?}", worker.worker_id());
///     worker.run().await
/// }
/// ```
pub use iii_macros::main;
pub use invoke::{EnqueueReceipt, Invocation};
pub use linked::{FunctionRef, Linked};
pub use trigger::{Trigger, TriggerHandle};
pub use trigger_type::{TriggerType, TriggerTypeHandle};
pub use worker::{ConnectionState, ReconnectPolicy, Worker, WorkerBuilder};

/// The in-process engine (feature `embedded`): the `iii-embedded` crate,
/// which speaks the engine's protocol and serves `http` triggers, for local
/// development and tests. [`WorkerBuilder::embedded_engine`] starts one
/// when no engine URL is given.
#[cfg(feature = "embedded")]
pub use iii_embedded as embedded;

/// The `schemars` the SDK derives request and response formats with (1.x):
/// a type in a function's signature implements its `JsonSchema`.
pub use schemars;
/// The `serde_json` of the SDK's payloads ([`serde_json::Value`]).
pub use serde_json;

/// The SDK version, announced to the engine as the worker's `version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
