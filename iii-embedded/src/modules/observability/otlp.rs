//! Telemetry frames from workers, as the engine's observability module
//! takes them: a 4-byte prefix then OTLP/JSON, `OTLP` spans, `LOGS` log
//! records, `MTRC` metrics.
//!
//! As in engine 0.23: a span without `traceId`, `spanId` or `name` fails
//! its whole frame (no reply); attributes are kept as strings; a log
//! record is stored and fires `log` triggers. Metrics are accepted and
//! dropped here (the engine keeps them for `engine::metrics::list`).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::logs::LogStore;
use super::spans::SpanStore;
use crate::core::Core;

/// Takes one telemetry frame (prefix, then OTLP/JSON); `false` if it has
/// no telemetry prefix.
pub(super) fn ingest(logs: &LogStore, spans: &SpanStore, core: &Arc<Core>, frame: &[u8]) -> bool {
    let (prefix, body) = frame.split_at(frame.len().min(4));
    let parsed = || serde_json::from_slice::<Value>(body).map_err(|e| e.to_string());
    let outcome = match prefix {
        b"OTLP" => parsed().and_then(|request| store_spans(spans, &request)),
        b"LOGS" => parsed().map(|request| keep_logs(logs, core, &request)),
        b"MTRC" => Ok(()),
        _ => return false,
    };
    if let Err(why) = outcome {
        let kind = String::from_utf8_lossy(prefix).into_owned();
        tracing::warn!(kind, "{kind} ingestion error: {why}");
    }
    true
}

/// A value as the engine's text: a string as it is, `null` empty.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An OTLP `AnyValue`, as JSON.
fn any_value(value: &Value) -> Value {
    let Some((kind, inner)) = value.as_object().and_then(|m| m.iter().next()) else {
        return Value::Null;
    };
    match kind.as_str() {
        "stringValue" | "boolValue" | "doubleValue" => inner.clone(),
        "intValue" => match inner {
            Value::String(s) => s.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
            other => other.clone(),
        },
        "arrayValue" => Value::Array(
            inner["values"]
                .as_array()
                .map(|vs| vs.iter().map(any_value).collect())
                .unwrap_or_default(),
        ),
        "kvlistValue" => Value::Object(key_values(&inner["values"])),
        _ => Value::Null,
    }
}

/// An OTLP `KeyValue` list, as a JSON object.
fn key_values(list: &Value) -> Map<String, Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|kv| Some((kv["key"].as_str()?.to_string(), any_value(&kv["value"]))))
        .collect()
}

/// `[[key, value as text], ..]`, the engine's span attributes.
fn pairs(list: &Value) -> Vec<Value> {
    key_values(list)
        .into_iter()
        .map(|(k, v)| json!([k, text(&v)]))
        .collect()
}

/// An OTLP time: nanoseconds, as a number or a string.
fn nanos(value: &Value) -> u64 {
    match value {
        Value::String(s) => s.parse().unwrap_or(0),
        other => other.as_u64().unwrap_or(0),
    }
}

/// An id unless empty or all zeros.
fn id(value: &Value) -> Option<String> {
    value
        .as_str()
        .filter(|s| !s.is_empty() && s.bytes().any(|b| b != b'0'))
        .map(String::from)
}

/// The spans of an `OTLP` request, stored; a span without `traceId`,
/// `spanId` or `name` fails the whole request.
fn store_spans(store: &SpanStore, request: &Value) -> Result<(), String> {
    let mut parsed = Vec::new();
    for resource in request["resourceSpans"].as_array().into_iter().flatten() {
        let service = key_values(&resource["resource"]["attributes"])
            .get("service.name")
            .map(text)
            .unwrap_or_else(|| "unknown".into());
        for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
            for span in scope["spans"].as_array().into_iter().flatten() {
                let required = |key: &str| {
                    span[key]
                        .as_str()
                        .map(String::from)
                        .ok_or_else(|| format!("a span without `{key}`"))
                };
                let (status, description) = match span["status"]["code"].as_u64() {
                    Some(1) => ("ok", None),
                    Some(2) => ("error", span["status"]["message"].as_str()),
                    _ => ("unset", None),
                };
                let end = nanos(&span["endTimeUnixNano"]);
                let mut stored = json!({
                    "trace_id": required("traceId")?,
                    "span_id": required("spanId")?,
                    "parent_span_id": id(&span["parentSpanId"]),
                    "name": required("name")?,
                    "start_time_unix_nano": nanos(&span["startTimeUnixNano"]),
                    "end_time_unix_nano": end,
                    "status": status,
                    "attributes": pairs(&span["attributes"]),
                    "service_name": service,
                    "events": span["events"].as_array().into_iter().flatten().map(|e| json!({
                        "name": text(&e["name"]),
                        "timestamp_unix_nano": nanos(&e["timeUnixNano"]),
                        "attributes": pairs(&e["attributes"]),
                    })).collect::<Vec<_>>(),
                    "links": [],
                });
                let map = stored.as_object_mut().ok_or("not an object")?;
                if let Some(description) = description {
                    map.insert("status_description".into(), json!(description));
                }
                if let Some(name) = scope["scope"]["name"].as_str() {
                    map.insert("instrumentation_scope_name".into(), json!(name));
                }
                if let Some(version) = scope["scope"]["version"].as_str() {
                    map.insert("instrumentation_scope_version".into(), json!(version));
                }
                if end == 0 {
                    map.insert("pending".into(), json!(true));
                }
                parsed.push(stored);
            }
        }
    }
    for span in parsed {
        store.put(span);
    }
    Ok(())
}

/// The log records of a `LOGS` request, each kept and fired at `log`
/// bindings.
fn keep_logs(store: &LogStore, core: &Arc<Core>, request: &Value) {
    for resource in request["resourceLogs"].as_array().into_iter().flatten() {
        let resource_attrs: Map<String, Value> = key_values(&resource["resource"]["attributes"])
            .into_iter()
            .map(|(k, v)| (k, Value::String(text(&v))))
            .collect();
        let service = resource_attrs
            .get("service.name")
            .map(text)
            .unwrap_or_else(|| "unknown".into());
        for scope in resource["scopeLogs"].as_array().into_iter().flatten() {
            for record in scope["logRecords"].as_array().into_iter().flatten() {
                let body = match any_value(&record["body"]) {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                let stored = json!({
                    "timestamp_unix_nano": nanos(&record["timeUnixNano"]),
                    "observed_timestamp_unix_nano": nanos(&record["observedTimeUnixNano"]),
                    "severity_number": record["severityNumber"].as_i64().unwrap_or(0),
                    "severity_text": record["severityText"].as_str().unwrap_or_default(),
                    "body": body,
                    "attributes": key_values(&record["attributes"]),
                    "trace_id": id(&record["traceId"]),
                    "span_id": id(&record["spanId"]),
                    "resource": resource_attrs,
                    "service_name": service,
                    "instrumentation_scope_name": scope["scope"]["name"].as_str(),
                    "instrumentation_scope_version": scope["scope"]["version"].as_str(),
                });
                store.keep(core, stored);
            }
        }
    }
}
