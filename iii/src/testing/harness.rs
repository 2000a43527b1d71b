//! [`Harness`]: an engine, a worker serving the program's functions, and
//! an HTTP client for its routes, for integration tests (feature
//! `embedded`).

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use iii_embedded::{Engine, EngineBuilder};
use serde::Serialize;

use crate::error::Error;
use crate::function::Function;
use crate::linked::Linked;
use crate::trigger::Trigger;
use crate::worker::{Worker, WorkerBuilder};

use super::client::{RequestBuilder, Response};

/// An engine and a worker on it serving the program's `#[iii::function]`s
/// (and their triggers), for an integration test in one line; with an
/// HTTP client for the worker's routes and a way to wait for what happens
/// in the background.
///
/// ```no_run
/// use iii::http::{ApiRequest, ApiResponse};
///
/// #[iii::function(id = "greetings::greet")]
/// #[iii::trigger(http, path = "/greet/:name", method = "GET")]
/// async fn greet(req: ApiRequest) -> Result<ApiResponse<String>, iii::Error> {
///     Ok(ApiResponse::ok(format!("Hello, {}!", req.path_param("name")?)))
/// }
///
/// #[tokio::test]
/// async fn greets_over_http() -> Result<(), iii::Error> {
///     let app = iii::testing::Harness::start().await?;
///     let res = app.get("/greet/world").await?;
///     assert_eq!(res.status(), 200);
///     assert_eq!(res.json::<String>()?, "Hello, world!");
///     app.shutdown().await;
///     Ok(())
/// }
/// ```
///
/// Where the engine comes from:
///
/// - by default, an in-process engine of its own ([`crate::embedded`]) on
///   free loopback ports, so tests run in parallel;
/// - with `III_URL` (its worker socket) and `III_HTTP_URL` (its HTTP
///   listener) both set, that engine: the same suite then runs on a real
///   iii engine. The worker's name is made unique per harness; since the
///   program's function ids and routes are the same in every test, the
///   harnesses of one test process take turns there (each waits for the
///   one before it to shut down, and for the engine to let go of its
///   functions).
///
/// [`Harness::shutdown`] stops the worker and the engine; dropping the
/// harness does the same in the background.
#[derive(Debug)]
pub struct Harness {
    worker: Worker,
    http_url: String,
    engine: Option<Engine>,
    /// This harness's turn on an external engine.
    turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// Whether `shutdown` ran.
    stopped: bool,
}

/// Settings of a [`Harness`]: which functions the worker serves, its name,
/// the in-process engine's settings; from [`Harness::builder`].
///
/// ```no_run
/// # async fn run() -> Result<(), iii::Error> {
/// use iii::{Function, Linked, Trigger, trigger::Http};
///
/// let app = iii::testing::Harness::builder()
///     .linked(Linked::Only(vec!["greetings::greet".into()]))
///     .function(Function::new("math::double", |x: i64| async move { Ok::<_, iii::Error>(x * 2) }))
///     .trigger(Trigger::new("math::double", Http::post("/double")))
///     .worker(|w| w.namespace("tests"))
///     .start()
///     .await?;
/// let four: i64 = app.post_json("/double", &2).await?.json()?;
/// # let _ = four; Ok(()) }
/// ```
#[must_use = "`.start().await` starts the harness"]
pub struct HarnessBuilder {
    name: String,
    linked: Linked,
    functions: Vec<Function>,
    triggers: Vec<Trigger>,
    engine: EngineBuilder,
    configure: Option<Box<dyn Fn(WorkerBuilder) -> WorkerBuilder + Send + Sync>>,
    ready_within: Duration,
}

impl std::fmt::Debug for HarnessBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HarnessBuilder")
            .field("name", &self.name)
            .field("linked", &self.linked)
            .field("functions", &self.functions.len())
            .field("triggers", &self.triggers.len())
            .finish_non_exhaustive()
    }
}

