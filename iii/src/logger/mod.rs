//! Log lines to the engine: the official SDKs' [`Logger`], a `tracing` layer
//! that sends the events of handlers ([`layer`](fn@layer)), and the records `log`
//! triggers deliver ([`LogRecord`]).
//!
//! Lines go to the engine's log functions (`engine::log::{trace,debug,info,
//! warn,error}`) with the invocation's trace and span ids, so they show up
//! with its trace (`engine::logs::list`) and reach `log` triggers. When the
//! worker is not connected, a [`Logger`] line goes to local output (the
//! `tracing` crate) instead, so nothing is lost silently.
//!
//! ```no_run
//! # async fn handler(order: serde_json::Value, ctx: iii::Context) -> Result<(), iii::Error> {
//! let log = ctx.logger();
//! log.info("order received");
//! log.info_with("order processed", &serde_json::json!({"order_id": "ord_123", "amount": 4999}));
//! // With `iii::logger::layer()` installed, `tracing` events do the same:
//! tracing::warn!(order_id = "ord_123", "payment retried");
//! # Ok(()) }
//! ```
//!
//! Two things about engine 0.23 a reader of the lines meets: it stores each
//! line twice, once as sent and once as its own `tracing` line (scope
//! `tracing`, no trace ids, `data` as one attribute); and a `log` trigger's
//! `level` matches records of exactly that level (or `all`), not those at
//! or above it. A handler bound to a `log` trigger that logs at a level its
//! own binding matches feeds itself for ever.

mod layer;
mod record;

pub use layer::{EngineLayer, layer};
pub use record::LogRecord;

use serde::Serialize;
use serde_json::{Value, json};

use crate::worker::Worker;

/// A log level of the engine's log functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Sends log lines to the engine; get one from [`crate::Context::logger`]
/// (with the invocation's trace) or [`Worker::logger`].
#[derive(Debug, Clone)]
pub struct Logger {
    worker: Worker,
    trace_id: Option<String>,
    span_id: Option<String>,
}

impl Worker {
    /// A logger; in a handler's task, its lines carry the invocation's
    /// trace (as [`crate::Context::logger`]'s), elsewhere none.
    pub fn logger(&self) -> Logger {
        let trace = crate::trace::TraceContext::current();
        Logger::new(self.clone(), trace.as_deref())
    }
}

impl Logger {
    /// A logger for `worker` whose lines carry `trace`'s trace id and
    /// span id.
    pub(crate) fn new(worker: Worker, trace: Option<&crate::trace::TraceContext>) -> Logger {
        Logger {
            worker,
            trace_id: trace.map(|t| t.trace_id()),
            span_id: trace.map(|t| t.span_id()),
        }
    }

    /// The trace id lines carry, if any.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// The span id lines carry, if any.
    pub fn span_id(&self) -> Option<&str> {
        self.span_id.as_deref()
    }

    /// Logs at trace level.
    pub fn trace(&self, message: impl Into<String>) {
        self.log(Level::Trace, message.into(), None);
    }

    /// Logs at debug level.
    pub fn debug(&self, message: impl Into<String>) {
        self.log(Level::Debug, message.into(), None);
    }

    /// Logs at info level.
    pub fn info(&self, message: impl Into<String>) {
        self.log(Level::Info, message.into(), None);
    }

    /// Logs at warn level.
    pub fn warn(&self, message: impl Into<String>) {
        self.log(Level::Warn, message.into(), None);
    }

    /// Logs at error level.
    pub fn error(&self, message: impl Into<String>) {
        self.log(Level::Error, message.into(), None);
    }

    /// Logs at trace level with structured data.
    pub fn trace_with(&self, message: impl Into<String>, data: &impl Serialize) {
        self.log(Level::Trace, message.into(), Some(to_json(data)));
    }

    /// Logs at debug level with structured data (an object is best: the
    /// engine makes its keys the record's attributes, and drops any other
    /// value).
    pub fn debug_with(&self, message: impl Into<String>, data: &impl Serialize) {
        self.log(Level::Debug, message.into(), Some(to_json(data)));
    }

    /// Logs at info level with structured data.
    pub fn info_with(&self, message: impl Into<String>, data: &impl Serialize) {
        self.log(Level::Info, message.into(), Some(to_json(data)));
    }

    /// Logs at warn level with structured data.
    pub fn warn_with(&self, message: impl Into<String>, data: &impl Serialize) {
        self.log(Level::Warn, message.into(), Some(to_json(data)));
    }

    /// Logs at error level with structured data.
    pub fn error_with(&self, message: impl Into<String>, data: &impl Serialize) {
        self.log(Level::Error, message.into(), Some(to_json(data)));
    }

    fn log(&self, level: Level, message: String, data: Option<Value>) {
        if let Err(why) = self.send(level, &message, data.as_ref()) {
            local(
                level,
                &message,
                data.as_ref(),
                self.trace_id.as_deref(),
                &why,
            );
        }
    }

    /// Sends one line to the engine; the error when no frame could go.
    pub(crate) fn send(
        &self,
        level: Level,
        message: &str,
        data: Option<&Value>,
    ) -> Result<(), crate::Error> {
        let mut line = json!({"message": message, "service_name": self.worker.name()});
        if let Some(data) = data {
            line["data"] = data.clone();
        }
        if let (Some(trace), Some(span)) = (&self.trace_id, &self.span_id) {
            line["trace_id"] = json!(trace);
            line["span_id"] = json!(span);
        }
        self.worker
            .invoke(format!("engine::log::{}", level.name()))
            .data(line)
            .void_now()
    }
}

/// A line that could not reach the engine, written to local output.
fn local(
    level: Level,
    message: &str,
    data: Option<&Value>,
    trace: Option<&str>,
    why: &crate::Error,
) {
    let data = data.map(Value::to_string).unwrap_or_default();
    let trace = trace.unwrap_or_default();
    match level {
        Level::Trace => tracing::trace!(%data, trace, unsent = %why, "{message}"),
        Level::Debug => tracing::debug!(%data, trace, unsent = %why, "{message}"),
        Level::Info => tracing::info!(%data, trace, unsent = %why, "{message}"),
        Level::Warn => tracing::warn!(%data, trace, unsent = %why, "{message}"),
        Level::Error => tracing::error!(%data, trace, unsent = %why, "{message}"),
    }
}

fn to_json(data: &impl Serialize) -> Value {
    serde_json::to_value(data).unwrap_or_else(|e| json!({"unserialisable": e.to_string()}))
}
