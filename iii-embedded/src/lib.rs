//! An iii engine in a library, for tests and local development.
//!
//! It speaks the engine's wire protocol on a real WebSocket listener and
//! serves `http` triggers on a real HTTP listener, so a worker cannot tell it
//! from the iii engine for everything listed below.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! let engine = iii_embedded::Engine::start().await?; // ephemeral ports on 127.0.0.1
//! println!("workers connect to {}, HTTP triggers answer on {}", engine.ws_url(), engine.http_url());
//! engine.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # What it implements
//!
//! - `workerregistered` with a reattach token; registrations buffered until
//!   `engine::workers::register` (or the 5 s grace period), then applied in
//!   the declared namespace; `reattach` evicts the old connection abruptly.
//! - Routing of calls between workers with the caller's invocation id
//!   reused, `_caller_worker_id` injected into object payloads, `void`,
//!   `enqueue`, `function_not_found` with the engine's message,
//!   `invocation_stopped` when the callee disconnects, ping/pong.
//! - Name conflicts (`WORKER_NAMESPACE_CONFLICT`, then Close) and function
//!   conflicts (`FUNCTION_NAMESPACE_CONFLICT`); `engine::*` reserved outside
//!   `default`.
//! - Worker-provided trigger types: bindings forwarded, replayed when the
//!   provider (re)registers, parked while there is none, refusals forwarded
//!   to the binding's owner; providers told when a binding goes.
//! - Conditions and binding metadata per kind as the engine 0.23 treats
//!   them: a condition runs (without metadata) for `http`, `cron`, `state`,
//!   `stream` and `durable:subscriber` bindings only; metadata is passed with
//!   every fire but `subscribe` and `durable:subscriber` ones; a failing
//!   condition skips the fire (500 for `http`, a retry for a queue job).
//! - Built-in trigger types `http`, `cron` (the engine's parser: UTC, 6 or 7
//!   fields, seconds first), `subscribe`, `state`, `stream`,
//!   `durable:subscriber`, `log`, `engine::workers-available` and
//!   `engine::functions-available`.
//! - Built-in functions `engine::workers::register`, `engine::functions::list`,
//!   `engine::workers::list`, `engine::triggers::list`,
//!   `engine::register_trigger`, `engine::unregister_trigger`,
//!   `engine::queue::enqueue` (an in-memory queue with retries),
//!   `state::{set,get,delete,update,list,list_groups}`,
//!   `stream::{set,get,delete,update,list,list_groups,list_all,send}` (with
//!   a worker's `stream::<op>(<name>)` functions as a stream's storage, and
//!   `stream` triggers with the engine's camelCase payload), `publish`,
//!   `iii::durable::publish`, `engine::channels::create`, and
//!   `engine::log::{trace,debug,info,warn,error}` with `engine::logs::list`
//!   (the last 1,000 records of the last hour; each line at info or above
//!   stored twice, the second time as the engine's own `tracing` line, as
//!   engine 0.23 does) and `log` triggers (the level matched exactly, or
//!   `all`; metadata passed; no condition, no trace context; the function
//!   looked up in `default`).
//! - Telemetry from workers: the `/otel` socket and the same frames on the
//!   worker socket (`OTLP` spans, `LOGS` log records, `MTRC` metrics, each
//!   a 4-byte prefix and OTLP/JSON); spans stored (the last 20,000) and
//!   served by `engine::traces::list` (roots only unless
//!   `search_all_spans`) and `engine::traces::tree`; log records stored
//!   and fired at `log` triggers. Metrics are dropped.
//! - Data channels: `/ws/channels/<id>?key=..&dir=read|write` on the worker
//!   port (400 and 404 refusals with the engine's bodies, each end attached
//!   once, items counted against the channel's buffer, an empty Close at
//!   the end, the writer's Close echoed), and the two channels of every
//!   matched `http` request: the body on `request_body` (a JSON body whole
//!   as one item, others chunk by chunk as they arrive; an unmatched
//!   request's body is never read), and a handler's `null` result read as
//!   a streamed response on `response` (`set_status`/`set_headers` text
//!   messages, binary chunks, the channel's end; the channel wins a race
//!   with a non-null result, as in the engine; the HTTP timeout runs until
//!   the response head, and its 504 carries no CORS header). A channel
//!   with an end never attached is swept once its time to live has passed
//!   (5 minutes, [`EngineBuilder::channel_ttl`]); one used to the end stays
//!   known for the life of the engine (a small record), so a late attach
//!   is answered and closed rather than refused with 404.
//!
//! # Where it knowingly differs from engine 0.23
//!
//! - Log records come only from `engine::log::*` calls: the engine's own
//!   log lines (registrations, warnings) are not records here, so `log`
//!   triggers never see them. No `trace` trigger type (bindings are parked,
//!   as with an engine lacking the worker). No stream socket for browser
//!   clients, so `stream:join`/`stream:leave` never fire.
//! - `engine::queue::enqueue` is built in (the real engine needs the external
//!   `queue` worker); a worker in `default` that registers the id replaces it.
//! - `engine::functions-available` fires on every change instead of polling
//!   every 5 s.
//! - Invocations the engine starts (HTTP, cron, trigger fires) begin a new
//!   trace, where the engine makes them children of its own spans (and of
//!   a request's `traceparent` header, for HTTP); it records none of its
//!   own spans. No `engine::metrics::list`, no `trace` trigger.
//! - No RBAC, middleware or HTTP-invoked functions.
//! - Bad input gets an answer or a limit where the engine has none: an
//!   invocation whose frame does not decode but names its invocation id
//!   (nested past 127 levels, `data` missing) is answered with
//!   `deserialization_error`, and such a result fails the call it answers
//!   (the engine drops both, and the caller waits for its timeout); a JSON
//!   request body over
//!   [`EngineBuilder::max_json_body`] gets 413; a client that has not sent
//!   its request head within [`EngineBuilder::http_header_timeout`] is
//!   disconnected; a worker that leaves
//!   [`EngineBuilder::max_queued_frames`] frames unread is disconnected
//!   (the engine makes the senders wait instead).
//! - It refuses two things the engine accepts: an `invocationresult` from
//!   a worker the invocation was not sent to, and an `unregistertrigger`
//!   for another worker's binding (both are ignored). The engine takes a
//!   result from any worker that names a pending invocation id, and
//!   removes any binding whose id it is sent; nothing a well-behaved
//!   worker does depends on either.
//!
//! # Security
//!
//! It is a development engine. It protects against mistakes, not attackers:
//!
//! - Both ports listen on `127.0.0.1` unless [`EngineBuilder::ws_addr`] or
//!   [`EngineBuilder::http_addr`] says otherwise.
//! - A worker cannot answer an invocation it was not sent, take a function
//!   id another live worker holds (`FUNCTION_NAMESPACE_CONFLICT`), remove
//!   another worker's function or binding, or take a worker name in use.
//! - Channel ends need their key, and each attaches once.
//!
//! It does not protect:
//!
//! - Any process that can reach the worker port is a worker: there is no
//!   authentication (handshake headers are ignored) and no RBAC, so it can
//!   call every function, read and write all state and streams, and
//!   register routes.
//! - The HTTP port has no authentication or rate limit; its limits are
//!   the ones above.
//! - Traffic is plain text unless `EngineBuilder::tls` (feature `tls`)
//!   serves the worker port over TLS; the HTTP port is always plain.
//! - Everything lives in memory, unencrypted, and is gone on shutdown.

