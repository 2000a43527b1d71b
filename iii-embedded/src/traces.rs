//! Telemetry from workers, as the engine's observability worker takes it:
//! the `/otel` socket (binary frames, a 4-byte prefix then OTLP/JSON:
//! `OTLP` spans, `LOGS` log records, `MTRC` metrics), the same frames on
//! the worker socket, a span store, and `engine::traces::{list,tree}`.
//!
//! As in engine 0.23: a span without `traceId`, `spanId` or `name` fails
//! its whole frame (no reply); attributes are kept as strings; a span
//! ending at 0 is a live start, replaced by the span when it ends; a log
//! record is stored and fires `log` triggers. Metrics are accepted and
//! dropped here (the engine keeps them for `engine::metrics::list`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use iii_protocol::ErrorBody;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::Shared;

/// Spans kept, at most (the oldest go first).
const MAX_SPANS: usize = 20_000;

/// Levels of a trace tree nested in one root; deeper spans become roots
/// (32 levels are 64 of JSON, which every reader with the usual limit of
/// 128 decodes).
const MAX_DEPTH: usize = 32;

/// The stored spans, oldest first, in the engine's `StoredSpan` shape.
#[derive(Default)]
pub(crate) struct Store {
    spans: Mutex<VecDeque<Value>>,
    /// Live starts waiting for their span (official SDKs send one when a
    /// span starts); only then is a new span looked for among the stored.
    pending: std::sync::atomic::AtomicUsize,
}

impl Store {
    fn spans(&self) -> std::sync::MutexGuard<'_, VecDeque<Value>> {
        self.spans.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn put(&self, span: Value) {
        use std::sync::atomic::Ordering::Relaxed;
        let mut spans = self.spans();
        let same = |s: &Value| s["trace_id"] == span["trace_id"] && s["span_id"] == span["span_id"];
        if self.pending.load(Relaxed) > 0
            && let Some(live) = spans.iter_mut().find(|s| same(s) && s["pending"] == true)
        {
            if span["pending"] != true {
                self.pending.fetch_sub(1, Relaxed);
            }
            *live = span;
            return;
        }
        if span["pending"] == true {
            self.pending.fetch_add(1, Relaxed);
        }
        while spans.len() >= MAX_SPANS {
            spans.pop_front();
        }
        spans.push_back(span);
    }
}

/// Serves a `/otel` socket: telemetry frames until it closes.
pub(crate) async fn serve<S: crate::Io>(shared: Arc<Shared>, mut socket: WebSocketStream<S>) {
    while let Some(Ok(frame)) = socket.next().await {
        match frame {
            Frame::Binary(bytes) if !ingest(&shared, &bytes) => {
                tracing::warn!("dropping a binary frame on /otel that is not telemetry");
            }
            Frame::Close(_) => return,
            _ => {}
        }
    }
}

/// Takes one telemetry frame (prefix, then OTLP/JSON); `false` if it has
/// no telemetry prefix.
pub(crate) fn ingest(shared: &Arc<Shared>, frame: &[u8]) -> bool {
    let (prefix, body) = frame.split_at(frame.len().min(4));
    let parsed = || serde_json::from_slice::<Value>(body).map_err(|e| e.to_string());
    let outcome = match prefix {
        b"OTLP" => parsed().and_then(|request| spans(shared, &request)),
        b"LOGS" => parsed().map(|request| logs(shared, &request)),
        b"MTRC" => Ok(()),
        _ => return false,
    };
    if let Err(why) = outcome {
        let kind = String::from_utf8_lossy(prefix).into_owned();
        tracing::warn!(kind, "{kind} ingestion error: {why}");
    }
    true
}

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

fn spans(shared: &Shared, request: &Value) -> Result<(), String> {
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
        shared.traces.put(span);
    }
    Ok(())
}

fn logs(shared: &Arc<Shared>, request: &Value) {
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
                crate::logs::keep(shared, stored);
            }
        }
    }
}

/// Whether the engine hides a span from listings by default.
fn internal(span: &Value) -> bool {
    span["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|kv| {
            (kv[0] == "iii.function.kind" && kv[1] == "internal")
                || (kv[0] == "function_id"
                    && kv[1].as_str().is_some_and(|f| f.starts_with("engine::")))
        })
}

