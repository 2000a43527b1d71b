//! What the registries show of themselves: the summaries behind
//! `engine::functions::list`, `engine::workers::list`,
//! `engine::triggers::list`, `engine::registered-triggers::list` and the
//! `engine::functions-available` fire.

use iii_protocol::{DEFAULT_NAMESPACE, TriggerKind};
use serde_json::{Value, json};

use super::registry::{Provider, ProviderEntry, Registry};

/// Every function workers serve, sorted by id; those marked `internal` in
/// their metadata only with `include_internal`.
pub(super) fn function_summaries(registry: &Registry, include_internal: bool) -> Vec<Value> {
    let mut out: Vec<Value> = registry
        .functions
        .iter()
        .filter(|(_, f)| {
            include_internal
                || f.message.metadata.as_ref().and_then(|m| m.get("internal"))
                    != Some(&Value::Bool(true))
        })
        .map(|((ns, id), f)| {
            let worker_name = registry.workers.get(&f.owner).and_then(|c| c.name.clone());
            let mut v = json!({"function_id": id, "namespace": ns, "worker_name": worker_name});
            if let Some(d) = &f.message.description {
                v["description"] = json!(d);
            }
            if let Some(m) = &f.message.metadata {
                v["metadata"] = m.clone();
            }
            v
        })
        .collect();
    out.sort_by(|a, b| a["function_id"].as_str().cmp(&b["function_id"].as_str()));
    out
}

/// Live bindings, sorted by id, as `engine::registered-triggers::list`
/// shows them: without parked ones, and without those of `engine::*`
/// functions unless `include_internal`.
pub(super) fn binding_summaries(registry: &Registry, include_internal: bool) -> Vec<Value> {
    registry
        .bindings
        .iter()
        .filter(|(_, b)| b.served_by.is_some())
        .filter(|(_, b)| include_internal || !b.message.function_id.starts_with("engine::"))
        .map(|(id, b)| {
            let t = &b.message;
            let namespace = t
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.into());
            let owner = registry
                .functions
                .get(&(namespace, t.function_id.clone()))
                .and_then(|f| registry.workers.get(&f.owner))
                .and_then(|c| c.name.clone());
            let worker_name = owner.unwrap_or_else(|| {
                t.function_id
                    .split("::")
                    .next()
                    .unwrap_or_default()
                    .to_string()
            });
            let summary: String = t.config.to_string().chars().take(80).collect();
            json!({
                "id": id,
                "trigger_type": t.trigger_type,
                "function_id": t.function_id,
                "worker_name": worker_name,
                "config": t.config,
                "config_summary": summary,
            })
        })
        .collect()
}

/// Connected workers that sent their `pid`, sorted by name.
pub(super) fn worker_summaries(registry: &Registry) -> Vec<Value> {
    let mut out: Vec<Value> = registry
        .workers
        .iter()
        .filter(|(_, c)| c.has_pid)
        .map(|(id, c)| {
            let function_count = registry.functions.values().filter(|f| &f.owner == id).count();
            let field = |k: &str| c.info.get(k).cloned().unwrap_or(Value::Null);
            json!({
                "id": id, "name": c.name, "description": field("description"), "version": field("version"),
                "namespace": c.namespace, "runtime": c.info.get("runtime").cloned().unwrap_or(json!("unknown")),
                "os": field("os"), "status": "connected", "function_count": function_count,
                "connected_at_ms": c.connected_at_ms, "active_invocations": registry.pending.values().filter(|p| &p.callee == id).count(),
                "isolation": field("isolation"), "ip_address": "127.0.0.1",
            })
        })
        .collect();
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    out
}

/// Every provided trigger type, sorted by id; `engine::*` ones only with
/// `include_internal`.
pub(super) fn trigger_type_summaries(registry: &Registry, include_internal: bool) -> Vec<Value> {
    let mut out: Vec<Value> = registry
        .providers
        .iter()
        .filter(|((_, id), _)| include_internal || !id.starts_with("engine::"))
        .map(|((ns, id), p)| {
            let (worker_name, description) = match p {
                ProviderEntry { message: Some(m), provider } => {
                    let owner = match provider {
                        Provider::Worker(w) => registry.workers.get(w).and_then(|c| c.name.clone()),
                        Provider::Builtin => None,
                    };
                    (owner, m.description.clone())
                }
                ProviderEntry { message: None, .. } => {
                    let d = TriggerKind::from_engine_type(id).map(TriggerKind::summary);
                    (Some("iii-embedded".to_string()), d.unwrap_or_default().to_string())
                }
            };
            json!({"id": id, "namespace": ns, "worker_name": worker_name, "description": description})
        })
        .collect();
    out.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    out
}
