//! Logs as the engine's observability worker keeps them: the functions
//! `engine::log::{trace,debug,info,warn,error}` and `engine::logs::list`,
//! a store of the last 1,000 records of the last hour, and `log` triggers.
//!
//! As in engine 0.23: a line's `data` object becomes the record's
//! attributes (other values are dropped); ids are stored as sent; each
//! line at info or above is stored twice, the second time as the engine's
//! own `tracing` line (scope `tracing`, no ids, `data` as one attribute);
//! a `log` binding fires for records of exactly its `level` (or `all`),
//! with its metadata, without a trace context or a condition, for a
//! function looked up in `default` whatever the binding's namespace.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iii_protocol::{DEFAULT_NAMESPACE, ErrorBody, TriggerKind};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::kinds::type_id;

/// The engine version the records name as their scope's.
const ENGINE_VERSION: &str = "0.23.0-rc.4";
/// The engine's service name (its observability config's default).
const ENGINE_SERVICE: &str = "iii";
const MAX_RECORDS: usize = 1000;
const RETENTION: Duration = Duration::from_secs(3600);

/// The stored records, oldest first.
#[derive(Default)]
pub(crate) struct Store {
    records: Mutex<VecDeque<Value>>,
}

impl Store {
    fn push(&self, record: Value) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let oldest = now_ns().saturating_sub(RETENTION.as_nanos() as u64);
        records.retain(|r| logged_at(r) >= oldest);
        while records.len() >= MAX_RECORDS {
            records.pop_front();
        }
        records.push_back(record);
    }
}

