//! What else is connected: functions, workers, trigger types and bindings,
//! listed with the engine's filters or looked up one at a time, and the
//! engine's health.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::worker::Worker;

mod filter;
mod info;

pub use filter::{FunctionFilter, TriggerFilter, TriggerTypeFilter, WorkerFilter};
pub use info::{FunctionDetail, Health, TriggerDetail, TriggerTypeDetail, WorkerDetail};

/// A function as `engine::functions::list` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionInfo {
    /// Function id.
    pub function_id: String,
    /// Namespace it lives in.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The worker that exports it.
    #[serde(default)]
    pub worker_name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Metadata.
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// A worker as `engine::workers::list` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Connection id.
    pub id: String,
    /// Worker name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// SDK version.
    #[serde(default)]
    pub version: Option<String>,
    /// Namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Runtime, e.g. `rust`.
    #[serde(default)]
    pub runtime: Option<String>,
    /// Operating system.
    #[serde(default)]
    pub os: Option<String>,
    /// Status, e.g. `connected`.
    #[serde(default)]
    pub status: Option<String>,
    /// Number of functions it exports.
    #[serde(default)]
    pub function_count: Option<u64>,
    /// Other fields the engine reports.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// A trigger type as `engine::triggers::list` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerTypeInfo {
    /// Type id.
    pub id: String,
    /// Namespace of the provider.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Provider worker.
    #[serde(default)]
    pub worker_name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// A trigger binding as `engine::registered-triggers::list` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerInfo {
    /// Binding id.
    pub id: String,
    /// Trigger type, e.g. `http`.
    pub trigger_type: String,
    /// The function it fires: for a binding an SDK worker made to one of
    /// its own functions, that function (the engine routes the fires
    /// through [`TriggerInfo::alias`]).
    pub function_id: String,
    /// The alias the engine routes the fires to, `<id>:trigger:<index>`,
    /// when the binding has one.
    #[serde(default)]
    pub alias: Option<String>,
    /// The worker serving that function.
    #[serde(default)]
    pub worker_name: Option<String>,
    /// The binding's config.
    #[serde(default)]
    pub config: Value,
}

impl TriggerInfo {
    /// The binding with the function its alias stands for.
    pub(super) fn resolve_alias(mut self) -> TriggerInfo {
        if let Some(function_id) = crate::trigger::bound_function(&self.function_id) {
            let function_id = function_id.to_string();
            self.alias = Some(std::mem::replace(&mut self.function_id, function_id));
        }
        self
    }
}

impl Worker {
    /// Every live trigger binding, across all workers (parked ones, whose
    /// type has no provider yet, are not listed). `include_internal` adds
    /// the bindings of the engine's own functions (`engine::*`).
    pub async fn list_triggers(&self, include_internal: bool) -> Result<Vec<TriggerInfo>, Error> {
        self.list_triggers_where(&TriggerFilter::new().include_internal(include_internal))
            .await
    }

    /// The live trigger bindings `filter` picks, sorted by id.
    ///
    /// ```no_run
    /// # async fn run(worker: iii::Worker) -> Result<(), iii::Error> {
    /// use iii::discovery::TriggerFilter;
    ///
    /// let routes = worker
    ///     .list_triggers_where(&TriggerFilter::new().trigger_type("http").function_id("greet"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn list_triggers_where(
        &self,
        filter: &TriggerFilter,
    ) -> Result<Vec<TriggerInfo>, Error> {
        #[derive(Deserialize)]
        struct Out {
            registered_triggers: Vec<TriggerInfo>,
        }
        let out: Out = self
            .ask("engine::registered-triggers::list", filter)
            .await?;
        let wanted = filter.function_id.as_deref();
        Ok(out
            .registered_triggers
            .into_iter()
            .map(TriggerInfo::resolve_alias)
            .filter(|t| wanted.is_none_or(|id| t.function_id == id))
            .collect())
    }

    /// Every function the engine knows, across all workers, but the
    /// engine's internal ones.
    pub async fn list_functions(&self) -> Result<Vec<FunctionInfo>, Error> {
        self.list_functions_where(&FunctionFilter::new()).await
    }

    /// The functions `filter` picks, sorted by id (by how well the id
    /// matches, with [`FunctionFilter::search`]).
    ///
    /// ```no_run
    /// # async fn run(worker: iii::Worker) -> Result<(), iii::Error> {
    /// use iii::discovery::FunctionFilter;
    ///
    /// let billing = worker
    ///     .list_functions_where(&FunctionFilter::new().worker("billing"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn list_functions_where(
        &self,
        filter: &FunctionFilter,
    ) -> Result<Vec<FunctionInfo>, Error> {
        #[derive(Deserialize)]
        struct Out {
            functions: Vec<FunctionInfo>,
        }
        let out: Out = self.ask("engine::functions::list", filter).await?;
        Ok(out.functions)
    }

    /// Every worker: the engine's own in-process workers, and the
    /// connected ones that sent their pid.
    pub async fn list_workers(&self) -> Result<Vec<WorkerInfo>, Error> {
        self.list_workers_where(&WorkerFilter::new()).await
    }

    /// The workers `filter` picks, sorted by name.
    pub async fn list_workers_where(
        &self,
        filter: &WorkerFilter,
    ) -> Result<Vec<WorkerInfo>, Error> {
        #[derive(Deserialize)]
        struct Out {
            workers: Vec<WorkerInfo>,
        }
        let out: Out = self.ask("engine::workers::list", filter).await?;
        Ok(out.workers)
    }

    /// Every trigger type; `include_internal` adds the engine's own.
    pub async fn list_trigger_types(
        &self,
        include_internal: bool,
    ) -> Result<Vec<TriggerTypeInfo>, Error> {
        let filter = TriggerTypeFilter::new().include_internal(include_internal);
        self.list_trigger_types_where(&filter).await
    }

    /// The trigger types `filter` picks, sorted by id.
    pub async fn list_trigger_types_where(
        &self,
        filter: &TriggerTypeFilter,
    ) -> Result<Vec<TriggerTypeInfo>, Error> {
        #[derive(Deserialize)]
        struct Out {
            triggers: Vec<TriggerTypeInfo>,
        }
        let out: Out = self.ask("engine::triggers::list", filter).await?;
        Ok(out.triggers)
    }

    /// Calls one of the engine's discovery functions with `input`.
    pub(super) async fn ask<O: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        function_id: &str,
        input: &impl Serialize,
    ) -> Result<O, Error> {
        self.invoke(function_id).payload(input).call().await
    }
}
