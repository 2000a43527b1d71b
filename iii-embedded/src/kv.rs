//! `state::*`: an in-memory key-value store with atomic update operations,
//! firing `state` triggers on every change.

use std::collections::BTreeMap;
use std::sync::Arc;

use iii_protocol::ErrorBody;
use iii_protocol::update::{Op, apply};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::builtins::input;
use crate::kinds::type_id;
use iii_protocol::TriggerKind;

#[derive(Default)]
pub(crate) struct Store {
    scopes: BTreeMap<String, BTreeMap<String, Value>>,
}

pub(crate) fn call(shared: &Arc<Shared>, id: &str, data: Value) -> Result<Value, ErrorBody> {
    #[derive(Deserialize)]
    struct Key {
        scope: String,
        key: String,
    }
    #[derive(Deserialize)]
    struct Set {
        scope: String,
        key: String,
        #[serde(alias = "data")]
        value: Value,
    }
    #[derive(Deserialize)]
    struct Update {
        scope: String,
        key: String,
        ops: Vec<Op>,
    }
    #[derive(Deserialize)]
    struct Scope {
        scope: String,
    }
    let lock = || shared.kv.lock().unwrap_or_else(|p| p.into_inner());
    let (result, event) = match id {
        "state::get" => {
            let k: Key = input(id, data)?;
            let value = lock()
                .scopes
                .get(&k.scope)
                .and_then(|s| s.get(&k.key))
                .cloned();
            (value.unwrap_or(Value::Null), None)
        }
        "state::set" => {
            let s: Set = input(id, data)?;
            let old = lock()
                .scopes
                .entry(s.scope.clone())
                .or_default()
                .insert(s.key.clone(), s.value.clone());
            let event = change(&s.scope, &s.key, old.clone(), Some(s.value.clone()));
            (json!({"old_value": old, "new_value": s.value}), Some(event))
        }
        "state::delete" => {
            let k: Key = input(id, data)?;
            let old = lock()
                .scopes
                .get_mut(&k.scope)
                .and_then(|s| s.remove(&k.key));
            let event = old
                .as_ref()
                .map(|o| change(&k.scope, &k.key, Some(o.clone()), None));
            (old.unwrap_or(Value::Null), event)
        }
        "state::update" => {
            let u: Update = input(id, data)?;
            let mut store = lock();
            let entry = store.scopes.entry(u.scope.clone()).or_default();
            let old = entry.get(&u.key).cloned();
            let mut value = old.clone().unwrap_or(Value::Null);
            let mut errors = Vec::new();
            for (index, op) in u.ops.into_iter().enumerate() {
                if let Err(message) = apply(&mut value, op) {
                    errors.push(
                        json!({"op_index": index, "code": "UPDATE_OP_FAILED", "message": message}),
                    );
                }
            }
            entry.insert(u.key.clone(), value.clone());
            drop(store);
            let event = change(&u.scope, &u.key, old.clone(), Some(value.clone()));
            let mut out = json!({"old_value": old, "new_value": value});
            if !errors.is_empty() {
                out["errors"] = Value::Array(errors);
            }
            (out, Some(event))
        }
        "state::list" => {
            let s: Scope = input(id, data)?;
            let values: Vec<Value> = lock()
                .scopes
                .get(&s.scope)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default();
            (Value::Array(values), None)
        }
        "state::list_groups" => {
            let groups: Vec<String> = lock()
                .scopes
                .iter()
                .filter(|(_, m)| !m.is_empty())
                .map(|(k, _)| k.clone())
                .collect();
            (json!({"groups": groups}), None)
        }
        other => {
            return Err(ErrorBody::new(
                "function_not_found",
                format!("Function {other} not found in namespace default."),
            ));
        }
    };
    if let Some(event) = event {
        let (scope, key) = (event["scope"].clone(), event["key"].clone());
        shared.fire(type_id(TriggerKind::State), event, move |config| {
            let filter = |field: &str, actual: &Value| {
                config
                    .get(field)
                    .is_none_or(|want| want.is_null() || want == actual)
            };
            filter("scope", &scope) && filter("key", &key)
        });
    }
    Ok(result)
}

fn change(scope: &str, key: &str, old: Option<Value>, new: Option<Value>) -> Value {
    let event_type = match (&old, &new) {
        (None, _) => "state:created",
        (Some(_), None) => "state:deleted",
        (Some(_), Some(_)) => "state:updated",
    };
    json!({"type": type_id(TriggerKind::State), "event_type": event_type, "scope": scope, "key": key, "old_value": old, "new_value": new})
}
