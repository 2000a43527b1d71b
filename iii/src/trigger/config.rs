//! Typed configs of the built-in trigger types, and custom ones: each
//! validated before anything is sent.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::TriggerConfig;
use super::log_level::LogLevel;
use crate::error::Error;
use crate::error::validate_id;
use iii_protocol::TriggerKind;
use iii_protocol::rules::{self, validate_cron, validate_http_path};

/// The engine's id of a built-in kind's trigger type.
fn engine_type(kind: TriggerKind) -> &'static str {
    kind.engine_type().unwrap_or_default()
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
        engine_type(TriggerKind::Http)
    }
    fn kind(&self) -> Option<TriggerKind> {
        Some(TriggerKind::Http)
    }
    fn to_config(&self) -> Result<Value, Error> {
        rules::validate_http_method(&self.http_method).map_err(|reason| invalid("http", reason))?;
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
        engine_type(TriggerKind::Cron)
    }
    fn kind(&self) -> Option<TriggerKind> {
        Some(TriggerKind::Cron)
    }
    fn to_config(&self) -> Result<Value, Error> {
        validate_cron(&self.expression).map_err(|reason| invalid("cron", reason))?;
        to_value("cron", self)
    }
}

/// `subscribe`: receive every `publish` on a topic.
///
/// The iii engine 0.23 evaluates no condition on these and passes no
/// binding metadata with their fires; the SDK does both itself for
/// bindings to the worker's own functions, and refuses them on others.
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
    /// Runs `function_id` first; the message is skipped if it returns
    /// `false` (evaluated by the SDK: see the type's docs).
    pub fn condition(mut self, function_id: impl Into<String>) -> Self {
        self.condition_function_id = Some(function_id.into());
        self
    }
}

fn require(kind: &str, field: &str, value: &str) -> Result<(), Error> {
    rules::validate_required(field, value).map_err(|reason| invalid(kind, reason))
}

impl TriggerConfig for Subscribe {
    fn trigger_type(&self) -> &str {
        engine_type(TriggerKind::Subscribe)
    }
    fn kind(&self) -> Option<TriggerKind> {
        Some(TriggerKind::Subscribe)
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
///
/// The iii engine 0.23 passes no binding metadata with these fires; the SDK
/// passes it itself for bindings to the worker's own functions, and
/// refuses it on others.
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
        engine_type(TriggerKind::Queue)
    }
    fn kind(&self) -> Option<TriggerKind> {
        Some(TriggerKind::Queue)
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
        engine_type(TriggerKind::State)
    }
    fn kind(&self) -> Option<TriggerKind> {
        Some(TriggerKind::State)
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
        engine_type(TriggerKind::Stream)
    }
    fn kind(&self) -> Option<TriggerKind> {
        Some(TriggerKind::Stream)
    }
    fn to_config(&self) -> Result<Value, Error> {
        require("stream", "stream_name", &self.stream_name)?;
        to_value("stream", self)
    }
}

/// `stream:join`: fire when a client subscribes to any stream (the engine
/// ignores a binding's config, so there is no per-stream filter). The
/// handler gets a [`crate::stream::Subscription`] and may refuse it by
/// answering [`crate::stream::JoinVerdict::deny`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamJoin;

impl TriggerConfig for StreamJoin {
    fn trigger_type(&self) -> &str {
        engine_type(TriggerKind::StreamJoin)
    }
    fn kind(&self) -> Option<TriggerKind> {
        Some(TriggerKind::StreamJoin)
    }
    fn to_config(&self) -> Result<Value, Error> {
        Ok(json!({}))
    }
}

/// `stream:leave`: fire when a client's subscription to any stream ends
/// (also for each one still open when its socket closes). The handler gets
/// a [`crate::stream::Subscription`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamLeave;

impl TriggerConfig for StreamLeave {
    fn trigger_type(&self) -> &str {
        engine_type(TriggerKind::StreamLeave)
    }
    fn kind(&self) -> Option<TriggerKind> {
        Some(TriggerKind::StreamLeave)
    }
    fn to_config(&self) -> Result<Value, Error> {
        Ok(json!({}))
    }
}

/// `log`: receive log records (the engine's own included) of one level, or
/// all of them.
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
    /// Records of exactly `level` (engine 0.23 matches the level, not a
    /// minimum), or every record with [`LogLevel::All`].
    pub fn level(level: LogLevel) -> Self {
        Log { level: Some(level) }
    }
}

impl TriggerConfig for Log {
    fn trigger_type(&self) -> &str {
        engine_type(TriggerKind::Log)
    }
    fn kind(&self) -> Option<TriggerKind> {
        Some(TriggerKind::Log)
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
        engine_type(TriggerKind::FunctionsAvailable)
    }
    fn kind(&self) -> Option<TriggerKind> {
        Some(TriggerKind::FunctionsAvailable)
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
        engine_type(TriggerKind::WorkersAvailable)
    }
    fn kind(&self) -> Option<TriggerKind> {
        Some(TriggerKind::WorkersAvailable)
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
