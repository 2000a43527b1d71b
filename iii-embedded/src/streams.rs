//! `stream::*`: items grouped in named streams, kept in memory (or by a
//! worker's custom storage), firing `stream` triggers on every change, as
//! the engine's stream worker does.

use std::collections::BTreeMap;
use std::sync::Arc;

use iii_protocol::{DEFAULT_NAMESPACE, ErrorBody, TriggerKind};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::builtins::input;
use crate::kinds::type_id;
use crate::{Shared, now_ms};
use iii_protocol::update::{Op, apply};

/// Every stream: name → group → item → (insertion order, value). Groups
/// whose items were all deleted stay listed, as in the engine.
#[derive(Default)]
pub(crate) struct Store {
    streams: BTreeMap<String, BTreeMap<String, Group>>,
    next: u64,
}

#[derive(Default)]
struct Group {
    items: BTreeMap<String, (u64, Value)>,
}

impl Group {
    /// Values in insertion order, as the engine lists them.
    fn values(&self) -> Vec<Value> {
        let mut items: Vec<&(u64, Value)> = self.items.values().collect();
        items.sort_by_key(|(seq, _)| *seq);
        items.into_iter().map(|(_, v)| v.clone()).collect()
    }
}

#[derive(Deserialize, serde::Serialize)]
struct Item {
    stream_name: String,
    group_id: String,
    item_id: String,
}

#[derive(Deserialize, serde::Serialize)]
struct Set {
    stream_name: String,
    group_id: String,
    item_id: String,
    data: Value,
}

#[derive(Deserialize, serde::Serialize)]
struct GroupKey {
    stream_name: String,
    group_id: String,
}

#[derive(Deserialize, serde::Serialize)]
struct StreamKey {
    stream_name: String,
}

#[derive(Deserialize)]
struct Update {
    stream_name: String,
    group_id: String,
    item_id: String,
    ops: Vec<Value>,
}

#[derive(Deserialize)]
struct Send {
    stream_name: String,
    group_id: String,
    #[serde(rename = "type")]
    kind: String,
    data: Value,
    #[serde(default)]
    id: Option<String>,
}

/// `{old_value?, new_value, errors?}`: what set and update answer, and what
/// a custom storage's set and update must answer.
#[derive(Deserialize)]
struct Written {
    #[serde(default)]
    old_value: Option<Value>,
    new_value: Value,
    #[serde(default)]
    errors: Option<Value>,
}

/// `{old_value?}`: what delete answers.
#[derive(Deserialize)]
struct Deleted {
    #[serde(default)]
    old_value: Option<Value>,
}

