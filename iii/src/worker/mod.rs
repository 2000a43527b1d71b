//! The worker: builder, connection state, registrations, shutdown.
//!
//! The worker keeps what outlives a connection (settings, registrations,
//! state) and holds the live session, if any. Every frame goes out
//! through a session; nothing here touches a socket.

mod builder;
pub(crate) mod config;
mod connect;
mod connection_state;
mod engine_features;
mod in_flight;
mod register;
pub(crate) mod registry;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iii_protocol::ErrorBody;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use builder::WorkerBuilder;
pub use config::{DEFAULT_URL, ReconnectPolicy};
pub use connection_state::ConnectionState;

use crate::error::{Error, FlushFailure};
use crate::session::{Closed, Failure, Fatal, Frame, PongWait, Rules, Session};
use crate::sync::{lock, until};
use config::Config;
use in_flight::InFlight;
pub(crate) use in_flight::InFlightGuard;
use registry::{Registry, Route};

/// A connected worker. Cheap to clone; every clone drives the same connection.
///
/// The connection (and reconnecting) lives until [`Worker::shutdown`]:
/// dropping every handle does not close it.
///
/// ```no_run
/// use iii::{Function, Worker, trigger::{Http, Trigger}};
///
/// # async fn run() -> Result<(), iii::Error> {
/// async fn greet(name: String) -> Result<String, iii::Error> {
///     Ok(format!("Hello, {name}!"))
/// }
///
/// let worker = Worker::from_env().name("greeter").connect().await?;
/// worker.register_function(Function::new("greetings::greet", greet))?;
/// worker.register_trigger(Trigger::new("greetings::greet", Http::post("/greet")))?;
/// let hello: String = worker.call("greetings::greet", "Ada").await?;
/// assert_eq!(hello, "Hello, Ada!");
/// worker.run().await // serves until ctrl-c or shutdown
/// # }
/// ```
///
/// # Everything a worker does
///
/// Its methods live beside their subjects (the last column); this is the
/// whole of them (a test keeps the list whole):
///
/// | subject | methods | in `iii/src/` |
/// |---|---|---|
/// | making one | [`builder`](Worker::builder), [`from_env`](Worker::from_env) | `worker/` |
/// | who it is | [`name`](Worker::name), [`namespace`](Worker::namespace), [`url`](Worker::url), [`worker_id`](Worker::worker_id), [`max_frame_size`](Worker::max_frame_size) | `worker/mod.rs` |
/// | its engine | [`engine_features`](Worker::engine_features), [`engine_takes_triggers`](Worker::engine_takes_triggers), `embedded_engine` (feature `embedded`) | `worker/engine_features.rs`, `worker/mod.rs` |
/// | the link | [`connection_state`](Worker::connection_state), [`watch_connection_state`](Worker::watch_connection_state), [`wait_for_state`](Worker::wait_for_state), [`wait_connected`](Worker::wait_connected), [`flush`](Worker::flush), [`run`](Worker::run), [`shutdown`](Worker::shutdown), [`is_shutting_down`](Worker::is_shutting_down) | `worker/` |
/// | registrations | [`register_function`](Worker::register_function), [`unregister_function`](Worker::unregister_function), [`register_trigger`](Worker::register_trigger), [`unregister_trigger`](Worker::unregister_trigger), [`register_trigger_type`](Worker::register_trigger_type), [`unregister_trigger_type`](Worker::unregister_trigger_type), [`register_service`](Worker::register_service) | `worker/register.rs` |
/// | calls | [`invoke`](Worker::invoke), [`call`](Worker::call), [`call_fn`](Worker::call_fn) | `invoke.rs`, `linked.rs` |
/// | events | [`publish`](Worker::publish), [`publish_durable`](Worker::publish_durable) | `publish.rs` |
/// | state and streams | [`state`](Worker::state), [`stream`](Worker::stream), [`list_streams`](Worker::list_streams), [`create_stream`](Worker::create_stream) | `state.rs`, `stream.rs`, `stream_store.rs` |
/// | channels | [`create_channel`](Worker::create_channel), [`create_channel_with_buffer`](Worker::create_channel_with_buffer), [`open_reader`](Worker::open_reader), [`open_writer`](Worker::open_writer) | `channel/` |
/// | logs | [`logger`](Worker::logger) | `logger/` |
/// | looking around | [`list_functions`](Worker::list_functions), [`list_functions_where`](Worker::list_functions_where), [`list_workers`](Worker::list_workers), [`list_workers_where`](Worker::list_workers_where), [`list_triggers`](Worker::list_triggers), [`list_triggers_where`](Worker::list_triggers_where), [`list_trigger_types`](Worker::list_trigger_types), [`list_trigger_types_where`](Worker::list_trigger_types_where), [`function_info`](Worker::function_info), [`trigger_type_info`](Worker::trigger_type_info), [`trigger_info`](Worker::trigger_info), [`worker_info`](Worker::worker_info), [`health`](Worker::health), [`functions_available`](Worker::functions_available), [`on_functions_available`](Worker::on_functions_available) | `discovery/`, `availability.rs` |
#[derive(Clone)]
pub struct Worker {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.inner.config.name)
            .field("state", &self.connection_state())
            .finish_non_exhaustive()
    }
}

