//! The engine's lookups of one thing by its id or name:
//! `engine::functions::info`, `engine::triggers::info`,
//! `engine::registered-triggers::info` and `engine::workers::info`, with
//! the engine's answers and errors.

use std::collections::BTreeSet;

use iii_protocol::{DEFAULT_NAMESPACE, ErrorBody};
use serde::Deserialize;
use serde_json::{Value, json};

use super::discovery::{
    BindingFilter, FunctionFilter, TriggerTypeFilter, binding_summaries, function_summaries,
    trigger_type_summaries,
};
use super::module::Outcome;
use super::registry::Registry;

/// The input of `engine::functions::info`: one id or up to 32.
#[derive(Debug, Deserialize)]
pub(super) struct FunctionLookup {
    #[serde(default)]
    function_id: Option<String>,
    #[serde(default)]
    function_ids: Option<Vec<String>>,
    #[serde(default)]
    namespace: Option<String>,
}

/// The input of `engine::triggers::info`.
#[derive(Debug, Deserialize)]
pub(super) struct TriggerTypeLookup {
    id: String,
    #[serde(default)]
    namespace: Option<String>,
}

/// The input of `engine::registered-triggers::info`.
#[derive(Debug, Deserialize)]
pub(super) struct BindingLookup {
    id: String,
}

/// The input of `engine::workers::info`.
#[derive(Debug, Deserialize)]
pub(super) struct WorkerLookup {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

fn not_found(message: String) -> ErrorBody {
    ErrorBody::new("NOT_FOUND", message)
}

fn invalid(message: &str) -> ErrorBody {
    ErrorBody::new("INVALID_ARGUMENTS", message)
}

/// The namespaces a function id is served in, built-ins in `default`.
fn namespaces_of(registry: &Registry, function_id: &str) -> BTreeSet<String> {
    let mut found: BTreeSet<String> = registry
        .functions
        .keys()
        .filter(|(_, id)| id == function_id)
        .map(|(ns, _)| ns.clone())
        .collect();
    if registry.builtins.function(function_id).is_some() {
        found.insert(DEFAULT_NAMESPACE.to_string());
    }
    found
}

/// The namespace a lookup of `function_id` resolves to: the one given,
/// else `default`, else the only one; the error names why not.
fn resolve(registry: &Registry, function_id: &str, given: Option<&str>) -> Result<String, String> {
    let found = namespaces_of(registry, function_id);
    let missing = || format!("Function '{function_id}' is not registered.");
    match given {
        Some(ns) if found.contains(ns) => Ok(ns.to_string()),
        Some(_) => Err(missing()),
        None if found.contains(DEFAULT_NAMESPACE) => Ok(DEFAULT_NAMESPACE.to_string()),
        None if found.len() == 1 => Ok(found.into_iter().next().unwrap_or_default()),
        None if found.is_empty() => Err(missing()),
        None => Err(format!(
            "Function '{function_id}' is ambiguous: it is registered in namespace(s): {}. Pass `namespace` to select one.",
            found.into_iter().collect::<Vec<_>>().join(", ")
        )),
    }
}

/// A function's detail: its summary, schemas and live bindings.
fn function_detail(registry: &Registry, namespace: &str, function_id: &str) -> Value {
    let mut detail = function_summaries(registry, &FunctionFilter::everything())
        .into_iter()
        .find(|f| f["function_id"] == function_id && f["namespace"] == namespace)
        .unwrap_or_else(|| json!({"function_id": function_id, "namespace": namespace}));
    let key = (namespace.to_string(), function_id.to_string());
    if let Some(f) = registry.functions.get(&key) {
        let schema = |raw: &Option<iii_protocol::RawJson>| {
            raw.as_ref().and_then(|r| serde_json::to_value(r).ok())
        };
        if let Some(s) = schema(&f.message.request_format) {
            detail["request_schema"] = s;
        }
        if let Some(s) = schema(&f.message.response_format) {
            detail["response_schema"] = s;
        }
    }
    let bindings: Vec<Value> = registry
        .bindings
        .iter()
        .filter(|(_, b)| b.served_by.is_some())
        .filter(|(_, b)| {
            b.message.function_id == function_id
                && b.message.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE) == namespace
        })
        .map(|(id, b)| json!({"id": id, "trigger_type": b.message.trigger_type, "config": b.message.config}))
        .collect();
    detail["registered_triggers"] = json!(bindings);
    detail
}

