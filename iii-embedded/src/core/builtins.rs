//! What the modules declared, gathered once when the engine starts: the
//! table the core routes built-in calls, bindings and module sockets
//! through.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::Core;
use super::module::{EngineModule, Function, Handler, Refusal, SocketTask, TriggerType};

/// The modules of one engine and what they declared.
pub(crate) struct Builtins {
    modules: Vec<Arc<dyn EngineModule>>,
    functions: HashMap<&'static str, Handler>,
    /// Each function's id and the name of its module, sorted by id.
    owners: Vec<(&'static str, &'static str)>,
    trigger_types: HashMap<&'static str, TriggerType>,
}

impl Builtins {
    /// Gathers the declarations of `modules`, in order.
    pub(super) fn of(modules: Vec<Arc<dyn EngineModule>>) -> Builtins {
        let mut functions = HashMap::new();
        let mut trigger_types = HashMap::new();
        let mut owners = Vec::new();
        for module in &modules {
            for Function { id, handler } in module.clone().functions() {
                owners.push((id, module.name()));
                let taken = functions.insert(id, handler);
                debug_assert!(taken.is_none(), "two modules declare the function {id}");
            }
            for trigger_type in module.clone().trigger_types() {
                let id = trigger_type.id();
                let taken = trigger_types.insert(id, trigger_type);
                debug_assert!(taken.is_none(), "two modules declare the trigger type {id}");
            }
        }
        owners.sort_unstable();
        Builtins {
            modules,
            functions,
            owners,
            trigger_types,
        }
    }

    /// Every built-in function's id and its module's name, sorted by id.
    pub(super) fn function_owners(&self) -> &[(&'static str, &'static str)] {
        &self.owners
    }

    /// Each module's name and how many functions it serves, in the order
    /// the modules were given; a name shared by two modules (the channels
    /// and the engine's own functions) once.
    pub(super) fn module_rows(&self) -> Vec<(&'static str, usize)> {
        let mut rows: Vec<(&'static str, usize)> = Vec::new();
        for module in &self.modules {
            if !rows.iter().any(|(name, _)| *name == module.name()) {
                let count = self
                    .owners
                    .iter()
                    .filter(|(_, m)| *m == module.name())
                    .count();
                rows.push((module.name(), count));
            }
        }
        rows
    }

    /// The handler of a built-in function.
    pub(super) fn function(&self, id: &str) -> Option<&Handler> {
        self.functions.get(id)
    }

    /// A built-in trigger type.
    pub(super) fn trigger_type(&self, id: &str) -> Option<&TriggerType> {
        self.trigger_types.get(id)
    }

    /// The ids of every built-in trigger type.
    pub(super) fn trigger_type_ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.trigger_types.keys().copied()
    }

    /// The module socket an upgrade request asks for: `None` when no
    /// module serves `path`.
    pub(super) fn socket(&self, path: &str, query: &str) -> Option<Result<SocketTask, Refusal>> {
        self.modules
            .iter()
            .find_map(|m| m.clone().socket(path, query))
    }

    /// Offers a worker's binary frame to the modules; `true` when one took
    /// it.
    pub(super) fn worker_frame(&self, core: &Arc<Core>, frame: &[u8]) -> bool {
        self.modules.iter().any(|m| m.worker_frame(core, frame))
    }

    /// Starts every module; returns the tasks shutdown waits for.
    pub(super) fn start(&self, core: &Arc<Core>) -> Vec<JoinHandle<()>> {
        self.modules
            .iter()
            .flat_map(|m| m.clone().start(core))
            .collect()
    }
}