/// The live session, and everything to replay on the next one. One lock,
/// so a registration is either in a session's replay or sent on it after.
pub(crate) struct Link {
    /// Set while a session is open and its replay has been queued.
    pub(crate) session: Option<Session>,
    pub(crate) registry: Registry,
    /// The session's bindings wait for its announcement: a binding made
    /// meanwhile is sent with them, not before.
    pub(crate) bindings_pending: bool,
    /// Bindings sent on the live session since its last ping: every
    /// [`connect::BINDINGS_PER_PING`] get one, whose pong tells
    /// [`Worker::flush`] that the engine is still applying them.
    pub(crate) bindings_since_ping: usize,
}

/// Identity the engine gave the current (or last) connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identity {
    pub(crate) worker_id: Option<String>,
    pub(crate) reattach_token: Option<String>,
    /// The feature tokens of its `workerregistered`.
    pub(crate) features: Vec<String>,
}

/// Why the worker stopped for good.
#[derive(Debug, Clone)]
pub(crate) enum Stopped {
    /// The engine refused it.
    Fatal(Fatal),
    /// Reconnecting failed as many times as the policy allows.
    GaveUp { attempts: u32, last: String },
}

impl Stopped {
    fn to_error(&self, url: &str) -> Error {
        match self {
            Stopped::Fatal(fatal) => fatal.to_error(url),
            Stopped::GaveUp { attempts, last } => Error::Connect {
                url: url.to_string(),
                reason: format!("{last}; gave up after {attempts} reconnect attempts"),
            },
        }
    }
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    /// Where this worker's channel sockets go.
    pub(crate) channels: crate::channel::Endpoint,
    /// How its sockets are opened (TLS for `wss://`).
    pub(crate) connector: crate::tls::Connector,
    pub(crate) state: watch::Sender<ConnectionState>,
    pub(crate) link: Mutex<Link>,
    pub(crate) identity: Mutex<Identity>,
    pub(crate) in_flight: InFlight,
    pub(crate) shutdown: watch::Sender<bool>,
    /// Why the worker moved to `Failed`.
    pub(crate) stopped: Mutex<Option<Stopped>>,
    pub(crate) supervisor: Mutex<Option<JoinHandle<()>>>,
    /// The in-process engine this worker started, kept running as long
    /// as the worker.
    #[cfg(feature = "embedded")]
    pub(crate) embedded: Option<iii_embedded::Engine>,
    /// The test double that answers this worker's outgoing calls instead
    /// of an engine ([`crate::testing::TestContext`]); `None` for every
    /// worker that [`WorkerBuilder::connect`] makes.
    pub(crate) double: Option<Arc<crate::testing::double::Double>>,
}

impl Inner {
    /// A worker's state before it connects: disconnected, nothing
    /// registered, no engine of its own, no test double.
    pub(crate) fn new(config: Config, connector: crate::tls::Connector) -> Inner {
        let (state, _) = watch::channel(ConnectionState::Disconnected);
        let (shutdown, _) = watch::channel(false);
        Inner {
            channels: crate::channel::Endpoint::new(&config.url)
                .with_headers(&config.headers)
                .with_connector(connector.clone()),
            connector,
            config,
            state,
            link: Mutex::new(Link {
                session: None,
                registry: Registry::default(),
                bindings_pending: false,
                bindings_since_ping: 0,
            }),
            identity: Mutex::new(Identity::default()),
            in_flight: InFlight::default(),
            shutdown,
            stopped: Mutex::new(None),
            supervisor: Mutex::new(None),
            #[cfg(feature = "embedded")]
            embedded: None,
            double: None,
        }
    }
}

impl Worker {
    /// A builder with the defaults: `ws://127.0.0.1:49134`, name `hostname:pid`.
    pub fn builder() -> WorkerBuilder {
        WorkerBuilder::new()
    }

