//! What the registries show of themselves: the summaries behind
//! `engine::functions::list`, `engine::workers::list`,
//! `engine::triggers::list`, `engine::registered-triggers::list` and the
//! `engine::functions-available` fire, with the engine's filters.
//!
//! As in the engine: `search` matches case-insensitively, every other
//! filter exactly; filters combine with AND (`worker` and `workers` with
//! OR); `worker` is a worker's name, never its connection id; unknown
//! fields are ignored and a field of the wrong type fails the call.

use iii_protocol::{DEFAULT_NAMESPACE, TriggerKind};
use serde::Deserialize;
use serde_json::{Value, json};

use super::registry::{Provider, ProviderEntry, Registry};

/// The filters of `engine::functions::list`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct FunctionFilter {
    #[serde(default)]
    search: Option<String>,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    worker: Option<String>,
    #[serde(default)]
    workers: Option<Vec<String>>,
    #[serde(default)]
    include_internal: bool,
}

impl FunctionFilter {
    /// No filter: every function, internal ones too.
    pub(super) fn everything() -> FunctionFilter {
        FunctionFilter {
            include_internal: true,
            ..FunctionFilter::default()
        }
    }
}

impl TriggerTypeFilter {
    /// No filter: every trigger type, the engine's own too.
    pub(super) fn everything() -> TriggerTypeFilter {
        TriggerTypeFilter {
            include_internal: true,
            ..TriggerTypeFilter::default()
        }
    }
}

impl BindingFilter {
    /// No filter: every live binding, those of `engine::*` functions too.
    pub(super) fn everything() -> BindingFilter {
        BindingFilter {
            include_internal: true,
            ..BindingFilter::default()
        }
    }
}

/// The filters of `engine::triggers::list`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TriggerTypeFilter {
    #[serde(default)]
    search: Option<String>,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    worker: Option<String>,
    #[serde(default)]
    include_internal: bool,
}

/// The filters of `engine::registered-triggers::list`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct BindingFilter {
    #[serde(default)]
    search: Option<String>,
    #[serde(default)]
    trigger_type: Option<String>,
    #[serde(default)]
    function_id: Option<String>,
    #[serde(default)]
    worker: Option<String>,
    #[serde(default)]
    include_internal: bool,
}

/// The filters of `engine::workers::list`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct WorkerFilter {
    #[serde(default)]
    search: Option<String>,
    #[serde(default)]
    runtime: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// A `search` filter: lower-cased, and none when empty.
fn needle(search: &Option<String>) -> Option<String> {
    search
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
}

/// Whether any of `fields` holds `needle`, case-insensitively.
fn found(needle: &str, fields: &[&str]) -> bool {
    fields.iter().any(|f| f.to_lowercase().contains(needle))
}

/// Whether `value` is `wanted`, when a filter asks for one.
fn is(wanted: &Option<String>, value: Option<&str>) -> bool {
    wanted.as_deref().is_none_or(|w| Some(w) == value)
}

/// The name of the engine worker that provides a built-in trigger type, as
/// the engine names it (`queue` for `durable:subscriber`, as there).
fn builtin_provider(trigger_type: &str) -> String {
    let named = match TriggerKind::from_engine_type(trigger_type) {
        Some(TriggerKind::Http) => "iii-http",
        Some(TriggerKind::Cron) => "iii-cron",
        Some(TriggerKind::Subscribe) => "iii-pubsub",
        Some(TriggerKind::State) => "iii-state",
        Some(TriggerKind::Queue) => "queue",
        Some(TriggerKind::Stream | TriggerKind::StreamJoin | TriggerKind::StreamLeave) => {
            "iii-stream"
        }
        Some(TriggerKind::Log) => "iii-observability",
        // The engine's `trace` type, which iii-embedded lacks.
        None if trigger_type == "trace" => "iii-observability",
        _ => "",
    };
    match named {
        "" => trigger_type
            .split("::")
            .next()
            .unwrap_or_default()
            .to_string(),
        named => named.to_string(),
    }
}

