//! Logs as the engine's observability module keeps them: the functions
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
use std::time::Duration;

use iii_protocol::{DEFAULT_NAMESPACE, TriggerKind};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::clock::{now_ms, now_ns};
use crate::core::{Core, Outcome, type_id};

/// The engine version the records name as their scope's.
const ENGINE_VERSION: &str = "0.23.0-rc.4";
/// The engine's service name (its observability config's default).
const ENGINE_SERVICE: &str = "iii";
const MAX_RECORDS: usize = 1000;
const RETENTION: Duration = Duration::from_secs(3600);

/// A log function's level: its id, and the severity it logs at.
#[derive(Debug, Clone, Copy)]
pub(super) struct Level {
    pub(super) function_id: &'static str,
    number: i32,
    text: &'static str,
}

/// The log functions, by level.
pub(super) const LEVELS: [Level; 5] = [
    level("engine::log::trace", 1, "TRACE"),
    level("engine::log::debug", 5, "DEBUG"),
    level("engine::log::info", 9, "INFO"),
    level("engine::log::warn", 13, "WARN"),
    level("engine::log::error", 17, "ERROR"),
];

const fn level(function_id: &'static str, number: i32, text: &'static str) -> Level {
    Level {
        function_id,
        number,
        text,
    }
}

/// The input of `engine::log::<level>`.
#[derive(Deserialize)]
pub(super) struct LogLine {
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

/// The input of `engine::logs::list`: filters, and the page.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct LogQuery {
    trace_id: Option<String>,
    span_id: Option<String>,
    severity_min: Option<i64>,
    severity_text: Option<String>,
    start_time: Option<u64>,
    end_time: Option<u64>,
    offset: Option<usize>,
    limit: Option<usize>,
}

/// The stored records, oldest first.
#[derive(Default)]
pub(super) struct LogStore {
    records: Mutex<VecDeque<Value>>,
}

impl LogStore {
    /// How many records are stored.
    pub(super) fn len(&self) -> usize {
        self.records.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn push(&self, record: Value) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let oldest = now_ns().saturating_sub(RETENTION.as_nanos() as u64);
        records.retain(|r| logged_at(r) >= oldest);
        while records.len() >= MAX_RECORDS {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// Stores a record and fires the `log` bindings its level matches.
    pub(super) fn keep(&self, core: &Arc<Core>, record: Value) {
        self.push(record.clone());
        let level = record["severity_text"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        for binding in core.bindings(type_id(TriggerKind::Log)) {
            let wanted = binding
                .config
                .get("level")
                .and_then(Value::as_str)
                .unwrap_or("all");
            if wanted != "all" && wanted != level {
                continue;
            }
            let core = core.clone();
            let record = record.clone();
            tokio::spawn(async move {
                // In `default`, whatever the binding's namespace, as the engine.
                let _ = core
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

    /// `engine::log::<level>`: the record, and the engine's own line for
    /// info and above.
    pub(super) fn log(&self, core: &Arc<Core>, level: Level, i: LogLine) -> Outcome {
        let now = now_ns();
        let attributes = match &i.data {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        let record = json!({
            "timestamp_unix_nano": now,
            "observed_timestamp_unix_nano": now,
            "severity_number": level.number,
            "severity_text": level.text,
            "body": i.message.clone(),
            "attributes": attributes,
            "trace_id": i.trace_id,
            "span_id": i.span_id,
            "resource": {"service.name": ENGINE_SERVICE},
            "service_name": i.service_name.clone().unwrap_or_else(|| "unknown".into()),
            "instrumentation_scope_name": "iii",
            "instrumentation_scope_version": ENGINE_VERSION,
        });
        self.keep(core, record);
        // The engine logs the line again through its own `tracing`, whose
        // filter lets info and above through.
        if level.number >= 9 {
            let debug = |id: &Option<String>| match id {
                Some(id) => format!("Some({id:?})"),
                None => "None".into(),
            };
            let echo = json!({
                "timestamp_unix_nano": now_ns(),
                "observed_timestamp_unix_nano": now_ns(),
                "severity_number": level.number,
                "severity_text": level.text,
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
            self.keep(core, echo);
        }
        Ok(Value::Null)
    }

    /// `engine::logs::list`: the records that match, newest first, a page
    /// of them.
    pub(super) fn list(&self, i: LogQuery) -> Outcome {
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
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
            "timestamp": now_ms(),
        }))
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