/// A worker name unique within this process.
fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The external engine named by `III_URL` and `III_HTTP_URL`, if both are set.
fn external_engine() -> Option<(String, String)> {
    let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    Some((var("III_URL")?, var("III_HTTP_URL")?))
}

/// The turns harnesses of this process take on an external engine.
fn turns() -> Arc<tokio::sync::Mutex<()>> {
    static TURNS: OnceLock<Arc<tokio::sync::Mutex<()>>> = OnceLock::new();
    TURNS
        .get_or_init(|| Arc::new(tokio::sync::Mutex::new(())))
        .clone()
}

impl HarnessBuilder {
    /// The worker's name, made unique with the process id and a counter
    /// (default `test`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Which `#[iii::function]`s of the program the worker serves (default
    /// [`Linked::All`]).
    pub fn linked(mut self, linked: Linked) -> Self {
        self.linked = linked;
        self
    }

    /// One more function for the worker to serve.
    pub fn function(mut self, function: Function) -> Self {
        self.functions.push(function);
        self
    }

    /// One more trigger binding.
    pub fn trigger(mut self, trigger: Trigger) -> Self {
        self.triggers.push(trigger);
        self
    }

    /// Settings of the in-process engine (its ports stay free ones unless
    /// set); not used on an external engine.
    pub fn engine(mut self, engine: EngineBuilder) -> Self {
        self.engine = engine;
        self
    }

    /// Any other setting of the worker (namespace, timeouts, ...); the
    /// harness sets its URL after (and `configure` runs again for each
    /// try, when an external engine makes `start` retry).
    pub fn worker(
        mut self,
        configure: impl Fn(WorkerBuilder) -> WorkerBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure = Some(Box::new(configure));
        self
    }

    /// How long `start` waits for an external engine to let go of
    /// functions and routes an earlier test's worker served (default 10 s).
    pub fn ready_within(mut self, within: Duration) -> Self {
        self.ready_within = within;
        self
    }