/// When a record was logged: its time, or when the engine saw it for a
/// record without one.
fn logged_at(record: &Value) -> u64 {
    match record["timestamp_unix_nano"].as_u64() {
        Some(0) | None => record["observed_timestamp_unix_nano"].as_u64().unwrap_or(0),
        Some(at) => at,
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Severity number and text of a log function's level.
fn severity(level: &str) -> Option<(i32, &'static str)> {
    Some(match level {
        "trace" => (1, "TRACE"),
        "debug" => (5, "DEBUG"),
        "info" => (9, "INFO"),
        "warn" => (13, "WARN"),
        "error" => (17, "ERROR"),
        _ => return None,
    })
}

/// `engine::log::<level>`.
pub(crate) fn log(
    shared: &Arc<Shared>,
    function_id: &str,
    data: Value,
) -> Result<Value, ErrorBody> {
    #[derive(Deserialize)]
    struct In {
        message: String,
        #[serde(default)]
        data: Value,
        #[serde(default)]
        trace_id: Option<String>,
        #[serde(default)]
        span_id: Option<String>,
        #[serde(default)]
        service_name: Option<String>,
    }
    let level = function_id.trim_start_matches("engine::log::");
    let Some((number, text)) = severity(level) else {
        return Err(ErrorBody::new(
            "function_not_found",
            format!("Function {function_id} not found in namespace {DEFAULT_NAMESPACE}."),
        ));
    };
    let i: In = crate::builtins::input(function_id, data)?;
    let now = now_ns();
    let attributes = match &i.data {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let record = json!({
        "timestamp_unix_nano": now,
        "observed_timestamp_unix_nano": now,
        "severity_number": number,
        "severity_text": text,
        "body": i.message.clone(),
        "attributes": attributes,
        "trace_id": i.trace_id,
        "span_id": i.span_id,
        "resource": {"service.name": ENGINE_SERVICE},
        "service_name": i.service_name.clone().unwrap_or_else(|| "unknown".into()),
        "instrumentation_scope_name": "iii",
        "instrumentation_scope_version": ENGINE_VERSION,
    });
    keep(shared, record);
    // The engine logs the line again through its own `tracing`, whose
    // filter lets info and above through.
    if number >= 9 {
        let debug = |id: &Option<String>| match id {
            Some(id) => format!("Some({id:?})"),
            None => "None".into(),
        };
        let echo = json!({
            "timestamp_unix_nano": now_ns(),
            "observed_timestamp_unix_nano": now_ns(),
            "severity_number": number,
            "severity_text": text,
            "body": i.message,
            "attributes": {
                // Without data the engine logs `{}`.
                "data": if i.data.is_null() { json!({}) } else { i.data },
                "service": i.service_name.unwrap_or_else(|| "unknown".into()),
                "trace_id": debug(&i.trace_id),
                "span_id": debug(&i.span_id),
                "target": "iii::workers::observability",
                "module_path": "iii::workers::observability",
                "file": "engine/src/workers/observability/mod.rs",
                "line": 1869,
            },
            "trace_id": null,
            "span_id": null,
            "resource": {"service.name": ENGINE_SERVICE},
            "service_name": ENGINE_SERVICE,
            "instrumentation_scope_name": "tracing",
            "instrumentation_scope_version": null,
        });
        keep(shared, echo);
    }
    Ok(Value::Null)
}

/// Stores a record and fires the `log` bindings its level matches.
pub(crate) fn keep(shared: &Arc<Shared>, record: Value) {
    shared.logs.push(record.clone());
    let level = record["severity_text"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bindings = shared.lock().builtin_bindings(type_id(TriggerKind::Log));
    for binding in bindings {
        let wanted = binding
            .config
            .get("level")
            .and_then(Value::as_str)
            .unwrap_or("all");
        if wanted != "all" && wanted != level {
            continue;
        }
        let shared = shared.clone();
        let record = record.clone();
        tokio::spawn(async move {
            // In `default`, whatever the binding's namespace, as the engine.
            let _ = shared
                .invoke_traced(
                    DEFAULT_NAMESPACE,
                    &binding.function_id,
                    record,
                    binding.metadata.clone(),
                    false,
                )
                .await;
        });
    }
}

/// `engine::logs::list`.
pub(crate) fn list(shared: &Shared, data: Value) -> Result<Value, ErrorBody> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct In {
        trace_id: Option<String>,
        span_id: Option<String>,
        severity_min: Option<i64>,
        severity_text: Option<String>,
        start_time: Option<u64>,
        end_time: Option<u64>,
        offset: Option<usize>,
        limit: Option<usize>,
    }
    let i: In = crate::builtins::input("engine::logs::list", data)?;
    let records = shared
        .logs
        .records
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let mut matching: Vec<&Value> = records
        .iter()
        .filter(|r| {
            let text = |k: &str| r[k].as_str().map(String::from);
            let at_ms = r["timestamp_unix_nano"].as_u64().unwrap_or(0) / 1_000_000;
            i.trace_id
                .as_ref()
                .is_none_or(|t| text("trace_id").as_ref() == Some(t))
                && i.span_id
                    .as_ref()
                    .is_none_or(|s| text("span_id").as_ref() == Some(s))
                && i.severity_min
                    .is_none_or(|m| r["severity_number"].as_i64().unwrap_or(0) >= m)
                && i.severity_text.as_ref().is_none_or(|s| {
                    text("severity_text").is_some_and(|t| t.eq_ignore_ascii_case(s))
                })
                && i.start_time.is_none_or(|s| at_ms >= s)
                && i.end_time.is_none_or(|e| at_ms <= e)
        })
        .collect();
    // Newest first; records logged at the same time stay in the order
    // they came (a stable sort, as the engine's).
    matching.sort_by_key(|r| std::cmp::Reverse(r["timestamp_unix_nano"].as_u64().unwrap_or(0)));
    let matching: Vec<Value> = matching
        .into_iter()
        .map(|r| {
            let mut r = r.clone();
            if let Value::Object(map) = &mut r {
                map.retain(|k, v| !(k.starts_with("instrumentation_scope") && v.is_null()));
            }
            r
        })
        .collect();
    let total = matching.len();
    let logs: Vec<Value> = matching
        .into_iter()
        .skip(i.offset.unwrap_or(0))
        .take(i.limit.unwrap_or(usize::MAX))
        .collect();
    Ok(json!({
        "logs": logs,
        "total": total,
        "query": {
            "trace_id": i.trace_id, "span_id": i.span_id, "severity_min": i.severity_min,
            "severity_text": i.severity_text, "start_time": i.start_time, "end_time": i.end_time,
            "offset": i.offset, "limit": i.limit,
        },
        "timestamp": crate::now_ms(),
    }))
}
