//! The engine's own functions and trigger types, declared as a module's
//! are: discovery (`engine::functions::list`, `engine::workers::list`,
//! `engine::triggers::list`, `engine::registered-triggers::list`) and the
//! lookups of one of each (`engine::*::info`), bindings
//! made by a call (`engine::register_trigger`,
//! `engine::unregister_trigger`), and the `engine::functions-available`
//! and `engine::workers-available` trigger types.
//!
//! `engine::workers::register` is declared here, but a worker's call of it
//! is answered by the connection's reader, as it needs the caller.

use std::sync::Arc;
use std::time::Duration;

use iii_protocol::{DEFAULT_NAMESPACE, ErrorBody, RegisterTrigger, TriggerKind};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::Core;
use super::discovery::{
    BindingFilter, FunctionFilter, TriggerTypeFilter, WorkerFilter, binding_summaries,
    function_summaries, trigger_type_summaries, worker_summaries,
};
use super::lookups;
use super::module::{EngineModule, Function, Outcome, TriggerType};
use super::registrations::BindOutcome;
use super::workers::REGISTER_WORKER;

/// How long `engine::register_trigger` waits for a provider's verdict.
const PROVIDER_VERDICT: Duration = Duration::from_secs(10);

/// The engine's own functions and trigger types.
pub(super) struct EngineFunctions;

impl EngineModule for EngineFunctions {
    fn name(&self) -> &'static str {
        "iii-engine-functions"
    }

    fn functions(self: Arc<Self>) -> Vec<Function> {
        vec![
            Function::now("engine::functions::list", &self, Self::list_functions),
            Function::now("engine::workers::list", &self, Self::list_workers),
            Function::now("engine::triggers::list", &self, Self::list_trigger_types),
            Function::now(
                "engine::registered-triggers::list",
                &self,
                Self::list_bindings,
            ),
            Function::now("engine::functions::info", &self, |_, core, i| {
                lookups::function_info(&core.lock(), i)
            }),
            Function::now("engine::triggers::info", &self, |_, core, i| {
                lookups::trigger_type_info(&core.lock(), i)
            }),
            Function::now("engine::registered-triggers::info", &self, |_, core, i| {
                lookups::binding_info(&core.lock(), i)
            }),
            Function::now("engine::workers::info", &self, |_, core, i| {
                let registry = core.lock();
                let rows =
                    worker_summaries(&registry, &WorkerFilter::default(), registry.started_at_ms);
                lookups::worker_info(&registry, i, rows)
            }),
            // A worker's own call is answered by its connection's reader,
            // which knows the caller; one without a caller fails as the
            // engine fails it. Declared here so that discovery lists it.
            Function::now(REGISTER_WORKER, &self, |_, _, _: Caller| {
                Ok(json!({"success": false}))
            }),
            Function::waits("engine::register_trigger", &self, |_, core, binding| {
                register_trigger(core, binding)
            }),
            Function::now(
                "engine::unregister_trigger",
                &self,
                Self::unregister_trigger,
            ),
        ]
    }

    fn trigger_types(self: Arc<Self>) -> Vec<TriggerType> {
        vec![
            TriggerType::new(TriggerKind::FunctionsAvailable),
            TriggerType::new(TriggerKind::WorkersAvailable),
        ]
    }
}

impl EngineFunctions {
    /// `engine::functions::list`.
    fn list_functions(&self, core: &Arc<Core>, i: FunctionFilter) -> Outcome {
        let functions = function_summaries(&core.lock(), &i);
        Ok(json!({ "functions": functions }))
    }

    /// `engine::workers::list`.
    fn list_workers(&self, core: &Arc<Core>, i: WorkerFilter) -> Outcome {
        let registry = core.lock();
        let workers = worker_summaries(&registry, &i, registry.started_at_ms);
        Ok(json!({ "workers": workers }))
    }

    /// `engine::triggers::list`: the trigger types provided.
    fn list_trigger_types(&self, core: &Arc<Core>, i: TriggerTypeFilter) -> Outcome {
        let triggers = trigger_type_summaries(&core.lock(), &i);
        Ok(json!({ "triggers": triggers }))
    }

    /// `engine::registered-triggers::list`: the live bindings.
    fn list_bindings(&self, core: &Arc<Core>, i: BindingFilter) -> Outcome {
        let bindings = binding_summaries(&core.lock(), &i);
        Ok(json!({ "registered_triggers": bindings }))
    }

    /// `engine::unregister_trigger`: a worker's own bindings and those
    /// nobody owns (made with `engine::register_trigger`), the rule of the
    /// `unregistertrigger` frame; any binding when the engine itself calls.
    /// The engine 0.23 removes any binding for any worker.
    fn unregister_trigger(&self, core: &Arc<Core>, i: BindingId) -> Outcome {
        let removed = core.lock().unregister_binding(&i.id, i.caller.as_deref());
        Ok(json!({ "removed": removed }))
    }
}

/// The input of `engine::workers::register` that the engine requires:
/// the caller it writes into every object a worker sends.
#[derive(Deserialize)]
struct Caller {
    #[serde(rename = "_caller_worker_id")]
    _caller: String,
}

/// The input of `engine::register_trigger`.
#[derive(Deserialize)]
struct NewBinding {
    trigger_type: String,
    function_id: String,
    #[serde(default)]
    config: Value,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    trigger_namespace: Option<String>,
}

/// The input of `engine::unregister_trigger`.
#[derive(Deserialize)]
struct BindingId {
    id: String,
    /// The calling worker, as the engine writes it into every object
    /// payload a worker sends (over whatever the worker put there); absent
    /// when the engine itself calls.
    #[serde(rename = "_caller_worker_id", default)]
    caller: Option<String>,
}

/// `engine::register_trigger`: a binding with no owner, made in
/// `default`; a provider's refusal fails the call.
async fn register_trigger(core: Arc<Core>, i: NewBinding) -> Outcome {
    let id = uuid::Uuid::new_v4().to_string();
    let binding = RegisterTrigger {
        id: id.clone(),
        trigger_type: i.trigger_type,
        function_id: i.function_id,
        config: if i.config.is_null() {
            json!({})
        } else {
            i.config
        },
        metadata: i.metadata,
        namespace: None,
        trigger_namespace: i.trigger_namespace,
    };
    let (ack_tx, ack_rx) = oneshot::channel();
    let mut events = Vec::new();
    let outcome = {
        let mut registry = core.lock();
        registry.acks.insert(id.clone(), ack_tx);
        registry.register_binding(None, DEFAULT_NAMESPACE, binding, &mut events)
    };
    core.deliver(events);
    let refused = |error: ErrorBody| {
        ErrorBody::new(
            "trigger_registration_failed",
            format!("{}: {}", error.code, error.message),
        )
    };
    match outcome {
        BindOutcome::Refused(error) => {
            core.lock().acks.remove(&id);
            Err(refused(error))
        }
        BindOutcome::Forwarded => match tokio::time::timeout(PROVIDER_VERDICT, ack_rx).await {
            Ok(Ok(Some(error))) => {
                core.lock().unregister_binding(&id, None);
                Err(refused(error))
            }
            _ => {
                core.lock().acks.remove(&id);
                Ok(json!({"id": id}))
            }
        },
        BindOutcome::Accepted | BindOutcome::Parked => {
            core.lock().acks.remove(&id);
            Ok(json!({"id": id}))
        }
    }
}
