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

use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::error::Error;
use crate::function::validate_id;
use crate::protocol::{ErrorBody, RegisterTrigger};
use crate::worker::Worker;

/// A trigger type's configuration.
pub trait TriggerConfig {
    /// The engine's trigger-type id, e.g. `http` or `durable:subscriber`.
    fn trigger_type(&self) -> &str;
    /// The `config` object to send, after validation.
    fn to_config(&self) -> Result<Value, Error>;
}

fn invalid(kind: &str, reason: impl Into<String>) -> Error {
    Error::invalid(format!("{kind} trigger config"), reason)
}

fn to_value(kind: &str, config: &impl Serialize) -> Result<Value, Error> {
    serde_json::to_value(config).map_err(|source| Error::Encode {
        what: format!("the {kind} trigger config"),
        source,
    })
}

pub use crate::rules::{HTTP_METHODS, validate_cron, validate_http_path};

/// `http`: serve an HTTP route on the engine's REST listener.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Http {
    api_path: String,
    http_method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition_function_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    middleware_function_ids: Vec<String>,
}

impl Http {
    /// A route for `method` at `path`; path parameters use `:name`.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Self {
        Http {
            api_path: path.into(),
            http_method: method.into().to_ascii_uppercase(),
            condition_function_id: None,
            middleware_function_ids: Vec::new(),
        }
    }
    /// `GET path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new("GET", path)
    }
    /// `POST path`.
    pub fn post(path: impl Into<String>) -> Self {
        Self::new("POST", path)
    }
    /// `PUT path`.
    pub fn put(path: impl Into<String>) -> Self {
        Self::new("PUT", path)
    }
    /// `DELETE path`.
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new("DELETE", path)
    }
    /// `PATCH path`.
    pub fn patch(path: impl Into<String>) -> Self {
        Self::new("PATCH", path)
    }
    /// Runs `function_id` first; the request gets 422 if it returns `false`.
    pub fn condition(mut self, function_id: impl Into<String>) -> Self {
        self.condition_function_id = Some(function_id.into());
        self
    }
    /// Runs these middleware functions before the handler, in order.
    pub fn middleware(mut self, function_ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.middleware_function_ids = function_ids.into_iter().map(Into::into).collect();
        self
    }
}

impl TriggerConfig for Http {
    fn trigger_type(&self) -> &str {
        "http"
    }
    fn to_config(&self) -> Result<Value, Error> {
        crate::rules::validate_http_method(&self.http_method)
            .map_err(|reason| invalid("http", reason))?;
        validate_http_path(&self.api_path).map_err(|reason| invalid("http", reason))?;
        to_value("http", self)
    }
}

/// `cron`: fire on a schedule (UTC; 6 or 7 fields, seconds first).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cron {
    expression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition_function_id: Option<String>,
}

impl Cron {
    /// A schedule such as `0 */5 * * * *` (every five minutes) or `@daily`.
    pub fn new(expression: impl Into<String>) -> Self {
        Cron {
            expression: expression.into(),
            condition_function_id: None,
        }
    }
    /// Runs `function_id` first; the fire is skipped if it returns `false`.
    pub fn condition(mut self, function_id: impl Into<String>) -> Self {
        self.condition_function_id = Some(function_id.into());
        self
    }
}

impl TriggerConfig for Cron {
    fn trigger_type(&self) -> &str {
        "cron"
    }
    fn to_config(&self) -> Result<Value, Error> {
        validate_cron(&self.expression).map_err(|reason| invalid("cron", reason))?;
        to_value("cron", self)
    }
}

/// `subscribe`: receive every `publish` on a topic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subscribe {
    topic: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition_function_id: Option<String>,
}

impl Subscribe {
    /// Subscribe to `topic`.
    pub fn new(topic: impl Into<String>) -> Self {
        Subscribe {
            topic: topic.into(),
            condition_function_id: None,
        }
    }
    /// Runs `function_id` first; the message is skipped if it returns `false`.
    pub fn condition(mut self, function_id: impl Into<String>) -> Self {
        self.condition_function_id = Some(function_id.into());
        self
    }
}

fn require(kind: &str, field: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(invalid(kind, format!("`{field}` is empty; it is required")));
    }
    Ok(())
}

