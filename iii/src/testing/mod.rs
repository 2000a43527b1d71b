//! A test kit for workers: unit tests of handlers with no engine, and
//! integration tests against a real one, each in a line or two.
//!
//! **Unit tests.** A handler is a plain `async fn` (`#[iii::function]`
//! keeps it as written), so a test calls it. [`TestContext`] gives it a
//! [`Context`](crate::Context) whose worker is not connected: every call
//! it makes (to other functions, publishes, log lines, state and stream
//! operations) is answered here and recorded, for the test to read
//! afterwards. [`ApiRequest::builder`](crate::http::ApiRequest::builder)
//! makes the request an `http` trigger would deliver.
//!
//! ```
//! use iii::http::{ApiRequest, ApiResponse};
//! use iii::testing::TestContext;
//!
//! #[iii::function(id = "greetings::greet")]
//! #[iii::trigger(http, path = "/greet/:name", method = "GET")]
//! async fn greet(req: ApiRequest, ctx: iii::Context) -> Result<ApiResponse<String>, iii::Error> {
//!     let name = req.path_param("name")?;
//!     ctx.publish("greeted", &name).await?;
//!     Ok(ApiResponse::ok(format!("Hello, {name}!")))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), iii::Error> {
//! let kit = TestContext::new();
//! let req = ApiRequest::builder("GET", "/greet/:name").path_param("name", "Ada").build();
//! let res = greet(req, kit.context()).await?;
//! assert_eq!(res.body, "Hello, Ada!");
//! assert_eq!(kit.published()[0].data::<String>()?, "Ada");
//! # Ok(()) }
//! ```
//!
//! **Integration tests** (feature `testing`). `Harness::start()` starts
//! the in-process engine on free ports, connects a worker serving the
//! program's `#[iii::function]`s and their triggers, and gives an HTTP
//! client for its routes; with `III_URL` and `III_HTTP_URL` set it uses
//! that engine instead, so one suite runs on both.
//!
//! ```no_run
//! # #[cfg(feature = "testing")]
//! # async fn run() -> Result<(), iii::Error> {
//! let app = iii::testing::Harness::start().await?;
//! let res = app.get("/greet/Ada").await?;
//! assert_eq!(res.status(), 200);
//! app.shutdown().await;
//! # Ok(()) }
//! ```

#[cfg(feature = "testing")]
mod client;
mod context;
pub(crate) mod double;
#[cfg(feature = "testing")]
mod harness;
mod records;
mod request;

use std::future::Future;
use std::time::{Duration, Instant};

#[cfg(feature = "testing")]
pub use client::{RequestBuilder, Response, request};
pub use context::{InvocationBuilder, TestContext};
#[cfg(feature = "testing")]
pub use harness::{Harness, HarnessBuilder};
pub use records::{Call, CallKind, Event, LogLine, Published, StateWrite, StreamWrite, WriteKind};
pub use request::ApiRequestBuilder;

use crate::error::Error;

/// Polls `check` until it returns `Some`, and returns that; fails naming
/// `what` once `within` has passed without it. For what happens in the
/// background (a trigger firing, a queue draining), instead of a sleep
/// that hopes it was long enough.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), iii::Error> {
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
///
/// let ticks = std::sync::Arc::new(AtomicU32::new(0));
/// let counter = ticks.clone();
/// tokio::spawn(async move {
///     for _ in 0..3 {
///         counter.fetch_add(1, Ordering::SeqCst);
///         tokio::task::yield_now().await;
///     }
/// });
/// let seen = iii::testing::eventually(Duration::from_secs(5), "three ticks", || async {
///     let n = ticks.load(Ordering::SeqCst);
///     (n == 3).then_some(n)
/// })
/// .await?;
/// assert_eq!(seen, 3);
///
/// let never = iii::testing::eventually(Duration::from_millis(50), "a miracle", || async { None::<()> }).await;
/// assert!(never.unwrap_err().to_string().contains("a miracle"));
/// # Ok(()) }
/// ```
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::Testing {
                what: format!("waiting for {what}"),
                reason: format!(
                    "it did not happen within {within:?}; give it longer, or check what should cause it"
                ),
            });
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests;
