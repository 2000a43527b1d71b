//! `state::*`, as the engine's state module serves it: an in-memory
//! key-value store in scopes, with atomic update operations, firing
//! `state` triggers on every change.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use iii_protocol::TriggerKind;
use iii_protocol::update::Op;
use serde::Deserialize;
use serde_json::{Value, json};

use super::update_ops::apply_ops;
use crate::core::{Core, EngineModule, Function, Outcome, TriggerType, type_id};

/// The state module: scope → key → value.
#[derive(Default)]
pub(crate) struct State {
    scopes: Mutex<BTreeMap<String, BTreeMap<String, Value>>>,
}

impl EngineModule for State {
    fn name(&self) -> &'static str {
        "iii-state"
    }

    fn functions(self: Arc<Self>) -> Vec<Function> {
        vec![
            Function::now("state::get", &self, State::get),
            Function::now("state::set", &self, State::set),
            Function::now("state::delete", &self, State::delete),
            Function::now("state::update", &self, State::update),
            Function::now("state::list", &self, State::list),
            Function::now("state::list_groups", &self, State::list_groups),
        ]
    }

    fn trigger_types(self: Arc<Self>) -> Vec<TriggerType> {
        vec![TriggerType::new(TriggerKind::State)]
    }
}

/// `{scope, key}`.
#[derive(Deserialize)]
struct Key {
    scope: String,
    key: String,
}

/// `{scope, key, value}` (`data` for `value` too).
#[derive(Deserialize)]
struct Set {
    scope: String,
    key: String,
    #[serde(alias = "data")]
    value: Value,
}

/// `{scope, key, ops}`.
#[derive(Deserialize)]
struct Update {
    scope: String,
    key: String,
    ops: Vec<Op>,
}

/// `{scope}`.
#[derive(Deserialize)]
struct Scope {
    scope: String,
}

impl State {
    fn scopes(&self) -> MutexGuard<'_, BTreeMap<String, BTreeMap<String, Value>>> {
        self.scopes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `state::get`: the value itself, or `null`.
    fn get(&self, _: &Arc<Core>, k: Key) -> Outcome {
        let value = self
            .scopes()
            .get(&k.scope)
            .and_then(|s| s.get(&k.key))
            .cloned();
        Ok(value.unwrap_or(Value::Null))
    }

    /// `state::set`: `{old_value, new_value}`.
    fn set(&self, core: &Arc<Core>, s: Set) -> Outcome {
        let old = self
            .scopes()
            .entry(s.scope.clone())
            .or_default()
            .insert(s.key.clone(), s.value.clone());
        fire(core, &s.scope, &s.key, old.clone(), Some(s.value.clone()));
        Ok(json!({"old_value": old, "new_value": s.value}))
    }

    /// `state::delete`: the deleted value itself, or `null`.
    fn delete(&self, core: &Arc<Core>, k: Key) -> Outcome {
        let old = self
            .scopes()
            .get_mut(&k.scope)
            .and_then(|s| s.remove(&k.key));
        if let Some(old) = &old {
            fire(core, &k.scope, &k.key, Some(old.clone()), None);
        }
        Ok(old.unwrap_or(Value::Null))
    }

    /// `state::update`: `{old_value, new_value, errors?}`; a missing key
    /// is created.
    fn update(&self, core: &Arc<Core>, u: Update) -> Outcome {
        let (old, value, errors) = {
            let mut scopes = self.scopes();
            let entry = scopes.entry(u.scope.clone()).or_default();
            let old = entry.get(&u.key).cloned();
            let mut value = old.clone().unwrap_or(Value::Null);
            let errors = apply_ops(&mut value, u.ops);
            entry.insert(u.key.clone(), value.clone());
            (old, value, errors)
        };
        fire(core, &u.scope, &u.key, old.clone(), Some(value.clone()));
        let mut out = json!({"old_value": old, "new_value": value});
        if !errors.is_empty() {
            out["errors"] = Value::Array(errors);
        }
        Ok(out)
    }

    /// `state::list`: the values of a scope.
    fn list(&self, _: &Arc<Core>, s: Scope) -> Outcome {
        let values: Vec<Value> = self
            .scopes()
            .get(&s.scope)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        Ok(Value::Array(values))
    }

    /// `state::list_groups`: the scopes that hold a value.
    fn list_groups(&self, _: &Arc<Core>, _: Value) -> Outcome {
        let groups: Vec<String> = self
            .scopes()
            .iter()
            .filter(|(_, m)| !m.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        Ok(json!({"groups": groups}))
    }
}

/// Fires the `state` bindings whose scope and key filters match a change.
fn fire(core: &Arc<Core>, scope: &str, key: &str, old: Option<Value>, new: Option<Value>) {
    let event_type = match (&old, &new) {
        (None, _) => "state:created",
        (Some(_), None) => "state:deleted",
        (Some(_), Some(_)) => "state:updated",
    };
    let event = json!({"type": type_id(TriggerKind::State), "event_type": event_type, "scope": scope, "key": key, "old_value": old, "new_value": new});
    let (scope, key) = (event["scope"].clone(), event["key"].clone());
    core.fire(type_id(TriggerKind::State), event, move |config| {
        let filter = |field: &str, actual: &Value| {
            config
                .get(field)
                .is_none_or(|want| want.is_null() || want == actual)
        };
        filter("scope", &scope) && filter("key", &key)
    });
}
