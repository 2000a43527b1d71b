//! The `stream::*` built-ins: each reads or writes the stream's custom
//! storage when a worker provides one, else the in-memory store, and a
//! write fires the `stream` bindings.

use std::sync::Arc;

use iii_protocol::update::Op;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::storage::{Custom, Deleted, Written};
use super::{Streams, fire};
use crate::core::{Core, Outcome, input};

/// `{stream_name, group_id, item_id}`.
#[derive(Deserialize, Serialize)]
pub(super) struct Item {
    stream_name: String,
    group_id: String,
    item_id: String,
}

/// `{stream_name, group_id, item_id, data}`.
#[derive(Deserialize, Serialize)]
pub(super) struct Set {
    stream_name: String,
    group_id: String,
    item_id: String,
    data: Value,
}

/// `{stream_name, group_id}`.
#[derive(Deserialize, Serialize)]
pub(super) struct GroupKey {
    stream_name: String,
    group_id: String,
}

/// `{stream_name}`.
#[derive(Deserialize, Serialize)]
pub(super) struct StreamKey {
    stream_name: String,
}

/// `{stream_name, group_id, item_id, ops}`; the ops are decoded apart, as
/// a custom storage receives them as they came.
#[derive(Deserialize)]
pub(super) struct Update {
    stream_name: String,
    group_id: String,
    item_id: String,
    ops: Vec<Value>,
}

/// `{stream_name, group_id, type, data, id?}`.
#[derive(Deserialize)]
pub(super) struct Send {
    stream_name: String,
    group_id: String,
    #[serde(rename = "type")]
    kind: String,
    data: Value,
    #[serde(default)]
    id: Option<String>,
}

/// A function's input as a custom storage receives it: its known fields
/// only.
fn forwarded(input: &impl Serialize) -> Value {
    serde_json::to_value(input).unwrap_or(Value::Null)
}

/// `create` when there was no value before (or it was null), else `update`.
fn change_event(old: &Option<Value>, new: &Value) -> Value {
    let kind = match old {
        None | Some(Value::Null) => "create",
        Some(_) => "update",
    };
    json!({"type": kind, "data": new})
}

impl Streams {
    /// `stream::get`: the value itself, or `null`.
    pub(super) async fn get(self: Arc<Self>, core: Arc<Core>, i: Item) -> Outcome {
        if let Some(custom) = Custom::find(&core, "get", &i.stream_name) {
            return custom.call(&core, forwarded(&i)).await;
        }
        let value = self.store().get(&i.stream_name, &i.group_id, &i.item_id);
        Ok(value.unwrap_or(Value::Null))
    }

    /// `stream::set`: `{old_value, new_value}`.
    pub(super) async fn set(self: Arc<Self>, core: Arc<Core>, i: Set) -> Outcome {
        let written = match Custom::find(&core, "set", &i.stream_name) {
            Some(custom) => {
                custom
                    .write::<Written>(&core, forwarded(&i), "STREAM_SET_ERROR")
                    .await?
            }
            None => {
                let old = self
                    .store()
                    .set(&i.stream_name, &i.group_id, &i.item_id, i.data.clone());
                Written {
                    old_value: old,
                    new_value: i.data,
                    errors: None,
                }
            }
        };
        let event = change_event(&written.old_value, &written.new_value);
        fire(&core, &i.stream_name, &i.group_id, Some(&i.item_id), event);
        Ok(json!({"old_value": written.old_value, "new_value": written.new_value}))
    }

    /// `stream::delete`: `{old_value}`.
    pub(super) async fn delete(self: Arc<Self>, core: Arc<Core>, i: Item) -> Outcome {
        let old = match Custom::find(&core, "delete", &i.stream_name) {
            Some(custom) => {
                custom
                    .write::<Deleted>(&core, forwarded(&i), "STREAM_DELETE_ERROR")
                    .await?
                    .old_value
            }
            None => self.store().delete(&i.stream_name, &i.group_id, &i.item_id),
        };
        if let Some(old) = old.as_ref().filter(|v| !v.is_null()) {
            let event = json!({"type": "delete", "data": old});
            fire(&core, &i.stream_name, &i.group_id, Some(&i.item_id), event);
        }
        Ok(json!({"old_value": old}))
    }

    /// `stream::list`: a group's values, in insertion order.
    pub(super) async fn list(self: Arc<Self>, core: Arc<Core>, i: GroupKey) -> Outcome {
        if let Some(custom) = Custom::find(&core, "list", &i.stream_name) {
            return custom.call(&core, forwarded(&i)).await;
        }
        Ok(Value::Array(self.store().list(&i.stream_name, &i.group_id)))
    }

    /// `stream::list_groups`: a bare array of a stream's groups.
    pub(super) async fn list_groups(self: Arc<Self>, core: Arc<Core>, i: StreamKey) -> Outcome {
        if let Some(custom) = Custom::find(&core, "list_groups", &i.stream_name) {
            return custom.call(&core, forwarded(&i)).await;
        }
        Ok(json!(self.store().groups(&i.stream_name)))
    }

    /// `stream::list_all`: every stream with its groups.
    pub(super) fn list_all(&self, _: &Arc<Core>, _: Value) -> Outcome {
        Ok(self.store().all())
    }

    /// `stream::update`: `{old_value, new_value, errors?}`.
    pub(super) async fn update(self: Arc<Self>, core: Arc<Core>, i: Update) -> Outcome {
        let ops: Vec<Op> = input("stream::update", Value::Array(i.ops.clone()))?;
        let written = match Custom::find(&core, "update", &i.stream_name) {
            Some(custom) => {
                let forwarded = json!({"stream_name": i.stream_name, "group_id": i.group_id, "item_id": i.item_id, "ops": i.ops});
                custom
                    .write::<Written>(&core, forwarded, "STREAM_UPDATE_ERROR")
                    .await?
            }
            None => {
                let (old, value, errors) =
                    self.store()
                        .update(&i.stream_name, &i.group_id, &i.item_id, ops);
                Written {
                    old_value: old,
                    new_value: value,
                    errors: (!errors.is_empty()).then_some(Value::Array(errors)),
                }
            }
        };
        let event = change_event(&written.old_value, &written.new_value);
        fire(&core, &i.stream_name, &i.group_id, Some(&i.item_id), event);
        let mut out = json!({"old_value": written.old_value, "new_value": written.new_value});
        if let Some(errors) = written.errors {
            out["errors"] = errors;
        }
        Ok(out)
    }

    /// `stream::send`: an event to the stream's bindings, not stored.
    pub(super) fn send(&self, core: &Arc<Core>, i: Send) -> Outcome {
        let event = json!({"type": "event", "event": {"type": i.kind, "data": i.data}});
        fire(core, &i.stream_name, &i.group_id, i.id.as_deref(), event);
        Ok(Value::Null)
    }
}
