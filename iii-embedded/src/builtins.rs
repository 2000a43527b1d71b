//! Built-in functions, living in the `default` namespace.

use std::sync::Arc;
use std::time::Duration;

use iii_protocol::{
    DEFAULT_NAMESPACE, ErrorBody, Message, RegisterTrigger, RegistrationRejected,
    WORKER_NAMESPACE_CONFLICT,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::Shared;
use crate::core::{BindOutcome, Caller, Core, Event, ProviderEntry};
use crate::kinds::type_id;
use iii_protocol::TriggerKind;

const BUILTINS: [&str; 33] = [
    "engine::traces::list",
    "engine::traces::tree",
    "engine::logs::list",
    "engine::channels::create",
    "engine::functions::list",
    "engine::workers::list",
    "engine::triggers::list",
    "engine::registered-triggers::list",
    "engine::register_trigger",
    "engine::unregister_trigger",
    "engine::queue::enqueue",
    "state::set",
    "state::get",
    "state::delete",
    "state::update",
    "state::list",
    "state::list_groups",
    "stream::set",
    "stream::get",
    "stream::delete",
    "stream::update",
    "stream::list",
    "stream::list_groups",
    "stream::list_all",
    "stream::send",
    "publish",
    "iii::durable::publish",
    "engine::log::trace",
    "engine::log::debug",
    "engine::log::info",
    "engine::log::warn",
    "engine::log::error",
    "engine::workers::register",
];

pub(crate) fn is_builtin(function_id: &str) -> bool {
    BUILTINS.contains(&function_id)
}

/// Decodes a built-in's input, failing as the engine does.
pub(crate) fn input<T: DeserializeOwned>(function_id: &str, data: Value) -> Result<T, ErrorBody> {
    serde_json::from_value(data).map_err(|e| {
        ErrorBody::new(
            "deserialization_error",
            format!("Failed to deserialize input for {function_id}: {e}"),
        )
    })
}

/// Runs a built-in (not `engine::workers::register`, which needs the caller).
pub(crate) async fn call(
    shared: &Arc<Shared>,
    function_id: &str,
    data: Value,
) -> Result<Value, ErrorBody> {
    match function_id {
        "engine::functions::list" => {
            #[derive(Deserialize)]
            struct In {
                #[serde(default)]
                include_internal: bool,
            }
            let i: In = input(function_id, data)?;
            Ok(json!({"functions": function_summaries(&shared.lock(), i.include_internal)}))
        }
        "engine::workers::list" => Ok(json!({"workers": worker_summaries(&shared.lock())})),
        "engine::triggers::list" => {
            #[derive(Deserialize)]
            struct In {
                #[serde(default)]
                include_internal: bool,
            }
            let i: In = input(function_id, data)?;
            Ok(json!({"triggers": trigger_type_summaries(&shared.lock(), i.include_internal)}))
        }
        "engine::registered-triggers::list" => {
            #[derive(Deserialize)]
            struct In {
                #[serde(default)]
                include_internal: bool,
            }
            let i: In = input(function_id, data)?;
            Ok(
                json!({"registered_triggers": binding_summaries(&shared.lock(), i.include_internal)}),
            )
        }
        "engine::register_trigger" => register_trigger(shared, data).await,
        "engine::unregister_trigger" => {
            #[derive(Deserialize)]
            struct In {
                id: String,
            }
            let i: In = input(function_id, data)?;
            Ok(json!({"removed": shared.lock().unregister_binding(&i.id, None)}))
        }
        "engine::queue::enqueue" => crate::queue::builtin_enqueue(shared, data),
        "engine::channels::create" => crate::channels::create(shared, data),
        "publish" | "iii::durable::publish" => {
            #[derive(Deserialize)]
            struct In {
                #[serde(default)]
                topic: String,
                #[serde(default)]
                data: Value,
            }
            let i: In = input(function_id, data)?;
            if i.topic.is_empty() {
                return Err(ErrorBody::new("topic_not_set", "topic is required"));
            }
            let topic = i.topic.clone();
            if function_id == "publish" {
                shared.fire(type_id(TriggerKind::Subscribe), i.data, |config| {
                    config.get("topic").and_then(Value::as_str) == Some(&topic)
                });
            } else {
                crate::queue::publish_durable(shared, &topic, i.data);
            }
            Ok(Value::Null)
        }
        id if id.starts_with("engine::log::") => crate::logs::log(shared, id, data),
        "engine::logs::list" => crate::logs::list(shared, data),
        "engine::traces::list" => crate::traces::list(shared, data),
        "engine::traces::tree" => crate::traces::tree(shared, data),
        id if id.starts_with("state::") => crate::kv::call(shared, id, data),
        id if id.starts_with("stream::") => crate::streams::call(shared, id, data).await,
        other => Err(ErrorBody::new(
            "function_not_found",
            format!("Function {other} not found in namespace {DEFAULT_NAMESPACE}."),
        )),
    }
}

/// `engine::workers::register`: handled in the connection's reader so that
/// the buffered registrations are applied before the next frame.
pub(crate) fn register_worker(
    shared: &Arc<Shared>,
    worker_id: &str,
    mut data: Value,
    caller: Caller,
) {
    if let Value::Object(map) = &mut data {
        map.remove(iii_protocol::CALLER_WORKER_ID);
    }
    let namespace = match data.get("namespace") {
        None | Some(Value::Null) => DEFAULT_NAMESPACE.to_string(),
        Some(Value::String(ns)) if !ns.trim().is_empty() => ns.clone(),
        Some(_) => {
            let error = ErrorBody::new("INVALID_NAMESPACE", "namespace must be a non-blank string");
            shared
                .lock()
                .answer(caller, "engine::workers::register", Err(error));
            return;
        }
    };
    let name = data.get("name").and_then(Value::as_str).map(clean_name);
    let mut events = Vec::new();
    {
        let mut core = shared.lock();
        if let Some(name) = &name {
            let holder = core
                .workers
                .iter()
                .find(|(id, c)| {
                    id.as_str() != worker_id
                        && c.namespace == namespace
                        && c.name.as_deref() == Some(name)
                })
                .map(|(id, _)| id.clone());
            if let Some(owner) = holder {
                core.send_to(
                    worker_id,
                    &Message::RegistrationRejected(RegistrationRejected {
                        code: WORKER_NAMESPACE_CONFLICT.into(),
                        namespace,
                        worker_name: Some(name.clone()),
                        function_id: None,
                        owner_worker_id: owner,
                    }),
                );
                // Dropping the connection's queue makes its writer send the
                // rejection, then a Close frame.
                core.remove_worker(worker_id, &mut events);
                drop(core);
                shared.deliver(events);
                return;
            }
        }
        let Some(conn) = core.workers.get_mut(worker_id) else {
            return;
        };
        conn.name = name;
        conn.namespace = namespace;
        conn.has_pid = data.get("pid").is_some_and(Value::is_u64);
        conn.info = data;
        let buffered = conn.buffered.take().unwrap_or_default();
        for message in buffered {
            core.apply_registration(worker_id, message, &mut events);
        }
        core.answer(
            caller,
            "engine::workers::register",
            Ok(json!({"success": true})),
        );
    }
    events.push(Event::Workers(
        json!({"event": "worker_metadata_updated", "worker_id": worker_id}),
    ));
    shared.deliver(events);
}

/// Control and bidi characters stripped, at most 280 characters.
fn clean_name(name: &str) -> String {
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}');
    name.chars()
        .filter(|c| !c.is_control() && !bidi(*c))
        .take(280)
        .collect()
}