    /// Starts the engine (unless `III_URL` and `III_HTTP_URL` name one),
    /// connects the worker and waits until the engine has its functions
    /// and triggers: a function or binding it refuses fails the start,
    /// naming it.
    pub async fn start(self) -> Result<Harness, Error> {
        let HarnessBuilder {
            name,
            linked,
            functions,
            triggers,
            engine,
            configure,
            ready_within,
        } = self;
        let (engine, ws_url, http_url, turn) = match external_engine() {
            Some((ws_url, http_url)) => {
                let turn = turns().lock_owned().await;
                (None, ws_url, http_url, Some(turn))
            }
            None => {
                let engine = engine.start().await.map_err(|e| Error::EngineStart {
                    reason: format!("{e} (the test harness's in-process engine)"),
                })?;
                let (ws, http) = (engine.ws_url(), engine.http_url());
                (Some(engine), ws, http, None)
            }
        };
        let deadline = Instant::now() + ready_within;
        let worker = loop {
            let mut builder = Worker::builder()
                .name(unique(&name))
                .default_timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .linked(linked.clone());
            for function in &functions {
                builder = builder.function(function.duplicate());
            }
            for trigger in &triggers {
                builder = builder.trigger(trigger.clone());
            }
            if let Some(configure) = &configure {
                builder = configure(builder);
            }
            let worker = builder.url(&ws_url).connect().await?;
            let flushed = worker.flush().await;
            let refused = worker.refused_functions();
            if flushed.is_ok() && refused.is_empty() {
                break worker;
            }
            worker.shutdown().await;
            let mut reasons: Vec<String> = refused
                .iter()
                .map(|(id, body)| format!("function `{id}` ({body})"))
                .collect();
            if let Err(e) = flushed {
                reasons.push(e.to_string());
            }
            // A fresh engine refuses for good; a shared one may still hold
            // an earlier test's worker.
            if engine.is_some() || Instant::now() >= deadline {
                return Err(Error::Testing {
                    what: format!("starting the test harness on the engine at {ws_url}"),
                    reason: format!(
                        "the engine refused {}; on a shared engine, another worker may serve the same ids or routes",
                        reasons.join("; ")
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        Ok(Harness {
            worker,
            http_url: http_url.trim_end_matches('/').to_string(),
            engine,
            turn,
            stopped: false,
        })
    }
}

impl Harness {
    /// Starts an in-process engine (or uses the one `III_URL` and
    /// `III_HTTP_URL` name) and a worker serving every `#[iii::function]`
    /// of the program; see [`Harness::builder`] for fewer, or more.
    pub async fn start() -> Result<Harness, Error> {
        Harness::builder().start().await
    }

    /// Settings for a harness.
    pub fn builder() -> HarnessBuilder {
        HarnessBuilder {
            name: "test".into(),
            linked: Linked::All,
            functions: Vec::new(),
            triggers: Vec::new(),
            engine: Engine::builder(),
            configure: None,
            ready_within: Duration::from_secs(10),
        }
    }

    /// The worker: call functions with it ([`Worker::call`],
    /// [`Worker::call_fn`]), read state, publish.
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// The base URL of `http` triggers, e.g. `http://127.0.0.1:40123`.
    pub fn http_url(&self) -> &str {
        &self.http_url
    }

    /// The in-process engine, unless an external one is used.
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// A request to `path` (with its query, if any) on the engine's HTTP
    /// listener, to finish with headers and a body.
    ///
    /// ```no_run
    /// # async fn f(app: iii::testing::Harness) -> Result<(), iii::Error> {
    /// let res = app
    ///     .request("PUT", "/todos/7?notify=1")
    ///     .header("authorization", "Bearer t")
    ///     .json(&serde_json::json!({"done": true}))
    ///     .send()
    ///     .await?;
    /// assert_eq!(res.header("content-type"), Some("application/json"));
    /// # Ok(()) }
    /// ```
    pub fn request(&self, method: &str, path: &str) -> RequestBuilder {
        let path = match path.starts_with('/') {
            true => path.to_string(),
            false => format!("/{path}"),
        };
        super::client::request(method, &format!("{}{path}", self.http_url))
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Response, Error> {
        self.request("GET", path).send().await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<Response, Error> {
        self.request("DELETE", path).send().await
    }

    /// `POST path` with `body` as JSON.
    pub async fn post_json<T: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<Response, Error> {
        self.request("POST", path).json(body).send().await
    }

    /// `PUT path` with `body` as JSON.
    pub async fn put_json<T: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<Response, Error> {
        self.request("PUT", path).json(body).send().await
    }

    /// Polls `check` until it returns `Some` (see
    /// [`eventually`](super::eventually)), failing after `within`.
    ///
    /// ```no_run
    /// # async fn f(app: iii::testing::Harness) -> Result<(), iii::Error> {
    /// use std::time::Duration;
    /// app.post_json("/orders", &serde_json::json!({"id": "o1"})).await?;
    /// // A subscriber records the order in the background:
    /// let order: serde_json::Value = app
    ///     .eventually(Duration::from_secs(5), "the order to be recorded", || async {
    ///         app.worker().state().get("orders", "o1").await.ok().flatten()
    ///     })
    ///     .await?;
    /// # let _ = order; Ok(()) }
    /// ```
    pub async fn eventually<T, F, Fut>(
        &self,
        within: Duration,
        what: &str,
        check: F,
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        super::eventually(within, what, check).await
    }

    /// Stops the worker (its running handlers finish first) and the
    /// in-process engine.
    pub async fn shutdown(mut self) {
        self.stopped = true;
        self.worker.shutdown().await;
        if let Some(engine) = self.engine.take() {
            engine.shutdown().await;
        }
        self.turn.take();
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        let worker = self.worker.clone();
        let engine = self.engine.take();
        let turn = self.turn.take();
        // Without a runtime, the sockets close when theirs ends.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                worker.shutdown().await;
                if let Some(engine) = engine {
                    engine.shutdown().await;
                }
                drop(turn);
            });
        }
    }
}
