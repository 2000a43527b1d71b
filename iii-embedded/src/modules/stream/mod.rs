//! `stream::*`, as the engine's stream module serves it: items grouped in
//! named streams, kept in memory ([`store`]) or by a worker's custom
//! storage ([`storage`]), firing `stream` triggers with the engine's
//! camelCase payload on every change ([`functions`]). `stream:join` and
//! `stream:leave` bindings are taken, but never fire: there is no stream
//! socket for browser clients.

mod functions;
mod storage;
mod store;

use std::sync::{Arc, Mutex, MutexGuard};

use iii_protocol::{RegisterTrigger, TriggerKind};
use serde_json::{Value, json};

use crate::clock::now_ms;
use crate::core::{Core, EngineModule, Function, TriggerType, config_text, type_id};
use store::Store;

/// The stream module.
#[derive(Default)]
pub(crate) struct Streams {
    store: Mutex<Store>,
}

impl EngineModule for Streams {
    fn name(&self) -> &'static str {
        "iii-stream"
    }

    fn functions(self: Arc<Self>) -> Vec<Function> {
        vec![
            Function::waits("stream::get", &self, Streams::get),
            Function::waits("stream::set", &self, Streams::set),
            Function::waits("stream::delete", &self, Streams::delete),
            Function::waits("stream::update", &self, Streams::update),
            Function::waits("stream::list", &self, Streams::list),
            Function::waits("stream::list_groups", &self, Streams::list_groups),
            Function::now("stream::list_all", &self, Streams::list_all),
            Function::now("stream::send", &self, Streams::send),
        ]
    }

    fn trigger_types(self: Arc<Self>) -> Vec<TriggerType> {
        vec![
            TriggerType::new(TriggerKind::Stream).checked(check),
            TriggerType::new(TriggerKind::StreamJoin),
            TriggerType::new(TriggerKind::StreamLeave),
        ]
    }
}

impl Streams {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A `stream` binding needs a stream's name. (The engine panics on one
/// without, leaving the worker's connection half dead; refuse it instead.)
fn check(binding: &RegisterTrigger) -> Result<(), String> {
    match config_text(binding, "stream_name") {
        Some(_) => Ok(()),
        None => Err("stream_name is required for stream triggers".into()),
    }
}

/// Fires the `stream` bindings whose filters match.
fn fire(core: &Arc<Core>, stream: &str, group: &str, item: Option<&str>, event: Value) {
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
    core.fire(type_id(TriggerKind::Stream), payload, move |config| {
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