    /// A builder configured from the environment (`III_URL`,
    /// `III_WORKER_NAME`, `III_NAMESPACE` and the rest that
    /// [`WorkerBuilder::env`] reads, each optional): the usual start, and
    /// the same as `Worker::builder().env()`.
    pub fn from_env() -> WorkerBuilder {
        WorkerBuilder::new().env()
    }

    /// The worker name announced to the engine.
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The namespace the worker's functions live in (`None` = `default`).
    pub fn namespace(&self) -> Option<&str> {
        self.inner.config.namespace.as_deref()
    }

    /// The in-process engine this worker started
    /// ([`WorkerBuilder::embedded_engine`]), if it started one: its
    /// [`http_url`](iii_embedded::Engine::http_url) is where the worker's
    /// `http` triggers answer.
    #[cfg(feature = "embedded")]
    pub fn embedded_engine(&self) -> Option<&iii_embedded::Engine> {
        self.inner.embedded.as_ref()
    }

    /// The `http` routes of this worker's functions, for
    /// [`OpenApi::of`](crate::openapi::OpenApi::of).
    pub(crate) fn http_routes(&self) -> Vec<crate::openapi::route::Route> {
        lock(&self.inner.link).registry.http_routes()
    }

    /// The engine URL.
    pub fn url(&self) -> &str {
        &self.inner.config.url
    }

    /// Where this worker's channel sockets go.
    pub(crate) fn channel_endpoint(&self) -> crate::channel::Endpoint {
        self.inner.channels.clone()
    }

    /// The largest frame this worker sends, in bytes (see
    /// [`WorkerBuilder::max_frame_size`]).
    pub fn max_frame_size(&self) -> usize {
        self.inner.config.max_frame_size
    }

    /// The id the engine gave the current connection.
    pub fn worker_id(&self) -> Option<String> {
        lock(&self.inner.identity).worker_id.clone()
    }

    /// Whether [`Worker::shutdown`] has been called.
    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// The live session, if connected (a session that just died counts as
    /// none, though the supervisor has not cleared it yet).
    pub(crate) fn session(&self) -> Option<Session> {
        lock(&self.inner.link)
            .session
            .clone()
            .filter(Session::is_open)
    }

    /// Where an invocation of `function_id` goes (see [`Registry::route`]).
    pub(crate) fn route(&self, function_id: &str) -> Route {
        lock(&self.inner.link)
            .registry
            .route(function_id, self.name())
    }

    /// Counts one more invocation running, unless as many as the limit
    /// ([`WorkerBuilder::max_concurrent_invocations`]) are; the guard
    /// counts it out.
    pub(crate) fn enter_invocation(&self) -> Option<InFlightGuard> {
        let limit = self.inner.config.max_concurrent_invocations;
        self.inner.in_flight.try_enter(limit)
    }

    /// The provider of trigger type `id`, if this worker provides it.
    pub(crate) fn trigger_provider(
        &self,
        id: &str,
    ) -> Option<Arc<dyn crate::trigger_type::ErasedProvider>> {
        let link = lock(&self.inner.link);
        link.registry
            .trigger_types
            .get(id)
            .map(|e| e.provider.clone())
    }

    /// Reports the engine's refusal of binding `id` on its handle.
    pub(crate) fn record_binding_refusal(&self, id: &str, error: ErrorBody) {
        if let Some(entry) = lock(&self.inner.link).registry.triggers.get(id) {
            entry.status.send_replace(Some(error));
        }
    }

    /// Reports the engine's refusal of function `id` on its handle.
    pub(crate) fn record_function_refusal(&self, id: &str, error: ErrorBody) {
        if let Some(entry) = lock(&self.inner.link).registry.functions.get(id) {
            entry.status.send_replace(Some(error));
        }
    }

    /// The functions the engine refused, with its reasons (for the test
    /// harness, which retries while an earlier test's worker still holds
    /// the same ids).
    #[cfg(feature = "testing")]
    pub(crate) fn refused_functions(&self) -> Vec<(String, ErrorBody)> {
        let link = lock(&self.inner.link);
        let mut refused: Vec<_> = link
            .registry
            .functions
            .iter()
            .filter_map(|(id, entry)| entry.status.get().map(|e| (id.clone(), e)))
            .collect();
        refused.sort_by(|a, b| a.0.cmp(&b.0));
        refused
    }

