//! What an engine module declares to the core, and the only way the core
//! reaches one: its built-in functions (each id beside its handler), the
//! trigger types it serves (with their checks), the sockets it serves on
//! the worker port, and its background tasks.

use std::future::Future;
use std::panic::RefUnwindSafe;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::{Sink, Stream};
use iii_protocol::{ErrorBody, RegisterTrigger, TriggerKind};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as Frame};

use super::Core;
use super::kinds::type_id;

/// What a function call comes to: its result, or the error it fails with.
pub(crate) type Outcome = Result<Value, ErrorBody>;

/// One engine module (http, cron, queue, ...), as the core sees it. Every
/// method has a default, so a module says only what it has. (A module
/// keeps its state behind locks, so the engine stays unwind-safe.)
pub(crate) trait EngineModule: Send + Sync + RefUnwindSafe + 'static {
    /// The name of the engine worker that serves the same (`iii-state`,
    /// say): the `worker_name` discovery shows for its functions, and its
    /// row in `engine::workers::list`.
    fn name(&self) -> &'static str;

    /// Its built-in functions, served in the `default` namespace.
    fn functions(self: Arc<Self>) -> Vec<Function> {
        Vec::new()
    }

    /// The trigger types it serves.
    fn trigger_types(self: Arc<Self>) -> Vec<TriggerType> {
        Vec::new()
    }

    /// A socket of its own on the worker port, for an upgrade request to
    /// `path` with `query`: `None` when the path is not one of its own,
    /// else the task that serves the socket or the refusal.
    fn socket(self: Arc<Self>, _path: &str, _query: &str) -> Option<Result<SocketTask, Refusal>> {
        None
    }

    /// A binary frame a worker sent on its own socket; `true` when the
    /// module took it.
    fn worker_frame(&self, _core: &Arc<Core>, _frame: &[u8]) -> bool {
        false
    }

    /// Starts its background work once the engine runs; the engine's
    /// shutdown waits for the tasks returned (each ends when the engine
    /// stops).
    fn start(self: Arc<Self>, _core: &Arc<Core>) -> Vec<JoinHandle<()>> {
        Vec::new()
    }
}

/// How a built-in function runs: on the core, with the call's input.
pub(crate) type Handler =
    Arc<dyn Fn(Arc<Core>, Value) -> BoxFuture<'static, Outcome> + Send + Sync + RefUnwindSafe>;

/// A built-in function: its id and its handler, declared together. The
/// handler takes its input decoded (`I`, `Value` for any); input that does
/// not decode fails the call as the engine fails it.
pub(crate) struct Function {
    pub(crate) id: &'static str,
    pub(super) handler: Handler,
}

