//! The worker: builder, connection state, registrations, shutdown.

mod builder;
pub(crate) mod config;
pub(crate) mod registry;
mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use builder::WorkerBuilder;
pub use config::{DEFAULT_URL, ReconnectPolicy};
pub use state::ConnectionState;
pub(crate) use state::until;

use crate::error::Error;
use crate::function::{Function, FunctionHandle, validate_id};
use crate::outbound::{Closed, Outbound};
use crate::trigger::{Trigger, TriggerHandle};
use crate::trigger_type::{TriggerType, TriggerTypeHandle, TriggerTypeHandler, erase_provider};
use config::Config;
use iii_protocol::{
    self as protocol, Message, RegisterService, UnregisterFunction, UnregisterTrigger,
    UnregisterTriggerType,
};
use registry::Registry;
use state::InFlight;

/// Locks a mutex, recovering the data if a panicking thread poisoned it (the
/// SDK's critical sections leave their data consistent at every step).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

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

/// A call waiting for its `invocationresult`; the caller knows the
/// function id, so the answer carries none.
pub(crate) struct Pending {
    pub(crate) reply: oneshot::Sender<Result<serde_json::Value, Failure>>,
}

/// Why a pending call got no value.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The callee (or the engine) answered with an error.
    Remote(iii_protocol::ErrorBody),
    /// The connection dropped first.
    Lost,
    /// The worker shut down first.
    Shutdown,
    /// The engine refused the worker for good.
    Fatal(Error),
}

impl Failure {
    /// The error the caller of `function_id` sees.
    pub(crate) fn into_error(self, function_id: String) -> Error {
        match self {
            Failure::Remote(body) => Error::Remote { function_id, body },
            Failure::Lost => Error::ConnectionLost { function_id },
            Failure::Shutdown => Error::Shutdown { function_id },
            Failure::Fatal(error) => error,
        }
    }
}

/// The live connection's outbound queue and everything to replay on the next.
pub(crate) struct Link {
    /// Set while a session is open and its replay has been queued.
    pub(crate) tx: Option<Arc<Outbound>>,
    /// Which session `tx` belongs to.
    pub(crate) session: u64,
    /// Pings sent on this session (the engine answers them in order).
    pub(crate) pings_sent: u64,
    pub(crate) registry: Registry,
}

impl Link {
    /// Detaches the session's outbound queue; its writer flushes what is
    /// queued and sends a Close frame.
    pub(crate) fn detach(&mut self) {
        if let Some(out) = self.tx.take() {
            out.close();
        }
    }
}

/// Identity the engine gave the current (or last) connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identity {
    pub(crate) worker_id: Option<String>,
    pub(crate) reattach_token: Option<String>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) state: watch::Sender<ConnectionState>,
    pub(crate) link: Mutex<Link>,
    pub(crate) pending: Mutex<HashMap<Uuid, Pending>>,
    pub(crate) identity: Mutex<Identity>,
    pub(crate) in_flight: InFlight,
    pub(crate) shutdown: watch::Sender<bool>,
    /// Why the worker moved to `Failed`.
    pub(crate) failure: Mutex<Option<String>>,
    pub(crate) supervisor: Mutex<Option<JoinHandle<()>>>,
    /// (session, pongs received on it).
    pub(crate) pongs: watch::Sender<(u64, u64)>,
}

/// The JSON keepalive frame.
pub(crate) const PING: &str = "{\"type\":\"ping\"}";

impl Worker {
    /// A builder with the defaults: `ws://127.0.0.1:49134`, name `hostname:pid`.
    pub fn builder() -> WorkerBuilder {
        WorkerBuilder::new()
    }

    /// A builder configured from the environment: `III_URL`,
    /// `III_WORKER_NAME` and `III_NAMESPACE`, each optional.
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

    /// The engine URL.
    pub fn url(&self) -> &str {
        &self.inner.config.url
    }

    /// The id the engine gave the current connection.
    pub fn worker_id(&self) -> Option<String> {
        lock(&self.inner.identity).worker_id.clone()
    }