async fn register_trigger(shared: &Arc<Shared>, data: Value) -> Result<Value, ErrorBody> {
    #[derive(Deserialize)]
    struct In {
        trigger_type: String,
        function_id: String,
        #[serde(default)]
        config: Value,
        #[serde(default)]
        metadata: Option<Value>,
        #[serde(default)]
        trigger_namespace: Option<String>,
    }
    let i: In = input("engine::register_trigger", data)?;
    let id = uuid::Uuid::new_v4().to_string();
    let binding = RegisterTrigger {
        id: id.clone(),
        trigger_type: i.trigger_type,
        function_id: i.function_id,
        config: if i.config.is_null() {
            json!({})
        } else {
            i.config
        },
        metadata: i.metadata,
        namespace: None,
        trigger_namespace: i.trigger_namespace,
    };
    let (ack_tx, ack_rx) = oneshot::channel();
    let mut events = Vec::new();
    let outcome = {
        let mut core = shared.lock();
        core.acks.insert(id.clone(), ack_tx);
        core.register_binding(None, DEFAULT_NAMESPACE, binding, &mut events)
    };
    shared.deliver(events);
    match outcome {
        BindOutcome::Refused(error) => {
            shared.lock().acks.remove(&id);
            Err(ErrorBody::new(
                "trigger_registration_failed",
                format!("{}: {}", error.code, error.message),
            ))
        }
        BindOutcome::Forwarded => match tokio::time::timeout(Duration::from_secs(10), ack_rx).await
        {
            Ok(Ok(Some(error))) => {
                shared.lock().unregister_binding(&id, None);
                Err(ErrorBody::new(
                    "trigger_registration_failed",
                    format!("{}: {}", error.code, error.message),
                ))
            }
            _ => {
                shared.lock().acks.remove(&id);
                Ok(json!({"id": id}))
            }
        },
        BindOutcome::Accepted | BindOutcome::Parked => {
            shared.lock().acks.remove(&id);
            Ok(json!({"id": id}))
        }
    }
}