/// `engine::functions::info`.
pub(super) fn function_info(registry: &Registry, i: FunctionLookup) -> Outcome {
    let namespace = i.namespace.as_deref();
    match (i.function_id, i.function_ids) {
        (Some(_), Some(_)) => Err(invalid(
            "pass either `function_id` or `function_ids`, not both",
        )),
        (None, None) => Err(invalid(
            "missing field `function_id` (or `function_ids` for a batch)",
        )),
        (Some(id), None) => {
            let ns = resolve(registry, &id, namespace).map_err(not_found)?;
            Ok(function_detail(registry, &ns, &id))
        }
        (None, Some(ids)) => {
            let mut seen = BTreeSet::new();
            let ids: Vec<String> = ids
                .into_iter()
                .filter(|id| seen.insert(id.clone()))
                .collect();
            if ids.is_empty() {
                return Err(invalid(
                    "`function_ids` must be a non-empty array of function ids",
                ));
            }
            if ids.len() > 32 {
                return Err(invalid("too many function_ids (max 32)"));
            }
            let functions: Vec<Value> = ids
                .iter()
                .map(|id| match resolve(registry, id, namespace) {
                    Ok(ns) => function_detail(registry, &ns, id),
                    Err(_) => json!({"function_id": id, "error": "not_found"}),
                })
                .collect();
            Ok(json!({ "functions": functions }))
        }
    }
}

/// A trigger type's detail, if it is provided in `namespace`.
fn trigger_type_detail(registry: &Registry, namespace: &str, id: &str) -> Option<Value> {
    let key = (namespace.to_string(), id.to_string());
    let entry = registry.providers.get(&key)?;
    let all = TriggerTypeFilter::everything();
    let mut detail = trigger_type_summaries(registry, &all)
        .into_iter()
        .find(|t| t["id"] == id && t["namespace"] == namespace)?;
    if let Some(m) = &entry.message {
        if let Some(s) = &m.trigger_request_format {
            detail["configuration_schema"] = s.clone();
        }
        if let Some(s) = &m.call_request_format {
            detail["request_schema"] = s.clone();
        }
    }
    let instances = registry
        .bindings
        .values()
        .filter(|b| b.served_by.is_some() && b.message.trigger_type == id)
        .count();
    detail["instance_count"] = json!(instances);
    Some(detail)
}

/// `engine::triggers::info`.
pub(super) fn trigger_type_info(registry: &Registry, i: TriggerTypeLookup) -> Outcome {
    let namespace = i.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    trigger_type_detail(registry, namespace, &i.id).ok_or_else(|| {
        not_found(format!(
            "Trigger type '{}' is not registered in namespace '{namespace}'.",
            i.id
        ))
    })
}

/// `engine::registered-triggers::info`.
pub(super) fn binding_info(registry: &Registry, i: BindingLookup) -> Outcome {
    let missing = || not_found(format!("Registered trigger '{}' was not found.", i.id));
    let binding = registry
        .bindings
        .get(&i.id)
        .filter(|b| b.served_by.is_some())
        .ok_or_else(missing)?;
    let all = BindingFilter::everything();
    let mut detail = binding_summaries(registry, &all)
        .into_iter()
        .find(|b| b["id"] == i.id.as_str())
        .ok_or_else(missing)?;
    if let Value::Object(map) = &mut detail {
        map.remove("config_summary");
    }
    let t = &binding.message;
    if let Some(m) = &t.metadata {
        detail["metadata"] = m.clone();
    }
    let trigger = binding
        .served_by
        .as_ref()
        .and_then(|(ns, ty)| trigger_type_detail(registry, ns, ty));
    detail["trigger"] = trigger.unwrap_or(Value::Null);
    let namespace = t.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    let served = namespaces_of(registry, &t.function_id).contains(namespace);
    detail["function"] = if served {
        function_detail(registry, namespace, &t.function_id)
    } else {
        Value::Null
    };
    Ok(detail)
}