#![warn(missing_docs)]

mod builtins;
mod channels;
mod conn;
mod core;
mod cron;
mod http;
mod kinds;
mod kv;
mod logs;
mod queue;
mod streams;
#[cfg(feature = "tls")]
mod tls;
mod traces;
mod url;
mod validate;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use iii_protocol::{DEFAULT_NAMESPACE, ErrorBody, InvokeFunction, RegisterTrigger};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::core::{Caller, Core, Event};
use crate::kinds::type_id;
use iii_protocol::TriggerKind;

pub use queue::DeadLetter;

/// A stream a worker connects on: TCP, or TLS over TCP.
pub(crate) trait Io:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Resolves once `flag` is true (or its sender is gone).
pub(crate) async fn raised(flag: &mut watch::Receiver<bool>) {
    while !*flag.borrow_and_update() {
        if flag.changed().await.is_err() {
            return;
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The namespace a binding's function (and condition) resolve in.
pub(crate) fn binding_namespace(binding: &RegisterTrigger) -> String {
    binding
        .namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.into())
}

/// What a binding's condition decided.
pub(crate) enum Gate {
    /// No condition, or it let the fire through.
    Open,
    /// It answered exactly `false`.
    Skipped,
    /// It failed.
    Failed(ErrorBody),
}

/// What became of one fire of a binding.
pub(crate) enum Fired {
    /// The condition said no.
    Skipped,
    /// The condition failed; the handler did not run.
    ConditionFailed(ErrorBody),
    /// The handler ran, with this outcome.
    Ran(Result<Value, ErrorBody>),
}

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    ws_addr: SocketAddr,
    http_addr: SocketAddr,
    settings: Settings,
    /// PEM certificate chain and key, to serve the worker port over TLS.
    #[cfg(feature = "tls")]
    tls: Option<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) handshake_timeout: Duration,
    pub(crate) http_timeout: Duration,
    pub(crate) namespace_grace: Duration,
    pub(crate) queue_max_retries: u32,
    pub(crate) queue_backoff: Duration,
    pub(crate) channel_ttl: Duration,
    pub(crate) max_json_body: usize,
    pub(crate) http_header_timeout: Duration,
    pub(crate) max_queued_frames: usize,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        EngineBuilder {
            ws_addr: loopback(0),
            http_addr: loopback(0),
            #[cfg(feature = "tls")]
            tls: None,
            settings: Settings {
                handshake_timeout: Duration::from_secs(10),
                http_timeout: Duration::from_secs(30),
                namespace_grace: Duration::from_secs(5),
                queue_max_retries: 3,
                queue_backoff: Duration::from_millis(100),
                channel_ttl: Duration::from_secs(300),
                max_json_body: iii_protocol::channel::ENGINE_MAX_ITEM,
                http_header_timeout: Duration::from_secs(30),
                max_queued_frames: 65_536,
            },
        }
    }
}