    /// Whether [`Worker::shutdown`] has been called.
    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Registers a function and starts serving it. The function is replayed
    /// after every reconnect until it is unregistered.
    ///
    /// Fails, sending nothing, if the id is empty or already registered on
    /// this worker.
    pub fn register_function(&self, function: Function) -> Result<FunctionHandle, Error> {
        let id = function.message.id.clone();
        validate_id("function id", &id)?;
        let mut link = lock(&self.inner.link);
        if link.registry.functions.contains_key(&id) {
            return Err(Error::invalid(
                "function id",
                format!("`{id}` is already registered on this worker; unregister it first"),
            ));
        }
        let frame = encode_frame(&Message::RegisterFunction(function.message.clone()))?;
        let status = link
            .registry
            .add_function(function.message, function.handler);
        send_if_live(&link, frame);
        Ok(FunctionHandle {
            id,
            worker: self.clone(),
            status,
        })
    }

    /// Withdraws a function registered by this worker.
    pub fn unregister_function(&self, id: &str) -> Result<(), Error> {
        let mut link = lock(&self.inner.link);
        if link.registry.functions.remove(id).is_none() {
            return Err(Error::invalid(
                "function id",
                format!("`{id}` is not registered on this worker"),
            ));
        }
        let frame = encode_frame(&Message::UnregisterFunction(UnregisterFunction {
            id: id.to_string(),
        }))?;
        send_if_live(&link, frame);
        Ok(())
    }

    /// Binds a trigger to a function. The config is validated first; a
    /// refusal from the engine or the provider arrives on the handle.
    pub fn register_trigger(&self, trigger: Trigger) -> Result<TriggerHandle, Error> {
        let id = crate::ids::next_uuid().to_string();
        let message = trigger.to_message(id.clone())?;
        let frame = encode_frame(&Message::RegisterTrigger(message.clone()))?;
        let mut link = lock(&self.inner.link);
        let status = link.registry.add_trigger(message);
        send_if_live(&link, frame);
        Ok(TriggerHandle {
            id,
            worker: self.clone(),
            status,
        })
    }

    /// Removes a trigger binding registered by this worker.
    pub fn unregister_trigger(&self, id: &str) -> Result<(), Error> {
        let mut link = lock(&self.inner.link);
        let Some(entry) = link.registry.triggers.remove(id) else {
            return Err(Error::invalid(
                "trigger id",
                format!("`{id}` is not registered on this worker"),
            ));
        };
        let frame = encode_frame(&Message::UnregisterTrigger(UnregisterTrigger {
            id: id.to_string(),
            trigger_type: Some(entry.message.trigger_type),
        }))?;
        send_if_live(&link, frame);
        Ok(())
    }

    /// Provides a custom trigger type: the engine forwards every binding of
    /// it to `handler`, which starts and stops firing them.
    pub fn register_trigger_type<H: TriggerTypeHandler>(
        &self,
        trigger_type: TriggerType,
        handler: H,
    ) -> Result<TriggerTypeHandle, Error> {
        let message = trigger_type.into_message::<H::Config>();
        validate_id("trigger type id", &message.id)?;
        if message.description.trim().is_empty() {
            return Err(Error::invalid(
                "trigger type",
                format!(
                    "`{}` has an empty description; the engine drops trigger types without one",
                    message.id
                ),
            ));
        }
        let id = message.id.clone();
        let frame = encode_frame(&Message::RegisterTriggerType(message.clone()))?;
        let mut link = lock(&self.inner.link);
        if link.registry.trigger_types.contains_key(&id) {
            return Err(Error::invalid(
                "trigger type id",
                format!("`{id}` is already provided by this worker; unregister it first"),
            ));
        }
        link.registry
            .add_trigger_type(message, erase_provider(handler));
        send_if_live(&link, frame);
        Ok(TriggerTypeHandle {
            id,
            worker: self.clone(),
        })
    }

    /// Stops providing a trigger type. Bindings that arrive afterwards are
    /// refused with `trigger_type_not_found`.
    ///
    /// The frame is sent for compatibility with the official SDKs, but engine
    /// 0.23 ignores it: the engine forgets the provider only when the worker
    /// disconnects.
    pub fn unregister_trigger_type(&self, id: &str) -> Result<(), Error> {
        let mut link = lock(&self.inner.link);
        if link.registry.trigger_types.remove(id).is_none() {
            return Err(Error::invalid(
                "trigger type id",
                format!("`{id}` is not provided by this worker"),
            ));
        }
        let frame = encode_frame(&Message::UnregisterTriggerType(UnregisterTriggerType {
            id: id.to_string(),
        }))?;
        send_if_live(&link, frame);
        Ok(())
    }