/// Every function served, workers' and built-in (a worker's wins over the
/// built-in of its id), sorted by id, or by how well the id matches
/// `search` when there is one. Without `include_internal`, `engine::*`
/// (but for `engine::queue::*`) and functions marked `internal` in their
/// metadata are left out.
pub(super) fn function_summaries(registry: &Registry, filter: &FunctionFilter) -> Vec<Value> {
    struct Row<'a> {
        id: &'a str,
        namespace: &'a str,
        worker: Option<String>,
        description: Option<&'a str>,
        metadata: Option<&'a Value>,
    }
    let served = registry.functions.iter().map(|((ns, id), f)| Row {
        id,
        namespace: ns,
        worker: Some(
            registry
                .workers
                .get(&f.owner)
                .and_then(|c| c.name.clone())
                .unwrap_or_else(|| id.split("::").next().unwrap_or_default().to_string()),
        ),
        description: f.message.description.as_deref(),
        metadata: f.message.metadata.as_ref(),
    });
    let builtin = registry
        .builtins
        .function_owners()
        .iter()
        .filter(|(id, _)| !registry.has_function(DEFAULT_NAMESPACE, id))
        .map(|(id, module)| Row {
            id,
            namespace: DEFAULT_NAMESPACE,
            worker: Some(module.to_string()),
            description: None,
            metadata: None,
        });
    let needle = needle(&filter.search);
    let workers: &[String] = filter.workers.as_deref().unwrap_or_default();
    let mut rows: Vec<(u8, Row)> = served
        .chain(builtin)
        .filter(|r| {
            filter.include_internal
                || !((r.id.starts_with("engine::") && !r.id.starts_with("engine::queue::"))
                    || r.metadata.and_then(|m| m.get("internal")) == Some(&Value::Bool(true)))
        })
        .filter(|r| filter.prefix.as_deref().is_none_or(|p| r.id.starts_with(p)))
        .filter(|r| {
            let name = r.worker.as_deref();
            (filter.worker.is_none() && workers.is_empty())
                || (filter.worker.is_some() && filter.worker.as_deref() == name)
                || workers.iter().any(|w| Some(w.as_str()) == name)
        })
        .filter_map(|r| match &needle {
            None => Some((0, r)),
            Some(n) => {
                let id = r.id.to_lowercase();
                let rank = if id.starts_with(n.as_str()) || id.split("::").any(|s| s == n) {
                    0
                } else if id.contains(n.as_str()) {
                    1
                } else if found(n, &[r.description.unwrap_or_default()]) {
                    2
                } else {
                    return None;
                };
                Some((rank, r))
            }
        })
        .collect();
    rows.sort_by(|(ra, a), (rb, b)| (ra, a.id).cmp(&(rb, b.id)));
    rows.into_iter()
        .map(|(_, r)| {
            let mut v =
                json!({"function_id": r.id, "namespace": r.namespace, "worker_name": r.worker});
            if let Some(d) = r.description {
                v["description"] = json!(d);
            }
            if let Some(m) = r.metadata {
                v["metadata"] = m.clone();
            }
            v
        })
        .collect()
}

/// The name of the worker serving `function_id` in `namespace`; the
/// engine falls back to the id's first `::` segment.
fn function_worker(registry: &Registry, namespace: &str, function_id: &str) -> String {
    let key = (namespace.to_string(), function_id.to_string());
    let served = registry
        .functions
        .get(&key)
        .and_then(|f| registry.workers.get(&f.owner))
        .and_then(|c| c.name.clone());
    let builtin = || {
        let owners = registry.builtins.function_owners();
        (namespace == DEFAULT_NAMESPACE)
            .then(|| owners.iter().find(|(id, _)| *id == function_id))
            .flatten()
            .map(|(_, module)| module.to_string())
    };
    served.or_else(builtin).unwrap_or_else(|| {
        function_id
            .split("::")
            .next()
            .unwrap_or_default()
            .to_string()
    })
}