pub(crate) fn function_summaries(core: &Core, include_internal: bool) -> Vec<Value> {
    let mut out: Vec<Value> = core
        .functions
        .iter()
        .filter(|(_, f)| {
            include_internal
                || f.message.metadata.as_ref().and_then(|m| m.get("internal"))
                    != Some(&Value::Bool(true))
        })
        .map(|((ns, id), f)| {
            let worker_name = core.workers.get(&f.owner).and_then(|c| c.name.clone());
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
fn binding_summaries(core: &Core, include_internal: bool) -> Vec<Value> {
    core.bindings
        .iter()
        .filter(|(_, b)| b.served_by.is_some())
        .filter(|(_, b)| include_internal || !b.message.function_id.starts_with("engine::"))
        .map(|(id, b)| {
            let t = &b.message;
            let namespace = t
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.into());
            let owner = core
                .functions
                .get(&(namespace, t.function_id.clone()))
                .and_then(|f| core.workers.get(&f.owner))
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

fn worker_summaries(core: &Core) -> Vec<Value> {
    let mut out: Vec<Value> = core
        .workers
        .iter()
        .filter(|(_, c)| c.has_pid)
        .map(|(id, c)| {
            let function_count = core.functions.values().filter(|f| &f.owner == id).count();
            let field = |k: &str| c.info.get(k).cloned().unwrap_or(Value::Null);
            json!({
                "id": id, "name": c.name, "description": field("description"), "version": field("version"),
                "namespace": c.namespace, "runtime": c.info.get("runtime").cloned().unwrap_or(json!("unknown")),
                "os": field("os"), "status": "connected", "function_count": function_count,
                "connected_at_ms": c.connected_at_ms, "active_invocations": core.pending.values().filter(|p| &p.callee == id).count(),
                "isolation": field("isolation"), "ip_address": "127.0.0.1",
            })
        })
        .collect();
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    out
}

fn trigger_type_summaries(core: &Core, include_internal: bool) -> Vec<Value> {
    let mut out: Vec<Value> = core
        .providers
        .iter()
        .filter(|((_, id), _)| include_internal || !id.starts_with("engine::"))
        .map(|((ns, id), p)| {
            let (worker_name, description) = match p {
                ProviderEntry { message: Some(m), provider } => {
                    let owner = match provider {
                        crate::core::Provider::Worker(w) => core.workers.get(w).and_then(|c| c.name.clone()),
                        crate::core::Provider::Builtin => None,
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