/// `engine::workers::info`: a connected worker (or one of the engine's
/// own) by name, with its functions, trigger types and bindings.
pub(super) fn worker_info(registry: &Registry, i: WorkerLookup, rows: Vec<Value>) -> Outcome {
    let name = i.name.as_str();
    let named: Vec<&Value> = rows.iter().filter(|w| w["name"] == name).collect();
    let namespaces: BTreeSet<&str> = named
        .iter()
        .filter_map(|w| w["namespace"].as_str())
        .collect();
    let chosen = match i.namespace.as_deref() {
        Some(ns) => named.iter().find(|w| w["namespace"] == ns).ok_or_else(|| {
            match namespaces.is_empty() {
                true => not_found(format!("Worker '{name}' is not connected.")),
                false => not_found(format!(
                    "Worker '{name}' is not connected in the requested namespace; it is connected in namespace(s): {}",
                    namespaces.iter().copied().collect::<Vec<_>>().join(", ")
                )),
            }
        })?,
        None => match named.iter().find(|w| w["namespace"] == DEFAULT_NAMESPACE) {
            Some(w) => w,
            None if namespaces.len() == 1 => named[0],
            None if namespaces.is_empty() => {
                return Err(not_found(format!("Worker '{name}' is not connected.")));
            }
            None => {
                return Err(not_found(format!(
                    "Worker '{name}' is ambiguous: it is connected in namespace(s): {}. Pass `namespace` to disambiguate.",
                    namespaces.iter().copied().collect::<Vec<_>>().join(", ")
                )));
            }
        },
    };
    let mut worker = (*chosen).clone();
    let id = worker["id"].as_str().unwrap_or_default().to_string();
    // Of the engine's own, the mandatory ones are internal.
    let internal = worker["runtime"] == "engine"
        && ["iii-observability", "iii-engine-functions"].contains(&name);
    worker["internal"] = json!(internal);
    if let Some(pid) = registry.workers.get(&id).and_then(|c| c.info.get("pid")) {
        worker["pid"] = pid.clone();
    }
    let ns = worker["namespace"]
        .as_str()
        .unwrap_or(DEFAULT_NAMESPACE)
        .to_string();
    let functions: Vec<Value> = function_summaries(registry, &FunctionFilter::everything())
        .into_iter()
        .filter(|f| f["worker_name"] == name && f["namespace"] == ns.as_str())
        .collect();
    let own: BTreeSet<&str> = functions
        .iter()
        .filter_map(|f| f["function_id"].as_str())
        .collect();
    let all_types = TriggerTypeFilter::everything();
    let trigger_types: Vec<Value> = trigger_type_summaries(registry, &all_types)
        .into_iter()
        .filter(|t| t["worker_name"] == name)
        .filter(|t| internal || provided_by(registry, t, &id))
        .collect();
    let all_bindings = BindingFilter::everything();
    let registered_triggers: Vec<Value> = binding_summaries(registry, &all_bindings)
        .into_iter()
        .filter(|b| b["function_id"].as_str().is_some_and(|f| own.contains(f)))
        .collect();
    Ok(json!({
        "worker": worker,
        "functions": functions,
        "trigger_types": trigger_types,
        "registered_triggers": registered_triggers,
    }))
}

/// Whether the trigger type row `t` is provided by the connection `id`.
fn provided_by(registry: &Registry, t: &Value, id: &str) -> bool {
    let key = (
        t["namespace"].as_str().unwrap_or_default().to_string(),
        t["id"].as_str().unwrap_or_default().to_string(),
    );
    matches!(
        registry.providers.get(&key).map(|p| &p.provider),
        Some(super::registry::Provider::Worker(w)) if w == id
    )
}
