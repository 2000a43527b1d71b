//! `WorkerBuilder`: settings, registrations made before connecting, connect.

use std::sync::Arc;
use std::time::Duration;

use super::config::{Config, ReconnectPolicy};
use super::connection_state::ConnectionState;
use super::{Inner, Worker};
use crate::error::Error;
use crate::function::Function;
use crate::linked::Linked;
use crate::sync::lock;
use crate::trigger::Trigger;

/// Configures and connects a [`Worker`].
///
/// ```no_run
/// use std::time::Duration;
/// use iii::{ReconnectPolicy, Worker};
///
/// # async fn f() -> Result<(), iii::Error> {
/// let worker = Worker::builder()
///     .url("ws://127.0.0.1:49134")
///     .name("billing")
///     .namespace("payments")
///     .header("authorization", "Bearer s3cret")
///     .default_timeout(Duration::from_secs(5))
///     .reconnect(ReconnectPolicy::default().max_attempts(20))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `.connect().await`"]
pub struct WorkerBuilder {
    config: Config,
    functions: Vec<Function>,
    triggers: Vec<Trigger>,
    linked: Linked,
    /// A malformed environment variable, reported by `connect`.
    env_error: Option<Error>,
    /// Whether an engine URL was given (`III_URL` or [`WorkerBuilder::url`]).
    url_given: bool,
    /// The in-process engine to start when no URL is given.
    #[cfg(feature = "embedded")]
    embedded: Option<iii_embedded::EngineBuilder>,
}

impl WorkerBuilder {
    pub(crate) fn new() -> Self {
        WorkerBuilder {
            config: Config::new(),
            functions: Vec::new(),
            triggers: Vec::new(),
            linked: Linked::All,
            env_error: None,
            url_given: false,
            #[cfg(feature = "embedded")]
            embedded: None,
        }
    }

    /// Reads, where set: `III_URL`, `III_WORKER_NAME`, `III_NAMESPACE`;
    /// `III_AUTH_TOKEN` or `III_TOKEN` (the name the official SDKs read;
    /// sent as `authorization: Bearer <token>` on the upgrade, unless an
    /// `authorization` header is given otherwise) and `III_HEADERS` (more
    /// upgrade headers, one `name: value` a line), for an engine whose
    /// listener authenticates workers; and
    /// `III_TLS_CA_FILE` (PEM roots to trust for `wss://`, with the `tls`
    /// feature).
    pub fn env(self) -> Self {
        self.env_from(|name| std::env::var(name).ok())
    }

    /// [`WorkerBuilder::env`], reading variables with `var`.
    fn env_from(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        if let Some(url) = var("III_URL") {
            self.config.url = url;
            self.url_given = true;
        }
        if let Some(name) = var("III_WORKER_NAME") {
            self.config.name = name;
        }
        if let Some(ns) = var("III_NAMESPACE") {
            self.config.namespace = Some(ns);
        }
        let tokens = (
            var("III_AUTH_TOKEN").map(|t| t.trim().to_string()),
            var("III_TOKEN").map(|t| t.trim().to_string()),
        );
        match tokens {
            (Some(ours), Some(theirs)) if ours != theirs => {
                // Neither token is quoted: both are secrets.
                self.env_error.get_or_insert(Error::invalid(
                    "III_AUTH_TOKEN and III_TOKEN",
                    "both are set, to different tokens; unset one of them (III_TOKEN is the name the official SDKs read)",
                ));
            }
            (ours, theirs) => self.config.env_token = ours.or(theirs),
        }
        if let Some(headers) = var("III_HEADERS") {
            let lines = headers.lines().map(str::trim).enumerate();
            for (n, line) in lines.filter(|(_, l)| !l.is_empty()) {
                match line.split_once(':') {
                    Some((name, value)) => self = self.header(name.trim(), value.trim()),
                    // `connect` fails with this. The line is not quoted: it
                    // may hold a secret.
                    None => {
                        self.env_error.get_or_insert(Error::invalid(
                            "III_HEADERS",
                            format!(
                                "line {} has no `:`; write one `name: value` header per line",
                                n + 1
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(file) = var("III_TLS_CA_FILE") {
            self.config.tls_roots_file = Some(file);
        }
        self
    }

    /// The engine's WebSocket URL (default `ws://127.0.0.1:49134`).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.config.url = url.into();
        self.url_given = true;
        self
    }

    /// Starts `engine`, an in-process engine, at `connect` and connects to
    /// it, when no engine URL is given (neither `III_URL` nor
    /// [`WorkerBuilder::url`]); with a URL, `engine` is not started. The
    /// engine runs until the [`Worker`] and its clones are dropped. Needs
    /// the `embedded` feature.
    ///
    /// The same program then runs alone on a laptop or in CI, and joins
    /// the real engine in production:
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), iii::Error> {
    /// use iii::embedded::Engine;
    ///
    /// // Without III_URL: HTTP triggers answer on http://127.0.0.1:3111.
    /// let worker = iii::Worker::from_env()
    ///     .embedded_engine(Engine::builder().http_port(3111))
    ///     .connect()
    ///     .await?;
    /// if let Some(engine) = worker.embedded_engine() {
    ///     println!("serving on {}", engine.http_url());
    /// }
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "embedded")]
    pub fn embedded_engine(mut self, engine: iii_embedded::EngineBuilder) -> Self {
        self.embedded = Some(engine);
        self
    }

    /// The worker name; it must be unique among live workers in the namespace
    /// (default `hostname:pid`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// The namespace the worker's functions are registered in.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.config.namespace = Some(namespace.into());
        self
    }

    /// A one-line description shown by `engine::workers::list`.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.config.description = Some(description.into());
        self
    }

    /// An extra header on the WebSocket upgrade request (for RBAC auth),
    /// also sent when channel ends and the telemetry socket attach.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.headers.push((name.into(), value.into()));
        self
    }

    /// `authorization: Bearer <token>` on the upgrade request (and on
    /// channel and telemetry sockets). `III_AUTH_TOKEN` sets it from the
    /// environment.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let worker = iii::Worker::builder()
    ///     .url("ws://engine.internal:49134")
    ///     .bearer_token(std::env::var("ENGINE_TOKEN")?)
    ///     .header("x-team", "payments")
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// It replaces any `authorization` header given before, and wins over
    /// `III_AUTH_TOKEN` and `III_TOKEN`.
    pub fn bearer_token(mut self, token: impl AsRef<str>) -> Self {
        let value = format!("Bearer {}", token.as_ref());
        self.config
            .headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
        self.header("authorization", value)
    }

    /// Trusts the certificates in `pem` (one or more `BEGIN CERTIFICATE`
    /// blocks) as roots for a `wss://` engine, besides the platform's and
    /// the Mozilla roots: for an engine with a self-signed or private CA
    /// certificate.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let ca = std::fs::read("engine-ca.pem")?;
    /// let worker = iii::Worker::builder()
    ///     .url("wss://engine.internal:49134")
    ///     .tls_root_certificate(ca)
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        let source = format!(
            "TLS root certificate {} (given to `tls_root_certificate`)",
            self.config.tls_roots.len() + 1
        );
        self.config.tls_roots.push((source, pem.into()));
        self
    }