impl EngineBuilder {
    /// Worker socket address (default `127.0.0.1:0`, an ephemeral port).
    pub fn ws_addr(mut self, addr: SocketAddr) -> Self {
        self.ws_addr = addr;
        self
    }

    /// REST listener address for `http` triggers (default `127.0.0.1:0`).
    pub fn http_addr(mut self, addr: SocketAddr) -> Self {
        self.http_addr = addr;
        self
    }

    /// How long an HTTP request waits for its handler before a 504 (default 30 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.settings.http_timeout = timeout;
        self
    }

    /// How long registrations wait for `engine::workers::register` before
    /// they are applied in `default` (default 5 s, as the engine).
    pub fn namespace_grace(mut self, grace: Duration) -> Self {
        self.settings.namespace_grace = grace;
        self
    }

    /// Retries of a failing queued job before it is dead-lettered (default 3),
    /// and the first backoff, doubled per retry (default 100 ms).
    pub fn queue_retries(mut self, max_retries: u32, backoff: Duration) -> Self {
        self.settings.queue_max_retries = max_retries;
        self.settings.queue_backoff = backoff;
        self
    }

    /// How long a channel with an end never attached lives (default 5
    /// minutes, as the engine); channels are swept every 60 s, or every
    /// `ttl` when that is shorter.
    pub fn channel_ttl(mut self, ttl: Duration) -> Self {
        self.settings.channel_ttl = ttl;
        self
    }

    /// Serves the worker port over TLS with this PEM certificate chain and
    /// PEM private key: workers connect with `wss://` (cargo feature
    /// `tls`). A bad certificate or key fails [`EngineBuilder::start`].
    #[cfg(feature = "tls")]
    pub fn tls(mut self, chain_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.tls = Some((chain_pem.into(), key_pem.into()));
        self
    }

    /// The largest JSON request body an `http` trigger takes (default
    /// 64 MiB, the largest item a worker reads from a channel); a bigger one
    /// is answered 413. Other bodies stream to the handler and have no
    /// limit. (The engine 0.23 sets none.)
    pub fn max_json_body(mut self, bytes: usize) -> Self {
        self.settings.max_json_body = bytes;
        self
    }

    /// How long an HTTP client may take to send a request's head (its line
    /// and headers), on a new connection or between requests on a kept one,
    /// before the connection is closed (default 30 s). The engine 0.23 has
    /// no such limit: a client that never finishes its head holds the
    /// connection for ever there. A timeout over a year is taken as a year,
    /// so `Duration::MAX` means no limit in practice.
    pub fn http_header_timeout(mut self, timeout: Duration) -> Self {
        const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
        self.settings.http_header_timeout = timeout.min(YEAR);
        self
    }

    /// How many frames may wait for a worker that does not read them
    /// before it is disconnected (default 65,536), so a stuck worker
    /// cannot make the engine's memory grow without end. (The engine 0.23
    /// makes senders wait on a queue of 64 instead; iii-embedded sends
    /// under its lock and cannot wait.) [`EngineBuilder::start`] refuses 0.
    pub fn max_queued_frames(mut self, frames: usize) -> Self {
        self.settings.max_queued_frames = frames;
        self
    }

    /// Binds both listeners and starts serving.
    pub async fn start(self) -> std::io::Result<Engine> {
        if self.settings.max_queued_frames == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "EngineBuilder::max_queued_frames(0) would disconnect every worker at its first frame; give at least 1",
            ));
        }
        #[cfg(feature = "tls")]
        let acceptor = match &self.tls {
            Some((chain, key)) => Some(tls::acceptor(chain, key)?),
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        let acceptor: Option<Acceptor> = None;
        let secure = acceptor.is_some();
        let ws = TcpListener::bind(self.ws_addr).await?;
        let http = TcpListener::bind(self.http_addr).await?;
        let ws_addr = ws.local_addr()?;
        let http_addr = http.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            core: Mutex::new(Core::new()),
            kv: Mutex::new(kv::Store::default()),
            streams: Mutex::new(streams::Store::default()),
            channels: channels::Channels::default(),
            logs: logs::Store::default(),
            traces: traces::Store::default(),
            dead_letters: Mutex::new(Vec::new()),
            settings: self.settings,
            stopped: stopped.clone(),
            cron_tasks: Mutex::new(std::collections::HashMap::new()),
        });
        channels::start_sweeper(shared.clone());
        let ws_task = tokio::spawn(accept_workers(
            shared.clone(),
            ws,
            stopped.clone(),
            acceptor,
        ));
        let http_task = tokio::spawn(http::serve(shared.clone(), http, stopped));
        tracing::debug!(%ws_addr, %http_addr, "embedded iii engine started");
        Ok(Engine {
            shared,
            ws_addr,
            secure,
            http_addr,
            stop,
            tasks: vec![ws_task, http_task],
        })
    }
}