/// A config's compact text, cut to 80 characters and an ellipsis, as the
/// engine summarises it.
fn config_summary(config: &Value) -> String {
    let text = config.to_string();
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// Live bindings, sorted by id, as `engine::registered-triggers::list`
/// shows them: without parked ones, and without those of `engine::*`
/// functions unless `include_internal`.
pub(super) fn binding_summaries(registry: &Registry, filter: &BindingFilter) -> Vec<Value> {
    let needle = needle(&filter.search);
    registry
        .bindings
        .iter()
        .filter(|(_, b)| b.served_by.is_some())
        .filter(|(_, b)| filter.include_internal || !b.message.function_id.starts_with("engine::"))
        .filter(|(_, b)| is(&filter.trigger_type, Some(&b.message.trigger_type)))
        .filter(|(_, b)| is(&filter.function_id, Some(&b.message.function_id)))
        .map(|(id, b)| {
            let t = &b.message;
            let namespace = t.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
            (id, t, function_worker(registry, namespace, &t.function_id))
        })
        .filter(|(_, _, worker)| is(&filter.worker, Some(worker)))
        .filter(|(id, t, _)| {
            needle
                .as_deref()
                .is_none_or(|n| found(n, &[id, &t.trigger_type, &t.function_id]))
        })
        .map(|(id, t, worker_name)| {
            json!({
                "id": id,
                "trigger_type": t.trigger_type,
                "function_id": t.function_id,
                "worker_name": worker_name,
                "config": t.config,
                "config_summary": config_summary(&t.config),
            })
        })
        .collect()
}

/// The engine's modules, as the rows of in-process workers; then the
/// connected workers that sent their `pid`; sorted by name, then id.
pub(super) fn worker_summaries(
    registry: &Registry,
    filter: &WorkerFilter,
    started_at_ms: u64,
) -> Vec<Value> {
    let modules = registry
        .builtins
        .module_rows()
        .into_iter()
        .map(|(name, count)| {
            json!({
                "name": name, "description": Value::Null, "version": env!("CARGO_PKG_VERSION"),
                "id": name, "namespace": DEFAULT_NAMESPACE, "runtime": "engine", "os": Value::Null,
                "status": "available", "function_count": count, "connected_at_ms": started_at_ms,
                "active_invocations": 0, "isolation": "in-process", "ip_address": Value::Null,
            })
        });
    let connected = registry
        .workers
        .iter()
        .filter(|(_, c)| c.has_pid)
        .map(|(id, c)| {
            let function_count = registry.functions.values().filter(|f| &f.owner == id).count();
            let field = |k: &str| c.info.get(k).cloned().unwrap_or(Value::Null);
            json!({
                "name": c.name, "description": field("description"), "version": field("version"),
                "id": id, "namespace": c.namespace, "runtime": c.info.get("runtime").cloned().unwrap_or(json!("unknown")),
                "os": field("os"), "status": "connected", "function_count": function_count,
                "connected_at_ms": c.connected_at_ms, "active_invocations": registry.pending.values().filter(|p| &p.callee == id).count(),
                "isolation": field("isolation"), "ip_address": "127.0.0.1",
            })
        });
    let needle = needle(&filter.search);
    let mut out: Vec<Value> = modules
        .chain(connected)
        .filter(|w| is(&filter.runtime, w["runtime"].as_str()))
        .filter(|w| is(&filter.status, w["status"].as_str()))
        .filter(|w| {
            needle
                .as_deref()
                .is_none_or(|n| found(n, &[w["name"].as_str().unwrap_or_default()]))
        })
        .collect();
    let key = |w: &Value| {
        let id = w["id"].as_str().unwrap_or_default().to_string();
        (
            w["name"]
                .as_str()
                .map_or_else(|| id.clone(), str::to_string),
            id,
        )
    };
    out.sort_by_key(key);
    out
}

/// Every provided trigger type, sorted by id; `engine::*` ones only with
/// `include_internal`.
pub(super) fn trigger_type_summaries(
    registry: &Registry,
    filter: &TriggerTypeFilter,
) -> Vec<Value> {
    let needle = needle(&filter.search);
    let mut out: Vec<Value> = registry
        .providers
        .iter()
        .filter(|((_, id), _)| filter.include_internal || !id.starts_with("engine::"))
        .filter(|((_, id), _)| filter.prefix.as_deref().is_none_or(|p| id.starts_with(p)))
        .map(|((ns, id), p)| {
            let (worker_name, description) = match p {
                ProviderEntry { message: Some(m), provider } => {
                    let owner = match provider {
                        Provider::Worker(w) => registry.workers.get(w).and_then(|c| c.name.clone()),
                        Provider::Builtin => None,
                    };
                    (owner.unwrap_or_else(|| builtin_provider(id)), m.description.clone())
                }
                ProviderEntry { message: None, .. } => {
                    let d = TriggerKind::from_engine_type(id).map(TriggerKind::summary);
                    (builtin_provider(id), d.unwrap_or_default().to_string())
                }
            };
            json!({"id": id, "namespace": ns, "worker_name": worker_name, "description": description})
        })
        .filter(|t| is(&filter.worker, t["worker_name"].as_str()))
        .filter(|t| {
            needle.as_deref().is_none_or(|n| {
                let field = |k: &str| t[k].as_str().unwrap_or_default().to_string();
                found(n, &[&field("id"), &field("description")])
            })
        })
        .collect();
    out.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    out
}