/// Runs one `stream::*` built-in.
pub(crate) async fn call(shared: &Arc<Shared>, id: &str, data: Value) -> Result<Value, ErrorBody> {
    match id {
        "stream::get" => {
            let i: Item = input(id, data)?;
            if let Some(custom) = custom(shared, "get", &i.stream_name) {
                return shared
                    .invoke(DEFAULT_NAMESPACE, &custom, to_json(&i), None)
                    .await;
            }
            let store = lock(shared);
            let value = store
                .streams
                .get(&i.stream_name)
                .and_then(|s| s.get(&i.group_id))
                .and_then(|g| g.items.get(&i.item_id))
                .map(|(_, v)| v.clone());
            Ok(value.unwrap_or(Value::Null))
        }
        "stream::set" => {
            let i: Set = input(id, data)?;
            let written = match custom(shared, "set", &i.stream_name) {
                Some(custom) => {
                    let result = shared
                        .invoke(DEFAULT_NAMESPACE, &custom, to_json(&i), None)
                        .await;
                    custom_result::<Written>(result, "STREAM_SET_ERROR", "set")?
                }
                None => {
                    let mut store = lock(shared);
                    let seq = store.next_seq();
                    let group = store.group(&i.stream_name, &i.group_id);
                    let old = group.items.get(&i.item_id).map(|(_, v)| v.clone());
                    let seq = group.items.get(&i.item_id).map_or(seq, |(s, _)| *s);
                    group.items.insert(i.item_id.clone(), (seq, i.data.clone()));
                    Written {
                        old_value: old,
                        new_value: i.data,
                        errors: None,
                    }
                }
            };
            let event = change_event(&written.old_value, &written.new_value);
            fire(shared, &i.stream_name, &i.group_id, Some(&i.item_id), event);
            Ok(json!({"old_value": written.old_value, "new_value": written.new_value}))
        }
        "stream::delete" => {
            let i: Item = input(id, data)?;
            let old = match custom(shared, "delete", &i.stream_name) {
                Some(custom) => {
                    let result = shared
                        .invoke(DEFAULT_NAMESPACE, &custom, to_json(&i), None)
                        .await;
                    custom_result::<Deleted>(result, "STREAM_DELETE_ERROR", "delete")?.old_value
                }
                None => lock(shared)
                    .streams
                    .get_mut(&i.stream_name)
                    .and_then(|s| s.get_mut(&i.group_id))
                    .and_then(|g| g.items.remove(&i.item_id))
                    .map(|(_, v)| v),
            };
            if let Some(old) = old.as_ref().filter(|v| !v.is_null()) {
                let event = json!({"type": "delete", "data": old});
                fire(shared, &i.stream_name, &i.group_id, Some(&i.item_id), event);
            }
            Ok(json!({"old_value": old}))
        }
        "stream::list" => {
            let i: GroupKey = input(id, data)?;
            if let Some(custom) = custom(shared, "list", &i.stream_name) {
                return shared
                    .invoke(DEFAULT_NAMESPACE, &custom, to_json(&i), None)
                    .await;
            }
            let store = lock(shared);
            let values = store
                .streams
                .get(&i.stream_name)
                .and_then(|s| s.get(&i.group_id))
                .map(Group::values)
                .unwrap_or_default();
            Ok(Value::Array(values))
        }
        "stream::list_groups" => {
            let i: StreamKey = input(id, data)?;
            if let Some(custom) = custom(shared, "list_groups", &i.stream_name) {
                return shared
                    .invoke(DEFAULT_NAMESPACE, &custom, to_json(&i), None)
                    .await;
            }
            let groups: Vec<String> = lock(shared)
                .streams
                .get(&i.stream_name)
                .map(|s| s.keys().cloned().collect())
                .unwrap_or_default();
            Ok(json!(groups))
        }
        "stream::list_all" => {
            let streams: Vec<Value> = lock(shared)
                .streams
                .iter()
                .map(|(name, groups)| json!({"id": name, "groups": groups.keys().collect::<Vec<_>>()}))
                .collect();
            Ok(json!({"count": streams.len(), "stream": streams}))
        }
        "stream::update" => {
            let i: Update = input(id, data)?;
            let ops: Vec<Op> = input(id, Value::Array(i.ops.clone()))?;
            let written = match custom(shared, "update", &i.stream_name) {
                Some(custom) => {
                    let forwarded = json!({"stream_name": i.stream_name, "group_id": i.group_id, "item_id": i.item_id, "ops": i.ops});
                    let result = shared
                        .invoke(DEFAULT_NAMESPACE, &custom, forwarded, None)
                        .await;
                    custom_result::<Written>(result, "STREAM_UPDATE_ERROR", "update")?
                }
                None => {
                    let mut store = lock(shared);
                    let seq = store.next_seq();
                    let group = store.group(&i.stream_name, &i.group_id);
                    let old = group.items.get(&i.item_id).map(|(_, v)| v.clone());
                    // A missing item starts as an empty object.
                    let mut value = old.clone().unwrap_or_else(|| json!({}));
                    let mut errors = Vec::new();
                    for (index, op) in ops.into_iter().enumerate() {
                        if let Err(message) = apply(&mut value, op) {
                            errors.push(json!({"op_index": index, "code": "UPDATE_OP_FAILED", "message": message}));
                        }
                    }
                    let seq = group.items.get(&i.item_id).map_or(seq, |(s, _)| *s);
                    group.items.insert(i.item_id.clone(), (seq, value.clone()));
                    Written {
                        old_value: old,
                        new_value: value,
                        errors: (!errors.is_empty()).then_some(Value::Array(errors)),
                    }
                }
            };
            let event = change_event(&written.old_value, &written.new_value);
            fire(shared, &i.stream_name, &i.group_id, Some(&i.item_id), event);
            let mut out = json!({"old_value": written.old_value, "new_value": written.new_value});
            if let Some(errors) = written.errors {
                out["errors"] = errors;
            }
            Ok(out)
        }
        "stream::send" => {
            let i: Send = input(id, data)?;
            let event = json!({"type": "event", "event": {"type": i.kind, "data": i.data}});
            fire(shared, &i.stream_name, &i.group_id, i.id.as_deref(), event);
            Ok(Value::Null)
        }
        other => Err(ErrorBody::new(
            "function_not_found",
            format!("Function {other} not found in namespace default."),
        )),
    }
}

impl Store {
    fn next_seq(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn group(&mut self, stream: &str, group: &str) -> &mut Group {
        self.streams
            .entry(stream.to_string())
            .or_default()
            .entry(group.to_string())
            .or_default()
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Store> {
    shared.streams.lock().unwrap_or_else(|p| p.into_inner())
}

fn to_json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The id of the worker function that stores `stream` for `op`, if a
/// worker registered one in `default`: `stream::<op>(<stream>)`.
fn custom(shared: &Shared, op: &str, stream: &str) -> Option<String> {
    let id = format!("stream::{op}({stream})");
    shared
        .lock()
        .has_function(DEFAULT_NAMESPACE, &id)
        .then_some(id)
}

/// A custom storage's answer to set, update or delete, checked as the
/// engine checks it.
fn custom_result<T: DeserializeOwned>(
    result: Result<Value, ErrorBody>,
    code: &str,
    op: &str,
) -> Result<T, ErrorBody> {
    match result {
        Err(error) => Err(ErrorBody::new(
            code,
            format!("Failed to {op} value: {error}"),
        )),
        Ok(Value::Null) => Err(ErrorBody::new(
            code,
            format!("Failed to {op} value: Function returned no result"),
        )),
        Ok(value) => {
            serde_json::from_value(value).map_err(|e| ErrorBody::new("JSON_ERROR", e.to_string()))
        }
    }
}

/// `create` when there was no value before (or it was null), else `update`.
fn change_event(old: &Option<Value>, new: &Value) -> Value {
    let kind = match old {
        None | Some(Value::Null) => "create",
        Some(_) => "update",
    };
    json!({"type": kind, "data": new})
}

/// Fires the `stream` triggers whose filters match.
fn fire(shared: &Arc<Shared>, stream: &str, group: &str, item: Option<&str>, event: Value) {
    let payload = json!({
        "type": type_id(TriggerKind::Stream),
        "timestamp": now_ms(),
        "streamName": stream,
        "groupId": group,
        "id": item,
        "event": event,
    });
    let (stream, group, item) = (
        stream.to_string(),
        group.to_string(),
        item.map(String::from),
    );
    shared.fire(type_id(TriggerKind::Stream), payload, move |config| {
        let wants =
            |field: &str, actual: Option<&str>| match config.get(field).and_then(Value::as_str) {
                None | Some("") => true,
                Some(want) => Some(want) == actual,
            };
        config.get("stream_name").and_then(Value::as_str) == Some(stream.as_str())
            && wants("group_id", Some(&group))
            && wants("item_id", item.as_deref())
    });
}