    /// A worker that is never connected, whose outgoing calls `double`
    /// answers ([`crate::testing::TestContext`]).
    pub(crate) fn with_double(name: &str, double: Arc<crate::testing::double::Double>) -> Worker {
        let mut config = Config::new();
        config.name = name.to_string();
        config.url = "ws://test.invalid:0".into();
        let inner = Inner {
            double: Some(double),
            ..Inner::new(config, crate::tls::Connector::default())
        };
        Worker {
            inner: Arc::new(inner),
        }
    }

    /// The most invocations it runs at once.
    pub(crate) fn max_concurrent_invocations(&self) -> usize {
        self.inner.config.max_concurrent_invocations
    }

    /// See [`WorkerBuilder::first_step_budget`].
    pub(crate) fn first_step_budget(&self) -> Duration {
        self.inner.config.first_step_budget
    }

    /// The rules this worker's frames are encoded by (its frame limit).
    pub(crate) fn rules(&self) -> Rules {
        Rules {
            max_frame: self.inner.config.max_frame_size,
        }
    }

    /// Encodes a frame by the worker's rules; `what` names it in errors.
    pub(crate) fn encode<M: serde::Serialize + ?Sized>(
        &self,
        message: &M,
        what: impl Fn() -> String,
    ) -> Result<Frame, Error> {
        self.rules().encode(message, what)
    }

    /// Sends a frame on `session` if it is still open, else on whichever
    /// session is live now (the engine may have reattached us meanwhile).
    /// `false` if neither takes it.
    pub(crate) fn send_on(&self, session: &Session, frame: Frame) -> bool {
        match session.send(frame) {
            Ok(()) => true,
            Err(Closed(frame)) => self.session().is_some_and(|live| live.send(frame).is_ok()),
        }
    }

    /// Waits until the engine has read every frame this worker sent before
    /// the call, registrations included, and reports the trigger bindings
    /// it refused meanwhile.
    ///
    /// The engine acknowledges neither functions nor triggers, so another
    /// worker calling a function right after it was registered can race the
    /// registration. The engine answers pings in order, so the answer to a
    /// ping sent now proves everything before it was processed; a binding
    /// it refused by then (an invalid cron expression, a clashing route)
    /// fails the flush with [`Error::BindingsRefused`], naming the function
    /// and the reason, once. (A worker-provided trigger type answers in its
    /// own time: see [`crate::TriggerHandle::rejected`].)
    ///
    /// It waits as long as the engine makes progress: a ping goes out after
    /// every 32 bindings made on a live worker, and the worker's
    /// `default_timeout` bounds the wait between two answers, not the
    /// whole flush (iii 0.23 takes seconds to apply a thousand routes).
    ///
    /// ```no_run
    /// # async fn f(worker: iii::Worker, other: iii::Worker) -> Result<(), iii::Error> {
    /// worker.register_function(iii::Function::new("math::inc", |x: i64| async move { Ok::<_, iii::Error>(x + 1) }))?;
    /// worker.flush().await?; // now every worker can call it
    /// let two: i64 = other.call("math::inc", &1).await?;
    /// # let _ = two; Ok(()) }
    /// ```
    pub async fn flush(&self) -> Result<(), Error> {
        let not_connected = Error::Flush(FlushFailure::NotConnected);
        let session = self.session().ok_or(not_connected)?;
        let target = session
            .ping()
            .map_err(|_| Error::Flush(FlushFailure::NotConnected))?;
        let timeout = self.inner.config.default_timeout;
        // A ping follows every few bindings sent (`send_binding_if_live`):
        // only a whole `timeout` without an answer fails the flush.
        match session.await_pongs(target, timeout).await {
            Ok(()) => {}
            Err(PongWait::Lost) => return Err(Error::Flush(FlushFailure::ConnectionLost)),
            Err(PongWait::Stalled { .. }) => {
                return Err(Error::Flush(FlushFailure::Timeout(timeout)));
            }
        }
        // After a reconnect the engine holds registrations until the worker
        // is announced, but answers pings at once: wait for that too.
        match tokio::time::timeout(timeout, session.ready()).await {
            Ok(true) => {}
            Ok(false) => return Err(Error::Flush(FlushFailure::ConnectionLost)),
            Err(_) => return Err(Error::Flush(FlushFailure::Timeout(timeout))),
        }
        let refusals = lock(&self.inner.link).registry.take_refusals();
        match refusals.is_empty() {
            true => Ok(()),
            false => Err(Error::BindingsRefused { refusals }),
        }
    }

