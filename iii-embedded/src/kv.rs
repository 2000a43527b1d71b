//! `state::*`: an in-memory key-value store with atomic update operations,
//! firing `state` triggers on every change.

use std::collections::BTreeMap;
use std::sync::Arc;

use iii_protocol::ErrorBody;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::kinds::type_id;
use iii_protocol::TriggerKind;

#[derive(Default)]
pub(crate) struct Store {
    scopes: BTreeMap<String, BTreeMap<String, Value>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Path {
    One(String),
    Segments(Vec<String>),
}

impl Path {
    fn segments(&self) -> Vec<String> {
        match self {
            Path::One(key) if key.is_empty() => Vec::new(),
            Path::One(key) => vec![key.clone()],
            Path::Segments(s) => s.clone(),
        }
    }
}

/// One update operation, as `state::update` and `stream::update` take it.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    Set { path: Path, value: Value },
    Merge { path: Option<Path>, value: Value },
    Increment { path: Path, by: i64 },
    Decrement { path: Path, by: i64 },
    Append { path: Option<Path>, value: Value },
    Remove { path: Path },
}

fn input<T: serde::de::DeserializeOwned>(id: &str, data: Value) -> Result<T, ErrorBody> {
    serde_json::from_value(data).map_err(|e| {
        ErrorBody::new(
            "deserialization_error",
            format!("Failed to deserialize input for {id}: {e}"),
        )
    })
}

/// The slot at `path` inside `root`, creating objects on the way.
fn slot<'a>(root: &'a mut Value, path: &[String]) -> &'a mut Value {
    let mut at = root;
    for segment in path {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        at = match at {
            Value::Object(map) => map.entry(segment.clone()).or_insert(Value::Null),
            // Made an object just above.
            other => other,
        };
    }
    at
}

/// Applies one operation to `value`.
pub(crate) fn apply(value: &mut Value, op: Op) -> Result<(), String> {
    match op {
        Op::Set { path, value: v } => *slot(value, &path.segments()) = v,
        Op::Merge { path, value: v } => {
            let target = slot(value, &path.map(|p| p.segments()).unwrap_or_default());
            let Value::Object(incoming) = v else {
                return Err("merge needs an object value".into());
            };
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(map) = target {
                map.extend(incoming);
            }
        }
        Op::Increment { path, by } => add(slot(value, &path.segments()), by)?,
        Op::Decrement { path, by } => add(slot(value, &path.segments()), -by)?,
        Op::Append { path, value: v } => {
            let target = slot(value, &path.map(|p| p.segments()).unwrap_or_default());
            match (target, v) {
                (t @ Value::Null, v) => *t = v,
                (Value::Array(items), v) => items.push(v),
                (Value::String(s), Value::String(more)) => s.push_str(&more),
                (t, _) => return Err(format!("cannot append to {t}")),
            }
        }
        Op::Remove { path } => {
            let mut segments = path.segments();
            let Some(last) = segments.pop() else {
                *value = Value::Null;
                return Ok(());
            };
            if let Value::Object(map) = slot(value, &segments) {
                map.remove(&last);
            }
        }
    }
    Ok(())
}

fn add(target: &mut Value, by: i64) -> Result<(), String> {
    let current = match target {
        Value::Null => 0,
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("{n} is not an integer"))?,
        other => return Err(format!("cannot increment {other}")),
    };
    *target = json!(current.saturating_add(by));
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(v: Value) -> Vec<Op> {
        serde_json::from_value(v).expect("ops")
    }

    #[test]
    fn the_observed_update_sequence() {
        let mut value = json!({"n": 1, "name": "B"});
        for op in ops(json!([
            {"type":"increment","path":"n","by":5},
            {"type":"set","path":"name","value":"C"},
            {"type":"merge","value":{"extra":true}},
            {"type":"append","path":"tags","value":"t1"},
            {"type":"remove","path":"extra"}
        ])) {
            apply(&mut value, op).expect("op");
        }
        assert_eq!(value, json!({"n": 6, "name": "C", "tags": "t1"}));
    }

    #[test]
    fn append_and_decrement_and_nested_paths() {
        let mut value = Value::Null;
        for op in ops(json!([
            {"type":"append","path":["a","list"],"value":[]},
            {"type":"append","path":["a","list"],"value":1},
            {"type":"decrement","path":"count","by":2}
        ])) {
            apply(&mut value, op).expect("op");
        }
        assert_eq!(value, json!({"a": {"list": [1]}, "count": -2}));
        let bad = ops(json!([{"type":"increment","path":"a","by":1}])).remove(0);
        assert!(apply(&mut value, bad).is_err());
    }
}