impl TriggerConfig for Subscribe {
    fn trigger_type(&self) -> &str {
        "subscribe"
    }
    fn to_config(&self) -> Result<Value, Error> {
        require("subscribe", "topic", &self.topic)?;
        to_value("subscribe", self)
    }
}

/// Retry and delivery settings of a durable queue subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueConfig {
    /// Queue mode, e.g. `fifo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_mode: Option<String>,
    /// Deliveries after the first before a message goes to the dead-letter queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Messages processed at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Seconds a message stays invisible while being processed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility_timeout: Option<u64>,
    /// Seconds to delay each delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<u64>,
    /// `fixed` or `exponential`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_type: Option<String>,
    /// Base delay between retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_delay_ms: Option<u64>,
    /// Highest message priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_priority: Option<u32>,
}

/// `durable:subscriber`: durable delivery of `iii::durable::publish` messages,
/// retried when the handler fails.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Queue {
    topic: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition_function_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_config: Option<QueueConfig>,
}

impl Queue {
    /// Durably subscribe to `topic`.
    pub fn new(topic: impl Into<String>) -> Self {
        Queue {
            topic: topic.into(),
            condition_function_id: None,
            queue_config: None,
        }
    }
    /// Sets retry and delivery settings.
    pub fn config(mut self, config: QueueConfig) -> Self {
        self.queue_config = Some(config);
        self
    }
    /// Runs `function_id` first; the message is skipped if it returns `false`.
    pub fn condition(mut self, function_id: impl Into<String>) -> Self {
        self.condition_function_id = Some(function_id.into());
        self
    }
}

impl TriggerConfig for Queue {
    fn trigger_type(&self) -> &str {
        "durable:subscriber"
    }
    fn to_config(&self) -> Result<Value, Error> {
        require("durable:subscriber", "topic", &self.topic)?;
        to_value("durable:subscriber", self)
    }
}

/// `state`: fire when a state entry is created, updated or deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StateChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition_function_id: Option<String>,
}

impl StateChange {
    /// Every change in every scope.
    pub fn any() -> Self {
        Self::default()
    }
    /// Only changes in `scope`.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }
    /// Only changes of `key`.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
    /// Runs `function_id` first; the event is skipped if it returns `false`.
    pub fn condition(mut self, function_id: impl Into<String>) -> Self {
        self.condition_function_id = Some(function_id.into());
        self
    }
}

impl TriggerConfig for StateChange {
    fn trigger_type(&self) -> &str {
        "state"
    }
    fn to_config(&self) -> Result<Value, Error> {
        to_value("state", self)
    }
}

/// `stream`: fire when an item of a stream changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamChange {
    stream_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition_function_id: Option<String>,
}

impl StreamChange {
    /// Changes of the stream `stream_name` (required: the engine 0.23 crashes
    /// the connection's handler on a stream trigger without it).
    pub fn new(stream_name: impl Into<String>) -> Self {
        StreamChange {
            stream_name: stream_name.into(),
            group_id: None,
            item_id: None,
            condition_function_id: None,
        }
    }
    /// Only this group.
    pub fn group(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }
    /// Only this item.
    pub fn item(mut self, item_id: impl Into<String>) -> Self {
        self.item_id = Some(item_id.into());
        self
    }
    /// Runs `function_id` first; the event is skipped if it returns `false`.
    pub fn condition(mut self, function_id: impl Into<String>) -> Self {
        self.condition_function_id = Some(function_id.into());
        self
    }
}

impl TriggerConfig for StreamChange {
    fn trigger_type(&self) -> &str {
        "stream"
    }
    fn to_config(&self) -> Result<Value, Error> {
        require("stream", "stream_name", &self.stream_name)?;
        to_value("stream", self)
    }
}

/// The minimum level of a [`Log`] trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything.
    All,
    /// Debug and above.
    Debug,
    /// Info and above.
    Info,
    /// Warnings and errors.
    Warn,
    /// Errors only.
    Error,
}

/// `log`: receive log records (the engine's own included) at or above a level.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Log {
    #[serde(skip_serializing_if = "Option::is_none")]
    level: Option<LogLevel>,
}

impl Log {
    /// Every log record.
    pub fn all() -> Self {
        Self::default()
    }
    /// Records at or above `level`.
    pub fn level(level: LogLevel) -> Self {
        Log { level: Some(level) }
    }
}

