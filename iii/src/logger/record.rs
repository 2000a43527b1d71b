//! What a `log` trigger delivers: one stored log record.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One log record, as a `log` trigger delivers it (and
/// `engine::logs::list` lists it): a line sent to the engine's log
/// functions, an OpenTelemetry log a worker exported, or one of the
/// engine's own.
///
/// ```
/// # let fire = serde_json::json!({
/// #     "timestamp_unix_nano": 1796110412491527785u64, "observed_timestamp_unix_nano": 1796110412491527785u64,
/// #     "severity_number": 13, "severity_text": "WARN", "body": "payment retried",
/// #     "attributes": {"order_id": "ord_123"}, "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
/// #     "span_id": "00f067aa0ba902b7", "resource": {"service.name": "iii"}, "service_name": "checkout",
/// #     "instrumentation_scope_name": "iii", "instrumentation_scope_version": "0.23.0-rc.4"});
/// let record: iii::logger::LogRecord = serde_json::from_value(fire).unwrap();
/// assert_eq!(record.severity_text, "WARN");
/// assert_eq!(record.attributes["order_id"], "ord_123");
/// ```
///
/// Engine 0.23 stores each line sent to its log functions twice: as sent
/// (scope `iii`, with the trace and span ids), and as its own `tracing`
/// line (scope `tracing`, no ids). Match on [`LogRecord::trace_id`] (or
/// [`LogRecord::is_tracing_echo`]) to take one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogRecord {
    /// When the line was logged, in nanoseconds since the epoch.
    pub timestamp_unix_nano: u64,
    /// When the engine saw it, in nanoseconds since the epoch.
    #[serde(default)]
    pub observed_timestamp_unix_nano: u64,
    /// OpenTelemetry severity: 1 trace, 5 debug, 9 info, 13 warn, 17 error.
    #[serde(default)]
    pub severity_number: i32,
    /// `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` (empty for some exported
    /// records).
    #[serde(default)]
    pub severity_text: String,
    /// The message.
    #[serde(default)]
    pub body: String,
    /// The line's data: the keys of the object it was sent with.
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// The trace the line belongs to, when it was sent with one.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// The span that logged it.
    #[serde(default)]
    pub span_id: Option<String>,
    /// The resource that stored it (the engine's identity, for lines sent
    /// to its log functions).
    #[serde(default)]
    pub resource: Map<String, Value>,
    /// The service the line names (the worker's name, from this SDK).
    #[serde(default)]
    pub service_name: String,
    /// The instrumentation scope: `iii` for lines sent to the log
    /// functions, `tracing` for the engine's own.
    #[serde(default)]
    pub instrumentation_scope_name: Option<String>,
    /// The scope's version.
    #[serde(default)]
    pub instrumentation_scope_version: Option<String>,
}

impl LogRecord {
    /// Whether the engine logged this itself (scope `tracing`): its own
    /// copy of a line sent to its log functions (without trace ids), or one
    /// of its own lines, rather than a line as a worker sent it.
    pub fn is_tracing_echo(&self) -> bool {
        self.instrumentation_scope_name.as_deref() == Some("tracing")
    }
}