    /// Timeout of calls that set none (default 30 s).
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.config.default_timeout = timeout;
        self
    }

    /// How long `connect` keeps trying before it fails (default 10 s).
    ///
    /// Once the worker is announced, `connect` waits for the engine to
    /// apply the program's trigger bindings; there this is the longest
    /// wait without progress (a batch of bindings acknowledged), not the
    /// whole: an engine that takes seconds over many routes still gets
    /// them all, and one that stops answering fails `connect` with
    /// [`Error::BindingsStalled`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How long shutdown waits for running handlers (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Keepalive: send a ping every `interval`, and treat the link as dead
    /// after `idle_timeout` without any frame (defaults 20 s and 60 s).
    pub fn keepalive(mut self, interval: Duration, idle_timeout: Duration) -> Self {
        self.config.ping_interval = interval;
        self.config.idle_timeout = idle_timeout;
        self
    }

    /// What to do when the connection drops (default: retry forever with
    /// exponential backoff from 200 ms to 10 s, with jitter).
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.config.reconnect = policy;
        self
    }

    /// The largest frame the worker sends, in bytes (default 16 MiB, the
    /// iii engine's limit: it drops the whole connection of a worker that
    /// sends more). A call, result or registration that would be bigger
    /// fails on its own with [`Error::FrameTooLarge`], and the connection
    /// stays up. Raise it only for an engine that reads larger frames.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.config.max_frame_size = bytes;
        self
    }

    /// How many invocations the worker runs at once, at most (default
    /// 10,000; streamed responses still being sent count too). An
    /// invocation past the limit is not run: its caller gets the error
    /// `too_many_invocations` at once, instead of the worker queueing work
    /// until memory runs out.
    pub fn max_concurrent_invocations(mut self, limit: usize) -> Self {
        self.config.max_concurrent_invocations = limit;
        self
    }

    /// How long the first step of an invocation (its handler's code up to
    /// its first `.await`) may run on the worker's reader, in place
    /// (default 100 us). A task of its own costs a quick invocation more
    /// than the rest of its path in the SDK, so the reader runs each new
    /// invocation to its first wait and spawns it only then. A function
    /// whose first steps take longer than this three times in a row starts
    /// every later invocation in a task of its own (one long step may be
    /// the thread's, preempted mid-step, rather than the handler's); and
    /// while frames keep arriving, the reader runs at most two budgets of
    /// steps in place before it spawns the rest of the burst, so a busy
    /// worker's steps still spread over the runtime's threads.
    /// `Duration::ZERO` gives every invocation a task of its own from the
    /// start.
    ///
    /// The first step is polled with a waker that does nothing, then by
    /// tokio in the invocation's task: a hand-written future that keeps
    /// only the waker of its first poll (instead of the latest, as the
    /// `Future` contract asks) would never be woken; `ZERO` is the way
    /// out. A handler that blocks its thread (a synchronous wait, a long
    /// computation) holds the reader three times, then its thread as any
    /// task does; run such work with `tokio::task::spawn_blocking`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = iii::Worker::builder().first_step_budget(Duration::ZERO);
    /// ```
    pub fn first_step_budget(mut self, budget: Duration) -> Self {
        self.config.first_step_budget = budget;
        self
    }

    /// Registers a function as part of the first connection.
    pub fn function(mut self, function: Function) -> Self {
        self.functions.push(function);
        self
    }

    /// Registers a trigger as part of the first connection.
    pub fn trigger(mut self, trigger: Trigger) -> Self {
        self.triggers.push(trigger);
        self
    }

    /// Which `#[iii::function]`s in the program to register on connect
    /// (default: all of them).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), iii::Error> {
    /// use iii::{Linked, Worker};
    /// // A worker process that serves only part of the program's functions:
    /// let worker = Worker::from_env()
    ///     .linked(Linked::Only(vec!["billing::charge".into(), "billing::refund".into()]))
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn linked(mut self, linked: Linked) -> Self {
        self.linked = linked;
        self
    }

    /// Connects, announces the worker with `engine::workers::register` and
    /// sends every registration made so far.
    ///
    /// Retries a refused or failed connection until the connect timeout; an
    /// invalid URL or setting fails at once, and so does a rejection by the
    /// engine (such as a worker-name conflict).
    ///
    /// Returns once the engine has applied the program's trigger bindings.
    /// That may take longer than the connect timeout while the engine keeps
    /// acknowledging them (see [`connect_timeout`](Self::connect_timeout));
    /// a binding the engine refused fails it with
    /// [`Error::BindingsRefused`], and an engine that stops acknowledging
    /// with [`Error::BindingsStalled`].
    pub async fn connect(mut self) -> Result<Worker, Error> {
        if let Some(error) = self.env_error.take() {
            return Err(error);
        }
        // Read for a `wss://` engine only: a leftover variable does not
        // fail a plain connection.
        let secure = self.config.url.starts_with("wss://");
        if let Some(file) = self.config.tls_roots_file.take().filter(|_| secure) {
            let pem = std::fs::read(&file).map_err(|e| {
                Error::invalid("III_TLS_CA_FILE", format!("`{file}` cannot be read: {e}"))
            })?;
            self.config.tls_roots.push((
                format!("the TLS root certificate file `{file}` (III_TLS_CA_FILE)"),
                pem,
            ));
        }
        #[cfg(feature = "embedded")]
        let embedded = match self.embedded.take().filter(|_| !self.url_given) {
            Some(engine) => {
                let engine = engine.start().await.map_err(|e| Error::EngineStart {
                    reason: e.to_string(),
                })?;
                self.config.url = engine.ws_url();
                Some(engine)
            }
            None => None,
        };
        self.config.apply_env_token();
        self.config.validate()?;
        let connector = crate::tls::Connector::for_url(&self.config.url, &self.config.tls_roots)?;
        let linked = crate::linked::select(&self.linked)?;
        let linked_types = crate::linked::select_trigger_types(&self.linked)?;
        let inner = Inner {
            #[cfg(feature = "embedded")]
            embedded,
            ..Inner::new(self.config, connector)
        };
        let worker = Worker {
            inner: Arc::new(inner),
        };
        for entry in &linked_types {
            (entry.register)(&worker)?;
        }
        // Bound once the first session is the worker's (see `connect_first`).
        let late: Vec<Trigger> = linked
            .iter()
            .flat_map(|entry| entry.triggers())
            .chain(self.triggers)
            .collect();
        // Each binding of a function of this worker adds its alias.
        let functions = linked.len() + self.functions.len() + late.len();
        lock(&worker.inner.link)
            .registry
            .reserve(functions, late.len());
        for function in crate::linked::build_all(&linked) {
            worker.register_function(function)?;
        }
        for function in self.functions {
            worker.register_function(function)?;
        }
        worker.inner.state.send_replace(ConnectionState::Connecting);
        let session = match super::connect::connect_first(&worker, late).await {
            Ok(session) => session,
            Err(error) => {
                worker.inner.state.send_replace(ConnectionState::Failed);
                return Err(error);
            }
        };
        // Built only when it is logged.
        if tracing::enabled!(tracing::Level::INFO) {
            let serves = lock(&worker.inner.link).registry.summary();
            let url = worker.inner.config.url_shown();
            let name = &worker.inner.config.name;
            tracing::info!("worker `{name}` connected to the iii engine at {url}: {serves}");
        }
        let supervisor = tokio::spawn(super::connect::supervise(worker.clone(), session));
        *lock(&worker.inner.supervisor) = Some(supervisor);
        Ok(worker)
    }
}

#[cfg(test)]
mod tests;