impl TriggerConfig for Log {
    fn trigger_type(&self) -> &str {
        "log"
    }
    fn to_config(&self) -> Result<Value, Error> {
        to_value("log", self)
    }
}

/// `engine::functions-available`: fire when the set of functions changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunctionsAvailable;

impl TriggerConfig for FunctionsAvailable {
    fn trigger_type(&self) -> &str {
        "engine::functions-available"
    }
    fn to_config(&self) -> Result<Value, Error> {
        Ok(json!({}))
    }
}

/// `engine::workers-available`: fire when a worker connects, updates or leaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkersAvailable;

impl TriggerConfig for WorkersAvailable {
    fn trigger_type(&self) -> &str {
        "engine::workers-available"
    }
    fn to_config(&self) -> Result<Value, Error> {
        Ok(json!({}))
    }
}

/// A trigger type provided by a worker, with a free-form JSON config object.
#[derive(Debug, Clone, PartialEq)]
pub struct Custom {
    trigger_type: String,
    config: Value,
}

impl Custom {
    /// A binding of `trigger_type` with `config` (must be a JSON object).
    pub fn new(trigger_type: impl Into<String>, config: Value) -> Self {
        Custom {
            trigger_type: trigger_type.into(),
            config,
        }
    }
}

impl TriggerConfig for Custom {
    fn trigger_type(&self) -> &str {
        &self.trigger_type
    }
    fn to_config(&self) -> Result<Value, Error> {
        validate_id("trigger type id", &self.trigger_type)?;
        match &self.config {
            Value::Object(_) => Ok(self.config.clone()),
            Value::Null => Ok(Value::Object(Map::new())),
            other => Err(invalid(
                &self.trigger_type,
                format!("config must be a JSON object, got `{other}`"),
            )),
        }
    }
}

/// A binding of a trigger to a function, ready to register.
#[derive(Debug, Clone)]
pub struct Trigger {
    function_id: String,
    trigger_type: String,
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
            function_id: function_id.into(),
            trigger_type: config.trigger_type().to_string(),
            config: config.to_config().map_err(|e| e.to_string()),
            metadata: None,
            namespace: None,
            trigger_namespace: None,
        }
    }

    /// Metadata delivered with every fire (see [`crate::Context::metadata`]).
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Namespace the target function resolves in (default: `default`).
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

    /// Checks the binding without sending it.
    pub fn validate(&self) -> Result<(), Error> {
        validate_id("trigger function id", &self.function_id)?;
        for (what, ns) in [
            ("namespace", &self.namespace),
            ("trigger_namespace", &self.trigger_namespace),
        ] {
            if ns.as_deref().is_some_and(|ns| ns.trim().is_empty()) {
                return Err(Error::invalid(
                    what,
                    "it is blank; leave it unset for `default`",
                ));
            }
        }
        self.config
            .as_ref()
            .map(|_| ())
            .map_err(|reason| Error::Invalid {
                what: format!("trigger for `{}`", self.function_id),
                reason: reason.clone(),
            })
    }

    /// The `registertrigger` frame for binding id `id`.
    pub fn to_message(&self, id: String) -> Result<RegisterTrigger, Error> {
        self.validate()?;
        Ok(RegisterTrigger {
            id,
            trigger_type: self.trigger_type.clone(),
            function_id: self.function_id.clone(),
            config: self.config.clone().unwrap_or_default(),
            metadata: self.metadata.clone(),
            namespace: self.namespace.clone(),
            trigger_namespace: self.trigger_namespace.clone(),
        })
    }
}

/// A registered trigger binding.
#[derive(Debug, Clone)]
pub struct TriggerHandle {
    pub(crate) id: String,
    pub(crate) worker: Worker,
    pub(crate) status: watch::Receiver<Option<ErrorBody>>,
}

impl TriggerHandle {
    /// The binding id (a UUID chosen by the SDK).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The refusal the engine or the provider sent for this binding, if any
    /// (for example an invalid cron expression or a missing `api_path`).
    pub fn rejection(&self) -> Option<ErrorBody> {
        self.status.borrow().clone()
    }