#[cfg(feature = "tls")]
type Acceptor = tokio_rustls::TlsAcceptor;
#[cfg(not(feature = "tls"))]
type Acceptor = std::convert::Infallible;

async fn accept_workers(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stopped: watch::Receiver<bool>,
    acceptor: Option<Acceptor>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    match &acceptor {
                        #[cfg(feature = "tls")]
                        Some(acceptor) => {
                            let acceptor = acceptor.clone();
                            tokio::spawn(async move {
                                let handshake = tokio::time::timeout(
                                    shared.settings.handshake_timeout,
                                    acceptor.accept(stream),
                                );
                                match handshake.await {
                                    Ok(Ok(tls)) => conn::serve(shared, tls).await,
                                    Ok(Err(e)) => tracing::debug!("TLS handshake failed: {e}"),
                                    Err(_) => tracing::debug!("TLS handshake timed out"),
                                }
                            });
                        }
                        #[cfg(not(feature = "tls"))]
                        Some(never) => match *never {},
                        None => { tokio::spawn(conn::serve(shared, stream)); }
                    }
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = raised(&mut stopped) => return,
        }
    }
}

/// A running in-process engine. Dropping it without [`Engine::shutdown`]
/// leaves its listeners running until the runtime ends.
#[derive(Debug)]
pub struct Engine {
    shared: Arc<Shared>,
    ws_addr: SocketAddr,
    /// The worker port serves TLS.
    secure: bool,
    http_addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Starts an engine on ephemeral loopback ports.
    pub async fn start() -> std::io::Result<Engine> {
        EngineBuilder::default().start().await
    }

