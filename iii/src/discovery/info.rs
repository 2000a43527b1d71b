//! Lookups of one function, trigger type, binding or worker, and the
//! engine's health: the engine's `*::info` functions and
//! `engine::health::check`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{FunctionInfo, TriggerInfo, TriggerTypeInfo, WorkerInfo};
use crate::error::Error;
use crate::worker::Worker;

/// A function as `engine::functions::info` describes it: its summary, its
/// schemas and its live bindings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDetail {
    /// What the listing shows of it.
    #[serde(flatten)]
    pub info: FunctionInfo,
    /// The JSON schema of its input, when it registered one.
    #[serde(default)]
    pub request_schema: Option<Value>,
    /// The JSON schema of its output, when it registered one.
    #[serde(default)]
    pub response_schema: Option<Value>,
    /// Its live bindings: `id`, `trigger_type` and `config` of each.
    #[serde(default)]
    pub registered_triggers: Vec<Value>,
}

/// A trigger type as `engine::triggers::info` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerTypeDetail {
    /// What the listing shows of it.
    #[serde(flatten)]
    pub info: TriggerTypeInfo,
    /// The JSON schema of a binding's config.
    #[serde(default)]
    pub configuration_schema: Option<Value>,
    /// The JSON schema of what a fire hands the function.
    #[serde(default)]
    pub request_schema: Option<Value>,
    /// The JSON schema of what the function answers (only `http` has one).
    #[serde(default)]
    pub response_schema: Option<Value>,
    /// How many live bindings it has.
    #[serde(default)]
    pub instance_count: u64,
}

/// A binding as `engine::registered-triggers::info` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerDetail {
    /// What the listing shows of it (the function its alias stands for in
    /// `function_id`, as [`Worker::list_triggers`] gives it).
    #[serde(flatten)]
    pub info: TriggerInfo,
    /// The binding's metadata.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Its trigger type, if it is still provided.
    #[serde(default)]
    pub trigger: Option<TriggerTypeDetail>,
    /// The function it fires, if it is still served.
    #[serde(default)]
    pub function: Option<FunctionDetail>,
}

/// A worker as `engine::workers::info` describes it, with what it serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerDetail {
    /// The worker (its `pid` and `internal` among its extra fields).
    pub worker: WorkerInfo,
    /// The functions it serves.
    #[serde(default)]
    pub functions: Vec<FunctionInfo>,
    /// The trigger types it provides.
    #[serde(default)]
    pub trigger_types: Vec<TriggerTypeInfo>,
    /// The live bindings of its functions.
    #[serde(default)]
    pub registered_triggers: Vec<TriggerInfo>,
}

/// What `engine::health::check` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `healthy`, or `degraded`.
    pub status: String,
    /// Each part of the engine's telemetry (`otel`, `metrics`, `logs`,
    /// `spans`): `{"status": "healthy" | "disabled", "details": ...}`.
    #[serde(default)]
    pub components: Map<String, Value>,
    /// When the engine answered, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub timestamp: u64,
    /// The engine's version.
    #[serde(default)]
    pub version: Option<String>,
}

impl Worker {
    /// One function, by id: in `default` if it is there, else in the one
    /// namespace that serves it. A function no worker serves fails with
    /// `NOT_FOUND`.
    ///
    /// ```no_run
    /// # async fn run(worker: iii::Worker) -> Result<(), iii::Error> {
    /// let greet = worker.function_info("greet").await?;
    /// println!("{:?} takes {:?}", greet.info.worker_name, greet.request_schema);
    /// # Ok(()) }
    /// ```
    pub async fn function_info(&self, function_id: &str) -> Result<FunctionDetail, Error> {
        self.ask(
            "engine::functions::info",
            &json!({ "function_id": function_id }),
        )
        .await
    }

    /// One trigger type, by id, in `default`. One nobody provides fails
    /// with `NOT_FOUND`.
    pub async fn trigger_type_info(&self, id: &str) -> Result<TriggerTypeDetail, Error> {
        self.ask("engine::triggers::info", &json!({ "id": id }))
            .await
    }

    /// One live binding, by id, with its trigger type and its function.
    /// One that is not live fails with `NOT_FOUND`.
    pub async fn trigger_info(&self, id: &str) -> Result<TriggerDetail, Error> {
        let mut detail: TriggerDetail = self
            .ask("engine::registered-triggers::info", &json!({ "id": id }))
            .await?;
        detail.info = detail.info.resolve_alias();
        Ok(detail)
    }

    /// One worker, by name, with the functions, trigger types and bindings
    /// it serves. A name nobody connected with fails with `NOT_FOUND`.
    pub async fn worker_info(&self, name: &str) -> Result<WorkerDetail, Error> {
        let mut detail: WorkerDetail = self
            .ask("engine::workers::info", &json!({ "name": name }))
            .await?;
        let bindings = std::mem::take(&mut detail.registered_triggers);
        detail.registered_triggers = bindings
            .into_iter()
            .map(TriggerInfo::resolve_alias)
            .collect();
        Ok(detail)
    }

    /// The engine's health.
    pub async fn health(&self) -> Result<Health, Error> {
        self.ask("engine::health::check", &json!({})).await
    }
}