    /// Stops the worker gracefully: new invocations are refused, running
    /// handlers get up to the shutdown timeout (10 s by default) to finish,
    /// outgoing calls still waiting fail with [`Error::Shutdown`], and the
    /// socket is closed with a Close frame (or dropped, if the engine does
    /// not take it within 5 s). Calling it again does nothing.
    pub async fn shutdown(&self) {
        let first = !self.inner.shutdown.send_replace(true);
        if first {
            let deadline = self.inner.config.shutdown_timeout;
            if tokio::time::timeout(deadline, self.inner.in_flight.idle())
                .await
                .is_err()
            {
                tracing::warn!(
                    running = self.inner.in_flight.count(),
                    "handlers still running after the shutdown timeout of {deadline:?}; closing anyway"
                );
            }
            let session = lock(&self.inner.link).session.take();
            if let Some(session) = &session {
                session.fail_pending(|| Failure::Shutdown);
                // The writer sends what is queued, then a Close frame.
                session.close();
            }
            let supervisor = lock(&self.inner.supervisor).take();
            if let Some(handle) = supervisor
                && tokio::time::timeout(Duration::from_secs(5), handle)
                    .await
                    .is_err()
                && let Some(session) = &session
            {
                // The engine did not take the Close frame (it stopped
                // reading): drop the connection instead.
                session.kill("the engine did not take the Close frame within 5 s");
            }
        }
        if self.connection_state() != ConnectionState::Failed {
            self.inner.state.send_replace(ConnectionState::Disconnected);
        }
    }

    /// Serves until [`Worker::shutdown`] is called (from any clone), ctrl-c
    /// or (on Unix) SIGTERM arrives, or the connection fails for good. A
    /// signal shuts the worker down as [`Worker::shutdown`] does: running
    /// handlers finish first (docker and Kubernetes stop a container with
    /// SIGTERM).
    ///
    /// Returns the failure if the worker ended in [`ConnectionState::Failed`].
    pub async fn run(&self) -> Result<(), Error> {
        let mut shutdown = self.inner.shutdown.subscribe();
        let mut state = self.inner.state.subscribe();
        tokio::select! {
            signal = stop_signal() => {
                tracing::info!("{signal} received; shutting down");
                self.shutdown().await;
                Ok(())
            }
            _ = until(&mut shutdown, |s| *s) => {
                self.shutdown().await;
                Ok(())
            }
            _ = until(&mut state, |s| *s == ConnectionState::Failed) => Err(self.failure_error()),
        }
    }

    /// The error that moved the worker to `Failed`.
    pub(crate) fn failure_error(&self) -> Error {
        let url = &self.inner.config.url;
        match &*lock(&self.inner.stopped) {
            Some(stopped) => stopped.to_error(url),
            None => Error::Connect {
                url: url.clone(),
                reason: "the connection failed".into(),
            },
        }
    }
}

/// Resolves with the signal's name once ctrl-c, or SIGTERM on Unix,
/// arrives; never, where signals cannot be watched.
async fn stop_signal() -> &'static str {
    let ctrl_c = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "ctrl-c",
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                name = ctrl_c => name,
                _ = term.recv() => "SIGTERM",
            };
        }
    }
    ctrl_c.await
}

#[cfg(test)]
mod surface {
    use std::collections::BTreeSet;
    use std::path::Path;

    /// Every `pub fn` of an `impl Worker` block in `dir`, recursively.
    fn methods(dir: &Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("the sources").flatten() {
            let path = entry.path();
            if path.is_dir() {
                methods(&path, found);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let mut inside = false;
            for line in text.lines() {
                if line.starts_with("impl Worker {") {
                    inside = true;
                } else if inside && line.starts_with('}') {
                    inside = false;
                } else if inside
                    && let Some(rest) = line
                        .strip_prefix("    pub fn ")
                        .or_else(|| line.strip_prefix("    pub async fn "))
                {
                    let name = rest.split(['(', '<']).next().unwrap_or_default();
                    found.insert(name.to_string());
                }
            }
        }
    }

    /// The table on [`super::Worker`] names every public method, wherever
    /// its body lives.
    #[test]
    fn the_index_on_worker_lists_every_method() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = BTreeSet::new();
        methods(&src, &mut found);
        assert!(found.len() > 30, "the scan found {found:?}");
        // The table's rows; a method behind a feature is named without a
        // link, which would break the docs without the feature.
        let table: String = include_str!("mod.rs")
            .lines()
            .filter(|line| line.starts_with("/// | "))
            .collect();
        let missing: Vec<_> = found
            .iter()
            .filter(|name| !table.contains(&format!("[`{name}`](Worker::{name})")))
            .filter(|name| !table.contains(&format!("`{name}` (feature")))
            .collect();
        assert!(
            missing.is_empty(),
            "add to the table on `Worker`: {missing:?}"
        );
    }
}