    /// Settings for an engine on chosen ports.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The URL workers connect to, e.g. `ws://127.0.0.1:49134` (`wss://`
    /// when it serves TLS).
    pub fn ws_url(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://{}", self.ws_addr)
    }

    /// The base URL of `http` triggers, e.g. `http://127.0.0.1:3111`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Jobs the built-in queue gave up on after all retries.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.shared
            .dead_letters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Names of the workers connected now.
    pub fn worker_names(&self) -> Vec<String> {
        let core = self.shared.lock();
        let mut names: Vec<String> = core
            .workers
            .values()
            .filter_map(|c| c.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Stops listening and drops every worker connection.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        {
            let core = self.shared.lock();
            for conn in core.workers.values() {
                let _ = conn.kill.send(true);
            }
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

pub(crate) struct Shared {
    core: Mutex<Core>,
    pub(crate) kv: Mutex<kv::Store>,
    pub(crate) streams: Mutex<streams::Store>,
    pub(crate) channels: channels::Channels,
    pub(crate) logs: logs::Store,
    pub(crate) traces: traces::Store,
    pub(crate) dead_letters: Mutex<Vec<DeadLetter>>,
    pub(crate) settings: Settings,
    /// Raised by `Engine::shutdown`; background schedules watch it.
    pub(crate) stopped: watch::Receiver<bool>,
    /// The schedule task of each `cron` binding, by binding id.
    pub(crate) cron_tasks: Mutex<std::collections::HashMap<String, JoinHandle<()>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared")
    }
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Routes a call: a worker's function first (a worker may override a
    /// built-in in `default`), then the built-ins, then `function_not_found`.
    pub(crate) fn route(
        self: Arc<Self>,
        namespace: String,
        invoke: InvokeFunction,
        caller: Caller,
    ) {
        let caller = match self
            .lock()
            .route_to_worker(&namespace, invoke.clone(), caller)
        {
            Ok(()) => return,
            Err(caller) => caller,
        };
        if namespace == DEFAULT_NAMESPACE && builtins::is_builtin(&invoke.function_id) {
            tokio::spawn(async move {
                let function_id = invoke.function_id.clone();
                let outcome = builtins::call(&self, &function_id, invoke.data).await;
                self.lock().answer(caller, &function_id, outcome);
            });
            return;
        }
        let core = self.lock();
        let error = core.not_found(&namespace, &invoke.function_id);
        core.answer(caller, &invoke.function_id, Err(error));
    }

    /// Calls a function on behalf of the engine (in a span of its own) and
    /// waits for the outcome.
    pub(crate) async fn invoke(
        self: &Arc<Self>,
        namespace: &str,
        function_id: &str,
        data: Value,
        metadata: Option<Value>,
    ) -> Result<Value, ErrorBody> {
        self.invoke_traced(namespace, function_id, data, metadata, true)
            .await
    }

    /// [`Shared::invoke`], with or without a trace context (the engine
    /// sends none with `log` fires).
    pub(crate) async fn invoke_traced(
        self: &Arc<Self>,
        namespace: &str,
        function_id: &str,
        data: Value,
        metadata: Option<Value>,
        traced: bool,
    ) -> Result<Value, ErrorBody> {
        let (reply, rx) = oneshot::channel();
        let mut invoke = InvokeFunction::new(None, function_id, data);
        invoke.metadata = metadata;
        self.clone().route(
            namespace.to_string(),
            invoke,
            Caller::Internal { reply, traced },
        );
        rx.await.unwrap_or_else(|_| {
            Err(ErrorBody::new(
                "invocation_error",
                "the result channel was dropped",
            ))
        })
    }

    /// Fires every active binding of a built-in trigger type whose config
    /// `matches`, checking each binding's condition function first.
    pub(crate) fn fire(
        self: &Arc<Self>,
        trigger_type: &str,
        payload: Value,
        matches: impl Fn(&Value) -> bool,
    ) {
        let bindings = self.lock().builtin_bindings(trigger_type);
        for binding in bindings.into_iter().filter(|b| matches(&b.config)) {
            let shared = self.clone();
            let payload = payload.clone();
            tokio::spawn(async move {
                shared.fire_one(&binding, payload).await;
            });
        }
    }

    /// Runs one binding as the engine does: [`Shared::gate`], then
    /// [`Shared::run`].
    pub(crate) async fn fire_one(
        self: &Arc<Self>,
        binding: &RegisterTrigger,
        payload: Value,
    ) -> Fired {
        match self.gate(binding, || payload.clone()).await {
            Gate::Open => Fired::Ran(self.run(binding, payload).await),
            Gate::Skipped => Fired::Skipped,
            Gate::Failed(error) => Fired::ConditionFailed(error),
        }
    }

    /// A binding's condition, where the engine evaluates one: in the
    /// binding's namespace, without metadata; only an exact `false` skips.
    /// `payload` gives the condition's input, built only when there is a
    /// condition to evaluate.
    pub(crate) async fn gate(
        self: &Arc<Self>,
        binding: &RegisterTrigger,
        payload: impl FnOnce() -> Value,
    ) -> Gate {
        let kind =
            TriggerKind::from_engine_type(&binding.trigger_type).unwrap_or(TriggerKind::Custom);
        let condition = binding
            .config
            .get("condition_function_id")
            .and_then(Value::as_str)
            .filter(|_| kinds::honours_condition(kind));
        let Some(condition) = condition else {
            return Gate::Open;
        };
        match self
            .invoke(&binding_namespace(binding), condition, payload(), None)
            .await
        {
            Ok(Value::Bool(false)) => Gate::Skipped,
            Err(error) => Gate::Failed(error),
            Ok(_) => Gate::Open,
        }
    }

    /// Calls a binding's function, with its metadata where the engine
    /// passes it.
    pub(crate) async fn run(
        self: &Arc<Self>,
        binding: &RegisterTrigger,
        payload: Value,
    ) -> Result<Value, ErrorBody> {
        let kind =
            TriggerKind::from_engine_type(&binding.trigger_type).unwrap_or(TriggerKind::Custom);
        let metadata = binding
            .metadata
            .clone()
            .filter(|_| kinds::delivers_metadata(kind));
        self.invoke(
            &binding_namespace(binding),
            &binding.function_id,
            payload,
            metadata,
        )
        .await
    }

    /// Delivers events produced while the lock was held.
    pub(crate) fn deliver(self: &Arc<Self>, events: Vec<Event>) {
        let mut functions_changed = false;
        for event in events {
            match event {
                Event::Workers(payload) => {
                    self.fire(type_id(TriggerKind::WorkersAvailable), payload, |_| true)
                }
                Event::FunctionsChanged => functions_changed = true,
                Event::CronBound(binding) => cron::start(self.clone(), binding),
            }
        }
        let watched = || {
            !self
                .lock()
                .builtin_bindings(type_id(TriggerKind::FunctionsAvailable))
                .is_empty()
        };
        if functions_changed && watched() {
            // Unfiltered, as the engine sends it.
            let functions = builtins::function_summaries(&self.lock(), true);
            self.fire(
                type_id(TriggerKind::FunctionsAvailable),
                json!({"event": "functions_changed", "functions": functions}),
                |_| true,
            );
        }
    }

    /// Applies a worker's buffered registrations in `default` if it has not
    /// announced itself within the grace period.
    pub(crate) fn start_grace_timer(self: Arc<Self>, worker_id: String) {
        tokio::spawn(async move {
            tokio::time::sleep(self.settings.namespace_grace).await;
            let mut events = Vec::new();
            {
                let mut core = self.lock();
                let Some(buffered) = core
                    .workers
                    .get_mut(&worker_id)
                    .and_then(|c| c.buffered.take())
                else {
                    return;
                };
                for message in buffered {
                    core.apply_registration(&worker_id, message, &mut events);
                }
            }
            self.deliver(events);
        });
    }
}
