//! Firing the bindings of the built-in trigger types: each binding's
//! condition where the engine evaluates one, then its function, with its
//! metadata where the engine passes it.

use std::sync::Arc;

use iii_protocol::{DEFAULT_NAMESPACE, ErrorBody, RegisterTrigger, TriggerKind};
use serde_json::Value;

use super::Core;
use super::kinds::{delivers_metadata, honours_condition};
use super::module::Outcome;
use super::raw_body::RawBody;

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
    Ran(Outcome),
}

/// The namespace a binding's function (and condition) resolve in.
pub(crate) fn binding_namespace(binding: &RegisterTrigger) -> String {
    binding
        .namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.into())
}

/// A binding's kind, as the kinds table knows it.
fn kind(binding: &RegisterTrigger) -> TriggerKind {
    TriggerKind::from_engine_type(&binding.trigger_type).unwrap_or(TriggerKind::Custom)
}

impl Core {
    /// Fires every active binding of a built-in trigger type whose config
    /// `matches`, checking each binding's condition function first.
    pub(crate) fn fire(
        self: &Arc<Self>,
        trigger_type: &str,
        payload: Value,
        matches: impl Fn(&Value) -> bool,
    ) {
        let bindings = self.bindings(trigger_type);
        for binding in bindings.into_iter().filter(|b| matches(&b.config)) {
            let core = self.clone();
            let payload = payload.clone();
            tokio::spawn(async move {
                core.fire_one(&binding, payload).await;
            });
        }
    }

    /// Runs one binding as the engine does: [`Core::gate`], then
    /// [`Core::run`].
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
        let condition = binding
            .config
            .get("condition_function_id")
            .and_then(Value::as_str)
            .filter(|_| honours_condition(kind(binding)));
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
    ) -> Outcome {
        self.run_with(binding, payload, None).await
    }

    /// [`Core::run`], with a request's body passed on as it came: `payload`
    /// holds its marker.
    pub(crate) async fn run_with(
        self: &Arc<Self>,
        binding: &RegisterTrigger,
        payload: Value,
        body: Option<RawBody>,
    ) -> Outcome {
        let metadata = binding
            .metadata
            .clone()
            .filter(|_| delivers_metadata(kind(binding)));
        let namespace = binding_namespace(binding);
        self.invoke_with(
            &namespace,
            &binding.function_id,
            payload,
            metadata,
            true,
            body,
        )
        .await
    }
}
