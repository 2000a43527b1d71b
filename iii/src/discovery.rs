//! What else is connected: functions, workers and trigger types.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::Error;
use crate::worker::Worker;

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
    fn resolve_alias(mut self) -> TriggerInfo {
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
        #[derive(Deserialize)]
        struct Out {
            registered_triggers: Vec<TriggerInfo>,
        }
        let out: Out = self
            .invoke("engine::registered-triggers::list")
            .data(json!({"include_internal": include_internal}))
            .call()
            .await?;
        Ok(out
            .registered_triggers
            .into_iter()
            .map(TriggerInfo::resolve_alias)
            .collect())
    }

    /// Every function the engine knows, across all workers.
    pub async fn list_functions(&self) -> Result<Vec<FunctionInfo>, Error> {
        #[derive(Deserialize)]
        struct Out {
            functions: Vec<FunctionInfo>,
        }
        let out: Out = self
            .invoke("engine::functions::list")
            .data(json!({}))
            .call()
            .await?;
        Ok(out.functions)
    }

    /// Every connected worker (the engine lists only workers that sent a pid).
    pub async fn list_workers(&self) -> Result<Vec<WorkerInfo>, Error> {
        #[derive(Deserialize)]
        struct Out {
            workers: Vec<WorkerInfo>,
        }
        let out: Out = self
            .invoke("engine::workers::list")
            .data(json!({}))
            .call()
            .await?;
        Ok(out.workers)
    }

    /// Every trigger type; `include_internal` adds the engine's own.
    pub async fn list_trigger_types(
        &self,
        include_internal: bool,
    ) -> Result<Vec<TriggerTypeInfo>, Error> {
        #[derive(Deserialize)]
        struct Out {
            triggers: Vec<TriggerTypeInfo>,
        }
        let out: Out = self
            .invoke("engine::triggers::list")
            .data(json!({"include_internal": include_internal}))
            .call()
            .await?;
        Ok(out.triggers)
    }
}
