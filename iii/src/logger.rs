//! The reference's `Logger`: log lines sent to the engine's log functions
//! (`engine::log::{debug,info,warn,error}`), carrying the invocation's
//! trace and span ids, so they show up with its trace and reach `log`
//! triggers. When the worker is not connected, a line goes to local output
//! (the `tracing` crate) instead, so nothing is lost silently.
//!
//! ```no_run
//! # async fn handler(order: serde_json::Value, ctx: iii::Context) -> Result<(), iii::Error> {
//! let log = ctx.logger();
//! log.info("order received");
//! log.info_with("order processed", &serde_json::json!({"order_id": "ord_123", "amount": 4999}));
//! # Ok(()) }
//! ```

use serde::Serialize;
use serde_json::{Value, json};

use crate::worker::Worker;

/// A log level of the engine's log functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
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
    /// A logger for code outside handlers (no trace context).
    pub fn logger(&self) -> Logger {
        Logger::new(self.clone(), None)
    }
}

impl Logger {
    /// A logger for `worker`, with the trace of a W3C `traceparent`
    /// (`00-<trace id>-<span id>-<flags>`) when given and well formed.
    pub(crate) fn new(worker: Worker, traceparent: Option<&str>) -> Logger {
        let (trace_id, span_id) = traceparent
            .and_then(parse_traceparent)
            .map_or((None, None), |(t, s)| (Some(t), Some(s)));
        Logger {
            worker,
            trace_id,
            span_id,
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

    /// Logs at debug level with structured data (key-value pairs are best:
    /// they become the record's attributes).
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
        let mut line = json!({"message": message, "service_name": self.worker.name()});
        if let Some(data) = &data {
            line["data"] = data.clone();
        }
        if let (Some(trace), Some(span)) = (&self.trace_id, &self.span_id) {
            line["trace_id"] = json!(trace);
            line["span_id"] = json!(span);
        }
        let sent = self
            .worker
            .invoke(format!("engine::log::{}", level.name()))
            .data(line)
            .void_now();
        if let Err(why) = sent {
            local(
                level,
                &message,
                data.as_ref(),
                self.trace_id.as_deref(),
                &why,
            );
        }
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
        Level::Debug => tracing::debug!(%data, trace, unsent = %why, "{message}"),
        Level::Info => tracing::info!(%data, trace, unsent = %why, "{message}"),
        Level::Warn => tracing::warn!(%data, trace, unsent = %why, "{message}"),
        Level::Error => tracing::error!(%data, trace, unsent = %why, "{message}"),
    }
}

fn to_json(data: &impl Serialize) -> Value {
    serde_json::to_value(data).unwrap_or_else(|e| json!({"unserialisable": e.to_string()}))
}

/// The trace and span ids of a `00-<32 hex>-<16 hex>-<2 hex>` traceparent.
fn parse_traceparent(traceparent: &str) -> Option<(String, String)> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(version, 2) && hex(trace, 32) && hex(span, 16) && hex(flags, 2) && parts.next().is_none())
        .then(|| (trace.to_string(), span.to_string()))
}

#[cfg(test)]
mod tests {
    use super::parse_traceparent;

    #[test]
    fn traceparents_give_their_trace_and_span() {
        let (trace, span) =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                .expect("valid");
        assert_eq!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span, "00f067aa0ba902b7");
        for bad in [
            "",
            "00-xyz-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
    }
}
