//! Trigger bindings: typed configs for every built-in trigger type, plus
//! custom types, validated before anything is sent.
//!
//! ```
//! use iii::trigger::{Cron, Http, Trigger};
//!
//! let http = Trigger::new("greetings::greet", Http::get("/greet/:name"));
//! assert_eq!(http.trigger_type(), "http");
//! let nightly = Trigger::new("reports::build", Cron::new("0 0 3 * * *"))
//!     .metadata(serde_json::json!({"report": "daily"}));
//! assert!(nightly.validate().is_ok());
//! // Five-field cron expressions are refused with a hint:
//! let bad = Trigger::new("reports::build", Cron::new("0 3 * * *"));
//! assert!(bad.validate().unwrap_err().to_string().contains("seconds first"));
//! ```

mod binding_id;
mod config;
mod fires;
mod info;
mod keys;
pub(crate) mod log_level;
#[cfg(test)]
mod tests;

use crate::verdict::Verdict;
use serde_json::Value;

use crate::error::{Error, validate_id, validate_namespace};
use crate::worker::Worker;
use iii_protocol::{ErrorBody, RegisterTrigger};

pub(crate) use binding_id::derived as derived_binding_id;
pub use config::{
    Cron, Custom, FunctionsAvailable, Http, Log, Queue, QueueConfig, StateChange, StreamChange,
    StreamJoin, StreamLeave, Subscribe, WorkersAvailable,
};
pub use fires::CronFire;
pub use iii_protocol::TriggerKind;
pub use iii_protocol::rules::{HTTP_METHODS, validate_cron, validate_http_path};
pub use info::TriggerInfo;
pub(crate) use info::{alias, bound_function};
pub(crate) use keys::from_keys;
pub use log_level::LogLevel;

/// A trigger type's configuration.
pub trait TriggerConfig {
    /// The engine's trigger-type id, e.g. `http` or `durable:subscriber`.
    fn trigger_type(&self) -> &str;
    /// The `config` object to send, after validation.
    fn to_config(&self) -> Result<Value, Error>;
    /// The built-in kind this config is for (`None` for a custom type), so
    /// a binding can be checked against what the engine does with it.
    fn kind(&self) -> Option<TriggerKind> {
        None
    }
}

/// A binding of a trigger to a function, ready to register.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// The binding id the user chose, if any.
    id: Option<String>,
    function_id: String,
    trigger_type: String,
    kind: Option<TriggerKind>,
    config: Result<Value, String>,
    metadata: Option<Value>,
    namespace: Option<String>,
    trigger_namespace: Option<String>,
}

impl Trigger {
    /// Binds `config` to `function_id`. Validation errors surface when the
    /// trigger is registered (or from [`Trigger::validate`]).
    pub fn new(function_id: impl Into<String>, config: impl TriggerConfig) -> Self {
        Trigger {
            id: None,
            function_id: function_id.into(),
            trigger_type: config.trigger_type().to_string(),
            kind: config.kind(),
            config: config.to_config().map_err(|e| e.to_string()),
            metadata: None,
            namespace: None,
            trigger_namespace: None,
        }
    }

    /// A binding that fails to register, with `reason`.
    pub(crate) fn refused(
        function_id: impl Into<String>,
        trigger_type: impl Into<String>,
        reason: String,
    ) -> Self {
        Trigger {
            id: None,
            function_id: function_id.into(),
            trigger_type: trigger_type.into(),
            kind: None,
            config: Err(reason),
            metadata: None,
            namespace: None,
            trigger_namespace: None,
        }
    }