/// `engine::traces::list`.
pub(crate) fn list(shared: &Shared, data: Value) -> Result<Value, ErrorBody> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct In {
        trace_id: Option<String>,
        trace_ids: Option<Vec<String>>,
        offset: Option<usize>,
        limit: Option<usize>,
        name: Option<String>,
        service_name: Option<String>,
        status: Option<String>,
        min_duration_ms: Option<f64>,
        max_duration_ms: Option<f64>,
        start_time: Option<u64>,
        end_time: Option<u64>,
        sort_by: Option<String>,
        sort_order: Option<String>,
        attributes: Option<Vec<(String, String)>>,
        exclude_attributes: Option<Vec<(String, String)>>,
        include_internal: Option<bool>,
        search_all_spans: Option<bool>,
    }
    let i: In = crate::builtins::input("engine::traces::list", data)?;
    let all_spans = i.search_all_spans.unwrap_or(false);
    if all_spans && i.name.is_some() {
        return Err(ErrorBody::new(
            "unsupported",
            "iii-embedded does not select traces by a span name across all spans (`search_all_spans` with `name`); ask for the trace by `trace_id`",
        ));
    }
    let spans = shared.traces.spans();
    let known: std::collections::HashSet<(&str, &str)> = spans
        .iter()
        .filter_map(|s| Some((s["trace_id"].as_str()?, s["span_id"].as_str()?)))
        .collect();
    let contains = |field: &Value, wanted: &Option<String>| {
        wanted.as_ref().is_none_or(|w| {
            field
                .as_str()
                .is_some_and(|f| f.to_lowercase().contains(&w.to_lowercase()))
        })
    };
    let has = |s: &Value, (k, v): &(String, String)| {
        s["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|kv| kv[0] == json!(k) && kv[1] == json!(v))
    };
    let millis = |s: &Value, key: &str| s[key].as_u64().unwrap_or(0) as f64 / 1e6;
    let duration = |s: &Value| millis(s, "end_time_unix_nano") - millis(s, "start_time_unix_nano");
    let mut matching: Vec<&Value> = spans
        .iter()
        .filter(|s| match (&i.trace_id, &i.trace_ids) {
            (Some(t), _) => s["trace_id"] == json!(t),
            (None, Some(ts)) => ts.iter().any(|t| s["trace_id"] == json!(t)),
            (None, None) => true,
        })
        .filter(|s| {
            all_spans
                || s["parent_span_id"].as_str().is_none_or(|p| {
                    !known.contains(&(s["trace_id"].as_str().unwrap_or_default(), p))
                })
        })
        .filter(|s| i.include_internal.unwrap_or(false) || !internal(s))
        .filter(|s| {
            contains(&s["name"], &i.name)
                && contains(&s["service_name"], &i.service_name)
                && contains(&s["status"], &i.status)
        })
        .filter(|s| i.min_duration_ms.is_none_or(|m| duration(s) >= m))
        .filter(|s| i.max_duration_ms.is_none_or(|m| duration(s) <= m))
        .filter(|s| {
            // Overlapping the window, in milliseconds.
            i.start_time
                .is_none_or(|t| millis(s, "end_time_unix_nano") >= t as f64)
                && i.end_time
                    .is_none_or(|t| millis(s, "start_time_unix_nano") <= t as f64)
        })
        .filter(|s| i.attributes.iter().flatten().all(|kv| has(s, kv)))
        .filter(|s| !i.exclude_attributes.iter().flatten().any(|kv| has(s, kv)))
        .collect();
    let text = |s: &Value, key: &str| s[key].as_str().unwrap_or_default().to_string();
    match i.sort_by.as_deref().unwrap_or("start_time") {
        "duration" | "duration_ms" => {
            matching.sort_by(|a, b| duration(a).total_cmp(&duration(b)));
        }
        "service_name" => matching.sort_by_key(|s| text(s, "service_name")),
        "name" => matching.sort_by_key(|s| text(s, "name")),
        _ => matching.sort_by_key(|s| s["start_time_unix_nano"].as_u64().unwrap_or(0)),
    }
    if i.sort_order.as_deref() == Some("desc") {
        matching.reverse();
    }
    let total = matching.len();
    let (offset, limit) = (i.offset.unwrap_or(0), i.limit.unwrap_or(100));
    let page: Vec<Value> = matching
        .into_iter()
        .skip(offset)
        .take(limit)
        .cloned()
        .collect();
    Ok(json!({"spans": page, "total": total, "offset": offset, "limit": limit}))
}

/// `engine::traces::tree`.
pub(crate) fn tree(shared: &Shared, data: Value) -> Result<Value, ErrorBody> {
    #[derive(Deserialize)]
    struct In {
        trace_id: String,
    }
    let i: In = crate::builtins::input("engine::traces::tree", data)?;
    let spans: Vec<Value> = shared
        .traces
        .spans()
        .iter()
        .filter(|s| s["trace_id"] == json!(i.trace_id))
        .cloned()
        .collect();
    let mut children: HashMap<String, Vec<Value>> = HashMap::new();
    let ids: std::collections::HashSet<String> = spans
        .iter()
        .filter_map(|s| s["span_id"].as_str().map(String::from))
        .collect();
    let mut roots = Vec::new();
    for span in spans {
        match span["parent_span_id"].as_str() {
            Some(parent) if ids.contains(parent) => {
                children.entry(parent.to_string()).or_default().push(span)
            }
            _ => roots.push(span),
        }
    }
    /// Nests `span`'s children; past `MAX_DEPTH` levels the rest of a
    /// chain goes to `deeper`, to be roots (a chain a worker makes as deep
    /// as it likes must not overflow the stack).
    fn node(
        mut span: Value,
        depth: usize,
        children: &mut HashMap<String, Vec<Value>>,
        deeper: &mut Vec<Value>,
    ) -> Value {
        let id = span["span_id"].as_str().unwrap_or_default().to_string();
        let kids = children.remove(&id).unwrap_or_default();
        let mut kids: Vec<Value> = if depth >= MAX_DEPTH {
            deeper.extend(kids);
            Vec::new()
        } else {
            kids.into_iter()
                .map(|c| node(c, depth + 1, children, deeper))
                .collect()
        };
        kids.sort_by_key(|k| k["start_time_unix_nano"].as_u64().unwrap_or(0));
        span["children"] = Value::Array(kids);
        span
    }
    let mut pending = roots;
    let mut roots = Vec::new();
    while !pending.is_empty() {
        let mut deeper = Vec::new();
        for root in pending {
            roots.push(node(root, 0, &mut children, &mut deeper));
        }
        pending = deeper;
    }
    Ok(json!({"roots": roots}))
}
