//! The engine core: connections, the function registry, routing,
//! invocation and the trigger-binding registry. It knows no engine module.
//!
//! Modules declare what they serve through [`EngineModule`]: built-in
//! functions (each id beside its handler), trigger types (with their
//! checks), sockets on the worker port and background tasks. The core
//! gathers the declarations once ([`Builtins`]) and routes through them:
//! a call no worker serves goes to the built-in of that id, a binding of a
//! built-in type is checked by its module (which fires it through
//! [`Core::fire`]), and an upgrade request on a path other than `/` goes
//! to the module that claims it.
//!
//! A call's way through the core: [`connection`] reads a worker's frame,
//! `routing` sends the call to the worker that serves the function (or to
//! a built-in, on a task of its own), and the result comes back through
//! `routing` to the caller: a worker, or the engine itself awaiting
//! [`Core::invoke`].

mod builtins;
mod connection;
mod discovery;
mod engine_functions;
mod events;
mod fire;
mod flag;
mod http_functions;
mod invoke;
mod kinds;
mod listener;
mod lookups;
mod module;
mod raw_body;
mod registrations;
mod registry;
mod routing;
#[cfg(feature = "tls")]
mod tls;
mod trace_context;
mod workers;

use std::sync::{Arc, Mutex, MutexGuard};

use iii_protocol::RegisterTrigger;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub(crate) use fire::{Fired, Gate, binding_namespace};
pub(crate) use flag::raised;
pub(crate) use http_functions::Security as HttpSecurity;
pub(crate) use kinds::type_id;
pub(crate) use listener::{Acceptor, accept_workers};
pub(crate) use module::{
    EngineModule, Function, Outcome, Refusal, Socket, SocketTask, TriggerType, config_text, input,
};
pub(crate) use raw_body::RawBody;
#[cfg(feature = "tls")]
pub(crate) use tls::acceptor;

use crate::settings::Settings;
use builtins::Builtins;
use engine_functions::EngineFunctions;
use registry::Registry;

/// The engine core: its registries behind one lock, and what the modules
/// declared. Modules reach it through `&Arc<Core>` and never see the
/// registries; what they may ask of it, whichever file holds the body:
///
/// - calls: [`Core::invoke`], [`Core::invoke_traced`];
/// - the bindings of their trigger types: [`Core::bindings`],
///   [`Core::has_binding`], and firing them: [`Core::fire`] (conditions
///   checked), [`Core::fire_one`], or [`Core::gate`] then [`Core::run`];
/// - the registries: [`Core::has_function`], [`Core::worker_names`];
/// - the engine's stop: [`Core::stopped`].
pub(crate) struct Core {
    registry: Mutex<Registry>,
    builtins: Arc<Builtins>,
    settings: Settings,
    /// Raised by `Engine::shutdown`.
    stopped: watch::Receiver<bool>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Core")
    }
}

impl Core {
    /// A core serving the engine's own functions and those of `modules`;
    /// it stops when `stopped` is raised.
    pub(crate) fn new(
        settings: Settings,
        stopped: watch::Receiver<bool>,
        modules: Vec<Arc<dyn EngineModule>>,
    ) -> Arc<Core> {
        let mut all: Vec<Arc<dyn EngineModule>> = vec![Arc::new(EngineFunctions)];
        all.extend(modules);
        let builtins = Arc::new(Builtins::of(all));
        Arc::new(Core {
            registry: Mutex::new(Registry::new(
                builtins.clone(),
                Arc::new(settings.http_functions.clone()),
            )),
            builtins,
            settings,
            stopped,
        })
    }

    /// Starts every module; returns the tasks shutdown waits for.
    pub(crate) fn start_modules(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        self.builtins.start(self)
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The engine's stop flag, for tasks that end with it (see [`raised`]).
    pub(crate) fn stopped(&self) -> watch::Receiver<bool> {
        self.stopped.clone()
    }

    /// Active bindings of a built-in trigger type.
    pub(crate) fn bindings(&self, trigger_type: &str) -> Vec<RegisterTrigger> {
        self.lock().builtin_bindings(trigger_type)
    }

    /// Whether a binding with this id exists.
    pub(crate) fn has_binding(&self, id: &str) -> bool {
        self.lock().bindings.contains_key(id)
    }

    /// Whether a worker serves `function_id` in `namespace`.
    pub(crate) fn has_function(&self, namespace: &str, function_id: &str) -> bool {
        self.lock().has_function(namespace, function_id)
    }
}