impl Function {
    /// A function that answers at once (it may start work that goes on).
    pub(crate) fn now<M, I, F>(id: &'static str, module: &Arc<M>, run: F) -> Function
    where
        M: Send + Sync + RefUnwindSafe + 'static,
        I: DeserializeOwned,
        F: Fn(&M, &Arc<Core>, I) -> Outcome + Send + Sync + RefUnwindSafe + 'static,
    {
        let module = module.clone();
        Function {
            id,
            handler: Arc::new(move |core, data| {
                let outcome = input(id, data).and_then(|i| run(&module, &core, i));
                Box::pin(std::future::ready(outcome))
            }),
        }
    }

    /// A function that waits before it answers (on a worker's function,
    /// say).
    pub(crate) fn waits<M, I, F, Fut>(id: &'static str, module: &Arc<M>, run: F) -> Function
    where
        M: Send + Sync + RefUnwindSafe + 'static,
        I: DeserializeOwned,
        F: Fn(Arc<M>, Arc<Core>, I) -> Fut + Send + Sync + RefUnwindSafe + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let module = module.clone();
        Function {
            id,
            handler: Arc::new(move |core, data| match input(id, data) {
                Ok(i) => Box::pin(run(module.clone(), core, i)),
                Err(error) => Box::pin(std::future::ready(Err(error))),
            }),
        }
    }
}

/// Decodes a built-in function's input, failing as the engine does.
pub(crate) fn input<T: DeserializeOwned>(function_id: &str, data: Value) -> Result<T, ErrorBody> {
    serde_json::from_value(data).map_err(|e| {
        ErrorBody::new(
            "deserialization_error",
            format!("Failed to deserialize input for {function_id}: {e}"),
        )
    })
}

/// Checks a new binding of a trigger type; the error is the refusal's
/// message.
pub(crate) type Check = fn(&RegisterTrigger) -> Result<(), String>;

/// Given a new binding and the live ones of its type with the same
/// [`Shape`] (by id, in id order), the ids of those it takes over, or why
/// it conflicts with one.
pub(crate) type Supersede =
    fn(&RegisterTrigger, &[(&str, &RegisterTrigger)]) -> Result<Vec<String>, String>;

/// The key a binding can only take over or conflict with bindings of the
/// same key under (an `http` route's method and path with its parameters
/// alike): the core indexes live bindings by it, so a new one is compared
/// with those alone, not with every binding of its type.
pub(crate) type Shape = fn(&RegisterTrigger) -> Option<String>;

/// What a module does when a binding of its type goes live (after the
/// core's lock is released).
pub(crate) type OnBind = Arc<dyn Fn(&Arc<Core>, RegisterTrigger) + Send + Sync + RefUnwindSafe>;

/// A trigger type a module serves, with what it checks and does when a
/// binding comes.
#[derive(Clone)]
pub(crate) struct TriggerType {
    pub(super) kind: TriggerKind,
    pub(super) check: Check,
    pub(super) supersede: Option<(Supersede, Shape)>,
    pub(super) on_bind: Option<OnBind>,
}

impl TriggerType {
    /// A built-in trigger type that takes every binding as it comes.
    pub(crate) fn new(kind: TriggerKind) -> TriggerType {
        TriggerType {
            kind,
            check: |_| Ok(()),
            supersede: None,
            on_bind: None,
        }
    }

    /// Refuses the bindings `check` refuses.
    pub(crate) fn checked(self, check: Check) -> TriggerType {
        TriggerType { check, ..self }
    }

    /// Lets a new binding take over live ones of the type with the same
    /// `shape`, or conflict with them: the ones taken over never serve
    /// again.
    pub(crate) fn superseding(self, supersede: Supersede, shape: Shape) -> TriggerType {
        TriggerType {
            supersede: Some((supersede, shape)),
            ..self
        }
    }

    /// Runs `bound` on `module` for every binding that goes live.
    pub(crate) fn on_bind<M, F>(self, module: &Arc<M>, bound: F) -> TriggerType
    where
        M: Send + Sync + RefUnwindSafe + 'static,
        F: Fn(&M, &Arc<Core>, RegisterTrigger) + Send + Sync + RefUnwindSafe + 'static,
    {
        let module = module.clone();
        TriggerType {
            on_bind: Some(Arc::new(move |core, binding| bound(&module, core, binding))),
            ..self
        }
    }

    /// The engine's id of the type.
    pub(crate) fn id(&self) -> &'static str {
        type_id(self.kind)
    }
}

/// A binding's config value as text, trimmed; `None` when it is missing,
/// not a string, or blank.
pub(crate) fn config_text<'a>(binding: &'a RegisterTrigger, key: &str) -> Option<&'a str> {
    binding
        .config
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A WebSocket a module serves, whatever the transport under it (TCP or
/// TLS).
pub(crate) trait FrameSocket:
    Stream<Item = Result<Frame, WsError>> + Sink<Frame, Error = WsError> + Send + Unpin
{
}

impl<T> FrameSocket for T where
    T: Stream<Item = Result<Frame, WsError>> + Sink<Frame, Error = WsError> + Send + Unpin
{
}

/// A module's socket, boxed.
pub(crate) type Socket = Box<dyn FrameSocket>;

/// Serves one socket a module accepted, once its handshake is done.
pub(crate) type SocketTask = Box<dyn FnOnce(Arc<Core>, Socket) -> BoxFuture<'static, ()> + Send>;

/// A module's refusal of an upgrade request: the status and the body.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) body: Option<String>,
}
