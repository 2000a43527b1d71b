//! Write [iii](https://github.com/iii-hq/iii) workers in Rust.
//!
//! A worker connects to the iii engine over WebSocket, registers functions,
//! binds triggers (HTTP routes, cron, queues, pub/sub, state and stream
//! changes, custom types) to them, and calls other workers' functions.
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
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod connection;
pub mod context;
pub mod discovery;
mod dispatch;
pub mod error;
pub mod function;
pub mod handler;
pub mod http;
mod ids;
pub mod invoke;
pub mod linked;
mod outbound;
pub mod protocol;
mod rules;
pub mod schema;
pub mod state;
pub mod trigger;
pub mod trigger_type;
pub mod worker;

pub use context::Context;
pub use dispatch::CALLER_WORKER_ID;
pub use error::{Error, Result};
pub use function::{Function, FunctionHandle};
pub use iii_macros::{function, trigger};
pub use invoke::{EnqueueReceipt, Invocation};
pub use linked::{FunctionRef, Linked};
pub use trigger::{Trigger, TriggerHandle};
pub use trigger_type::{TriggerType, TriggerTypeHandle};
pub use worker::{ConnectionState, ReconnectPolicy, Worker, WorkerBuilder};

/// The SDK version, announced to the engine as the worker's `version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