    /// The binding's id. By default a binding to one of the worker's own
    /// functions (every `#[iii::trigger]`) gets an id derived from what it
    /// binds, the same on every replica of the program, and any other
    /// binding a random one.
    ///
    /// The engine keys bindings by id, and its cron worker takes each
    /// tick's lock under it: replicas of a worker on several engines
    /// sharing one Redis fire a cron job once per tick only when their
    /// bindings share an id. Give a binding to another worker's function
    /// an id of its own for that (on one engine, the last worker to bind an
    /// id owns it: see the README's "Several engines").
    ///
    /// ```
    /// use iii::trigger::{Cron, Trigger};
    /// let nightly = Trigger::new("reports::build", Cron::new("0 0 3 * * *")).id("reports-nightly");
    /// assert_eq!(nightly.get_id(), Some("reports-nightly"));
    /// ```
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The id chosen with [`Trigger::id`], if any.
    pub fn get_id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Metadata delivered with every fire (see [`crate::Context::metadata`]).
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Namespace the target function resolves in. By default it is the
    /// namespace of the worker that registers the trigger, where its own
    /// functions live; name `"default"` to bind a function there from a
    /// namespaced worker.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Namespace to find the trigger type's provider in.
    pub fn trigger_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.trigger_namespace = Some(namespace.into());
        self
    }

    /// The trigger-type id.
    pub fn trigger_type(&self) -> &str {
        &self.trigger_type
    }

    /// The target function.
    pub fn function_id(&self) -> &str {
        &self.function_id
    }

    /// The `config` object sent to the engine, or why the binding is invalid.
    pub fn config(&self) -> Result<&Value, Error> {
        self.config.as_ref().map_err(|reason| self.invalid(reason))
    }

    /// The metadata delivered with every fire, if set.
    pub fn get_metadata(&self) -> Option<&Value> {
        self.metadata.as_ref()
    }

    /// The namespace the target resolves in, if set (unset: the worker's).
    pub fn get_namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    fn invalid(&self, reason: &str) -> Error {
        Error::Invalid {
            what: format!("trigger for `{}`", self.function_id),
            reason: reason.to_string(),
        }
    }

    /// Checks the binding without sending it.
    pub fn validate(&self) -> Result<(), Error> {
        validate_id("trigger function id", &self.function_id)?;
        for (what, ns) in [
            ("namespace", &self.namespace),
            ("trigger_namespace", &self.trigger_namespace),
        ] {
            if let Some(ns) = ns {
                validate_namespace(what, ns)?;
            }
        }
        self.config().map(|_| ())
    }

    /// The built-in kind, for typed configs.
    pub(crate) fn kind(&self) -> Option<TriggerKind> {
        self.kind
    }

    /// The `registertrigger` frame for binding id `id`, registered by a
    /// worker in `worker_namespace`. Takes the trigger: its config (a map
    /// of several hundred bytes) moves into the message instead of being
    /// copied.
    pub(crate) fn into_message(
        self,
        id: String,
        worker_namespace: Option<&str>,
    ) -> Result<RegisterTrigger, Error> {
        self.validate()?;
        Ok(RegisterTrigger {
            id,
            trigger_type: self.trigger_type,
            function_id: self.function_id,
            config: self.config.unwrap_or_default(),
            metadata: self.metadata,
            namespace: self
                .namespace
                .or_else(|| worker_namespace.map(String::from)),
            trigger_namespace: self.trigger_namespace,
        })
    }
}

/// What the engine would drop from a binding of `kind`, with `metadata` or
/// not and `config`, if it went straight to the function, with the reason
/// (a condition or metadata the engine ignores on its kind); the SDK makes
/// up for it only for bindings to its own functions, so `register_trigger`
/// asks it of another worker's function's binding, from the message the
/// trigger became.
pub(crate) fn engine_drops(
    kind: Option<TriggerKind>,
    metadata: bool,
    config: Option<&Value>,
) -> Option<String> {
    let kind = kind?;
    let uses = |key: &str| match key {
        "metadata" => metadata,
        "condition" => config.is_some_and(|c| c.get("condition_function_id").is_some()),
        _ => false,
    };
    let (key, reason) = kind.ignored().iter().find(|(key, _)| uses(key))?;
    Some(format!("`{key}` on a `{kind}` binding: {reason}"))
}

/// A registered trigger binding.
#[derive(Debug, Clone)]
pub struct TriggerHandle {
    pub(crate) id: String,
    pub(crate) worker: Worker,
    pub(crate) verdict: Verdict,
}

impl TriggerHandle {
    /// The binding id: the one set with [`Trigger::id`], else derived
    /// from the binding (for the worker's own functions) or random.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The refusal the engine or the provider sent for this binding, if any
    /// (for example an invalid cron expression or a missing `api_path`).
    pub fn rejection(&self) -> Option<ErrorBody> {
        self.verdict.rejection()
    }

    /// Waits until the binding is refused. The engine sends no success
    /// acknowledgement, so pair this with a timeout.
    pub async fn rejected(&self) -> ErrorBody {
        self.verdict.rejected().await
    }

    /// Removes the binding.
    pub fn unregister(&self) -> Result<(), Error> {
        self.worker.unregister_trigger(&self.id)
    }
}
