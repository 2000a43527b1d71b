//! The spans workers send, as the engine's observability module keeps
//! them (the last 20,000), and `engine::traces::{list,tree}`.
//!
//! As in engine 0.23: a span ending at 0 is a live start, replaced by the
//! span when it ends.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use iii_protocol::ErrorBody;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::core::Outcome;

/// Spans kept, at most (the oldest go first).
const MAX_SPANS: usize = 20_000;

/// Levels of a trace tree nested in one root; deeper spans become roots
/// (32 levels are 64 of JSON, which every reader with the usual limit of
/// 128 decodes).
const MAX_DEPTH: usize = 32;

/// The input of `engine::traces::list`: filters, the order, and the page.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct TraceQuery {
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

/// The input of `engine::traces::tree`.
#[derive(Deserialize)]
pub(super) struct TraceId {
    trace_id: String,
}

/// The stored spans, oldest first, in the engine's `StoredSpan` shape.
#[derive(Default)]
pub(super) struct SpanStore {
    spans: Mutex<VecDeque<Value>>,
    /// Live starts waiting for their span (official SDKs send one when a
    /// span starts); only then is a new span looked for among the stored.
    pending: std::sync::atomic::AtomicUsize,
}

impl SpanStore {
    fn spans(&self) -> std::sync::MutexGuard<'_, VecDeque<Value>> {
        self.spans.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many spans are stored.
    pub(super) fn len(&self) -> usize {
        self.spans().len()
    }

    /// Stores a span; a span that ends replaces its live start.
    pub(super) fn put(&self, span: Value) {
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

    /// `engine::traces::list`: root spans (every span with
    /// `search_all_spans`) that match, sorted, a page of them.
    pub(super) fn list(&self, i: TraceQuery) -> Outcome {
        let all_spans = i.search_all_spans.unwrap_or(false);
        if all_spans && i.name.is_some() {
            return Err(ErrorBody::new(
                "unsupported",
                "iii-embedded does not select traces by a span name across all spans (`search_all_spans` with `name`); ask for the trace by `trace_id`",
            ));
        }
        let spans = self.spans();
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
        let duration =
            |s: &Value| millis(s, "end_time_unix_nano") - millis(s, "start_time_unix_nano");
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

    /// `engine::traces::tree`: a trace's spans, nested under their roots.
    pub(super) fn tree(&self, i: TraceId) -> Outcome {
        let spans: Vec<Value> = self
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