    /// Declares a service (a grouping of functions shown by the engine's
    /// tooling). Registering the same id again replaces it.
    pub fn register_service(&self, service: RegisterService) -> Result<(), Error> {
        validate_id("service id", &service.id)?;
        let frame = encode_frame(&Message::RegisterService(service.clone()))?;
        let mut link = lock(&self.inner.link);
        link.registry.add_service(service);
        send_if_live(&link, frame);
        Ok(())
    }

    /// Queues a frame on the live connection for the background writer.
    /// Fails if there is none.
    pub(crate) fn send(&self, message: &Message) -> Result<(), Error> {
        let frame = encode_frame(message)?;
        let link = lock(&self.inner.link);
        match &link.tx {
            Some(tx) if tx.send(frame).is_ok() => Ok(()),
            _ => Err(Error::NotConnected {
                function_id: String::new(),
            }),
        }
    }

    /// Sends a frame on the live connection, writing it from this task.
    pub(crate) async fn send_now(&self, message: &Message) -> Result<(), Error> {
        self.answer(None, message).await
    }

    /// Sends a frame on `session` if it is still open, else on whichever
    /// session is live now (the engine may have reattached us meanwhile),
    /// writing it from this task.
    pub(crate) async fn answer(
        &self,
        session: Option<Arc<Outbound>>,
        message: &Message,
    ) -> Result<(), Error> {
        let mut frame = encode_frame(message)?;
        if let Some(out) = session {
            match out.push(frame) {
                Ok(()) => {
                    out.write().await;
                    return Ok(());
                }
                Err(Closed(refused)) => frame = refused,
            }
        }
        let out = {
            let link = lock(&self.inner.link);
            match &link.tx {
                Some(tx) if tx.push(frame).is_ok() => tx.clone(),
                _ => {
                    return Err(Error::NotConnected {
                        function_id: String::new(),
                    });
                }
            }
        };
        out.write().await;
        Ok(())
    }

    /// Stops the worker gracefully: new invocations are refused, running
    /// handlers get up to the shutdown timeout (10 s by default) to finish,
    /// outgoing calls still waiting fail with [`Error::Shutdown`], and the
    /// socket is closed with a Close frame. Calling it again does nothing.
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
            // The writer flushes what is queued and sends Close.
            lock(&self.inner.link).detach();
            crate::connection::fail_pending(&self.inner, || Failure::Shutdown);
        }
        let supervisor = lock(&self.inner.supervisor).take();
        if let Some(handle) = supervisor {
            let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
        }
        if self.connection_state() != ConnectionState::Failed {
            self.inner.state.send_replace(ConnectionState::Disconnected);
        }
    }

    /// Serves until [`Worker::shutdown`] is called (from any clone), ctrl-c
    /// arrives, or the connection fails for good.
    ///
    /// Returns the failure if the worker ended in [`ConnectionState::Failed`].
    pub async fn run(&self) -> Result<(), Error> {
        let mut shutdown = self.inner.shutdown.subscribe();
        let mut state = self.inner.state.subscribe();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("ctrl-c received; shutting down");
                self.shutdown().await;
                Ok(())
            }
            _ = state::until(&mut shutdown, |s| *s) => {
                self.shutdown().await;
                Ok(())
            }
            _ = state::until(&mut state, |s| *s == ConnectionState::Failed) => Err(self.failure_error()),
        }
    }

    pub(crate) fn failure_error(&self) -> Error {
        let reason = lock(&self.inner.failure)
            .clone()
            .unwrap_or_else(|| "the connection failed".into());
        Error::Connect {
            url: self.inner.config.url.clone(),
            reason,
        }
    }
}

pub(crate) fn encode_frame(message: &Message) -> Result<String, Error> {
    protocol::encode(message).map_err(|source| Error::Encode {
        what: "a protocol frame".into(),
        source,
    })
}

/// Sends a registration frame if a session is live. Otherwise the registry
/// replay delivers it on the next connect.
fn send_if_live(link: &Link, frame: String) {
    if let Some(tx) = &link.tx {
        // A closed channel means the session is ending; the replay covers it.
        let _ = tx.send(frame);
    }
}