    /// Waits until the binding is refused. The engine sends no success
    /// acknowledgement, so pair this with a timeout.
    pub async fn rejected(&self) -> ErrorBody {
        let mut status = self.status.clone();
        loop {
            if let Some(body) = status.borrow_and_update().clone() {
                return body;
            }
            if status.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Removes the binding.
    pub fn unregister(&self) -> Result<(), Error> {
        self.worker.unregister_trigger(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_config_uses_engine_field_names() {
        let c = Http::post("/orders/:id")
            .condition("orders::is_vip")
            .to_config()
            .expect("valid");
        assert_eq!(
            c,
            json!({"api_path":"/orders/:id","http_method":"POST","condition_function_id":"orders::is_vip"})
        );
        assert_eq!(
            Http::new("patch", "/x").to_config().expect("valid")["http_method"],
            "PATCH"
        );
        let e = Http::get("x").to_config().expect_err("no slash");
        assert!(e.to_string().contains("write `/x`"), "{e}");
    }

    #[test]
    fn http_config_rejects_bad_methods_and_paths() {
        let e = Http::new("FETCH", "/a").to_config().expect_err("method");
        assert!(
            e.to_string().contains("`FETCH`") && e.to_string().contains("OPTIONS"),
            "{e}"
        );
        for (path, needle) in [
            ("", "empty"),
            ("/a b", "whitespace"),
            ("/a?x=1", "query"),
            ("/a/:/b", "without a name"),
        ] {
            let e = Http::get(path).to_config().expect_err(path);
            assert!(e.to_string().contains(needle), "{path}: {e}");
        }
    }

    #[test]
    fn cron_needs_six_or_seven_fields() {
        assert!(validate_cron("*/2 * * * * *").is_ok());
        assert!(validate_cron("0 0 3 * * Mon 2027").is_ok());
        assert!(validate_cron("@daily").is_ok());
        assert!(
            validate_cron("@sometimes")
                .expect_err("named")
                .contains("@hourly")
        );
        assert!(
            validate_cron("*/2 * * * *")
                .expect_err("five")
                .contains("did you mean `0 */2 * * * *`")
        );
        assert!(validate_cron("*").expect_err("one").contains("1 fields"));
    }

    #[test]
    fn stream_and_topics_are_required() {
        assert!(
            StreamChange::new("")
                .to_config()
                .expect_err("name")
                .to_string()
                .contains("stream_name")
        );
        assert!(Subscribe::new(" ").to_config().is_err());
        assert!(Queue::new("").to_config().is_err());
        assert_eq!(
            StreamChange::new("chat")
                .group("room1")
                .to_config()
                .expect("valid"),
            json!({"stream_name":"chat","group_id":"room1"})
        );
    }

    #[test]
    fn builtin_types_have_engine_ids() {
        assert_eq!(Queue::new("t").trigger_type(), "durable:subscriber");
        assert_eq!(
            FunctionsAvailable.trigger_type(),
            "engine::functions-available"
        );
        assert_eq!(WorkersAvailable.trigger_type(), "engine::workers-available");
        assert_eq!(
            Log::level(LogLevel::Warn).to_config().expect("valid"),
            json!({"level":"warn"})
        );
        assert_eq!(
            StateChange::any()
                .scope("users")
                .to_config()
                .expect("valid"),
            json!({"scope":"users"})
        );
        let q = Queue::new("jobs").config(QueueConfig {
            max_retries: Some(3),
            ..Default::default()
        });
        assert_eq!(
            q.to_config().expect("valid"),
            json!({"topic":"jobs","queue_config":{"max_retries":3}})
        );
    }

    #[test]
    fn custom_configs_must_be_objects() {
        assert!(Custom::new("webhook", json!([1])).to_config().is_err());
        assert_eq!(
            Custom::new("webhook", Value::Null)
                .to_config()
                .expect("valid"),
            json!({})
        );
        assert!(Custom::new("", json!({})).to_config().is_err());
    }

    #[test]
    fn trigger_message_carries_everything() {
        let t = Trigger::new("f", Http::get("/x"))
            .metadata(json!({"m":1}))
            .namespace("ns");
        let m = t.to_message("id-1".into()).expect("valid");
        assert_eq!(m.trigger_type, "http");
        assert_eq!(m.metadata, Some(json!({"m":1})));
        assert_eq!(m.namespace.as_deref(), Some("ns"));
        assert!(
            Trigger::new("f", Http::get("/x"))
                .namespace(" ")
                .validate()
                .is_err()
        );
        assert!(Trigger::new("", Http::get("/x")).validate().is_err());
    }
}
