//! The test double that stands in for an engine: it answers the calls a
//! worker makes from canned answers, serves the engine's state, stream,
//! publish and log functions from memory, and records all of it.
//!
//! [`crate::invoke`] hands it every outgoing invocation of a worker made by
//! [`super::TestContext`] (the one place where calls, publishes, log lines,
//! state and stream operations all pass), before any session is looked at.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use iii_protocol::TriggerAction;
use iii_protocol::update::{Op, apply};
use serde::Deserialize;
use serde_json::{Value, json};

use super::records::{
    Call, CallKind, Event, LogLine, Published, StateWrite, StreamWrite, WriteKind,
};
use crate::error::{Error, ErrorBody, codes};
use crate::sync::lock;
use crate::trigger::log_level::LogLevel;

/// One outgoing invocation, as it would have gone to the engine.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) function_id: String,
    pub(crate) payload: Value,
    pub(crate) action: Option<TriggerAction>,
    pub(crate) metadata: Option<Value>,
    pub(crate) namespace: Option<String>,
    pub(crate) traceparent: Option<String>,
}

/// A canned answer: what a call to one function returns.
#[derive(Clone)]
pub(crate) enum Answer {
    /// This value.
    Value(Value),
    /// What the closure makes of the call's input.
    With(Arc<dyn Fn(Value) -> Result<Value, Error> + Send + Sync>),
    /// This error, as the callee would report it.
    Fail(ErrorBody),
}

/// Everything the double holds, under one lock (never held while a
/// canned closure runs).
#[derive(Default)]
struct Book {
    answers: HashMap<String, Answer>,
    events: Vec<Event>,
    /// scope -> key -> value.
    state: BTreeMap<String, BTreeMap<String, Value>>,
    /// stream -> group -> items, in the order first stored.
    streams: BTreeMap<String, BTreeMap<String, Vec<(String, Value)>>>,
    receipts: u64,
}

/// The engine a [`super::TestContext`]'s worker talks to.
#[derive(Default)]
pub(crate) struct Double {
    book: Mutex<Book>,
}

impl std::fmt::Debug for Double {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let book = lock(&self.book);
        f.debug_struct("Double")
            .field("answers", &book.answers.keys().collect::<Vec<_>>())
            .field("events", &book.events.len())
            .finish()
    }
}

/// The error the caller of `function_id` gets for `body`, as from an engine.
fn remote(function_id: &str, body: ErrorBody) -> Error {
    Error::Remote {
        function_id: function_id.to_string(),
        body,
    }
}

/// Decodes the input of a built-in, which the SDK itself encoded.
fn input<T: serde::de::DeserializeOwned>(function_id: &str, payload: Value) -> Result<T, Error> {
    serde_json::from_value(payload).map_err(|e| {
        remote(
            function_id,
            ErrorBody::new(codes::DESERIALIZATION_ERROR, e.to_string()),
        )
    })
}

#[derive(Deserialize)]
struct Publication {
    topic: String,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
struct StateKey {
    #[serde(default)]
    scope: String,
    #[serde(default)]
    key: String,
    #[serde(default, alias = "data")]
    value: Value,
    #[serde(default)]
    ops: Vec<Value>,
}

#[derive(Deserialize)]
struct StreamKey {
    stream_name: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    item_id: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    ops: Vec<Value>,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
}

/// Applies update operations in order, as the engine does: a failing one
/// is skipped and reported by its index.
fn apply_ops(value: &mut Value, ops: Vec<Value>) -> Vec<Value> {
    let mut errors = Vec::new();
    for (index, op) in ops.into_iter().enumerate() {
        let outcome = serde_json::from_value::<Op>(op)
            .map_err(|e| e.to_string())
            .and_then(|op| apply(value, op));
        if let Err(message) = outcome {
            errors.push(json!({"op_index": index, "code": "UPDATE_OP_FAILED", "message": message}));
        }
    }
    errors
}

impl Double {
    /// Sets the answer to calls of `function_id`.
    pub(crate) fn set_answer(&self, function_id: &str, answer: Answer) {
        lock(&self.book)
            .answers
            .insert(function_id.to_string(), answer);
    }

    /// Everything recorded, in order.
    pub(crate) fn events(&self) -> Vec<Event> {
        lock(&self.book).events.clone()
    }

    /// Forgets what was recorded (answers and stored values stay).
    pub(crate) fn clear(&self) {
        lock(&self.book).events.clear();
    }

    /// The stored state value at `scope`/`key`.
    pub(crate) fn state(&self, scope: &str, key: &str) -> Option<Value> {
        lock(&self.book).state.get(scope)?.get(key).cloned()
    }

    /// Stores a state value without recording a write.
    pub(crate) fn seed_state(&self, scope: &str, key: &str, value: Value) {
        lock(&self.book)
            .state
            .entry(scope.to_string())
            .or_default()
            .insert(key.to_string(), value);
    }

    /// The stored stream item.
    pub(crate) fn stream_item(&self, stream: &str, group: &str, item: &str) -> Option<Value> {
        let book = lock(&self.book);
        let items = book.streams.get(stream)?.get(group)?;
        items
            .iter()
            .find(|(id, _)| id == item)
            .map(|(_, v)| v.clone())
    }

    /// Stores a stream item without recording a write.
    pub(crate) fn seed_stream(&self, stream: &str, group: &str, item: &str, value: Value) {
        let mut book = lock(&self.book);
        store_item(&mut book, stream, group, item, value);
    }

    /// Answers one outgoing invocation and records it.
    pub(crate) fn answer(self: Arc<Self>, call: Outgoing) -> Result<Value, Error> {
        let canned = lock(&self.book).answers.get(&call.function_id).cloned();
        if canned.is_none()
            && let Some(answer) = self.builtin(&call)
        {
            return answer;
        }
        let kind = match &call.action {
            None => CallKind::Call,
            Some(TriggerAction::Void) => CallKind::Void,
            Some(TriggerAction::Enqueue { queue }) => CallKind::Enqueue {
                queue: queue.clone(),
            },
        };
        let function_id = call.function_id.clone();
        let payload = call.payload.clone();
        {
            let mut book = lock(&self.book);
            book.events.push(Event::Call(Call {
                function_id: call.function_id,
                input: call.payload,
                kind: kind.clone(),
                metadata: call.metadata,
                namespace: call.namespace,
                traceparent: call.traceparent,
            }));
            match &kind {
                // The caller learns nothing of the callee: recorded only.
                CallKind::Void => return Ok(Value::Null),
                CallKind::Enqueue { .. } => {
                    book.receipts += 1;
                    return Ok(
                        json!({"messageReceiptId": format!("test-receipt-{}", book.receipts)}),
                    );
                }
                CallKind::Call => {}
            }
        }
        match canned {
            Some(Answer::Value(value)) => Ok(value),
            Some(Answer::Fail(body)) => Err(remote(&function_id, body)),
            Some(Answer::With(f)) => f(payload).map_err(|e| remote(&function_id, e.to_body())),
            None => Err(remote(&function_id, unanswered(&function_id))),
        }
    }

    /// The engine's own functions served from memory: log lines,
    /// publishes, state and streams. `None` for any other function.
    fn builtin(&self, call: &Outgoing) -> Option<Result<Value, Error>> {
        let id = call.function_id.as_str();
        let payload = call.payload.clone();
        if let Some(level) = id.strip_prefix("engine::log::") {
            let level = match level {
                "trace" => LogLevel::Trace,
                "debug" => LogLevel::Debug,
                "info" => LogLevel::Info,
                "warn" => LogLevel::Warn,
                "error" => LogLevel::Error,
                _ => return None,
            };
            let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_string);
            let line = LogLine {
                level,
                message: text("message").unwrap_or_default(),
                data: payload.get("data").cloned(),
                trace_id: text("trace_id"),
                span_id: text("span_id"),
            };
            lock(&self.book).events.push(Event::Log(line));
            return Some(Ok(Value::Null));
        }
        let durable = match id {
            "publish" => Some(false),
            "iii::durable::publish" => Some(true),
            _ => None,
        };
        if let Some(durable) = durable {
            return Some(input::<Publication>(id, payload).map(|p| {
                lock(&self.book).events.push(Event::Published(Published {
                    topic: p.topic,
                    data: p.data,
                    durable,
                }));
                Value::Null
            }));
        }
        if id.starts_with("state::") {
            let key = match input::<StateKey>(id, payload) {
                Ok(key) => key,
                Err(e) => return Some(Err(e)),
            };
            return self.state_call(id, key).map(Ok);
        }
        if id == "stream::list_all" {
            let book = lock(&self.book);
            let all: Vec<Value> = book
                .streams
                .iter()
                .map(|(name, groups)| json!({"id": name, "groups": groups.keys().collect::<Vec<_>>()}))
                .collect();
            return Some(Ok(json!({"stream": all})));
        }
        if id.starts_with("stream::") {
            let key = match input::<StreamKey>(id, payload) {
                Ok(key) => key,
                Err(e) => return Some(Err(e)),
            };
            return self.stream_call(id, key).map(Ok);
        }
        None
    }

    fn state_call(&self, id: &str, k: StateKey) -> Option<Value> {
        let mut book = lock(&self.book);
        let write = |kind, value: Option<&Value>| {
            Event::StateWrite(StateWrite {
                kind,
                scope: k.scope.clone(),
                key: k.key.clone(),
                value: value.cloned(),
            })
        };
        let answer = match id {
            "state::get" => book
                .state
                .get(&k.scope)
                .and_then(|s| s.get(&k.key))
                .cloned()
                .unwrap_or(Value::Null),
            "state::set" => {
                let event = write(WriteKind::Set, Some(&k.value));
                let scope = book.state.entry(k.scope.clone()).or_default();
                let old = scope.insert(k.key.clone(), k.value.clone());
                book.events.push(event);
                json!({"old_value": old, "new_value": k.value})
            }
            "state::delete" => {
                let old = book.state.get_mut(&k.scope).and_then(|s| s.remove(&k.key));
                book.events.push(write(WriteKind::Delete, None));
                old.unwrap_or(Value::Null)
            }
            "state::update" => {
                let scope = book.state.entry(k.scope.clone()).or_default();
                let old = scope.get(&k.key).cloned();
                let mut value = old.clone().unwrap_or(Value::Null);
                let errors = apply_ops(&mut value, k.ops.clone());
                scope.insert(k.key.clone(), value.clone());
                book.events.push(write(WriteKind::Update, Some(&value)));
                json!({"old_value": old, "new_value": value, "errors": errors})
            }
            "state::list" => Value::Array(
                book.state
                    .get(&k.scope)
                    .map(|s| s.values().cloned().collect())
                    .unwrap_or_default(),
            ),
            "state::list_groups" => json!({"groups": book.state.keys().collect::<Vec<_>>()}),
            _ => return None,
        };
        Some(answer)
    }

    fn stream_call(&self, id: &str, k: StreamKey) -> Option<Value> {
        let mut book = lock(&self.book);
        let write = |kind, item: Option<String>, value: Option<&Value>| {
            Event::StreamWrite(StreamWrite {
                kind,
                stream: k.stream_name.clone(),
                group: k.group_id.clone(),
                item,
                value: value.cloned(),
            })
        };
        let find = |book: &Book| {
            book.streams
                .get(&k.stream_name)
                .and_then(|s| s.get(&k.group_id))
                .and_then(|g| g.iter().find(|(id, _)| *id == k.item_id))
                .map(|(_, v)| v.clone())
        };
        let answer = match id {
            "stream::get" => find(&book).unwrap_or(Value::Null),
            "stream::set" => {
                let old = find(&book);
                store_item(
                    &mut book,
                    &k.stream_name,
                    &k.group_id,
                    &k.item_id,
                    k.data.clone(),
                );
                let event = write(WriteKind::Set, Some(k.item_id.clone()), Some(&k.data));
                book.events.push(event);
                json!({"old_value": old, "new_value": k.data})
            }
            "stream::delete" => {
                let old = book
                    .streams
                    .get_mut(&k.stream_name)
                    .and_then(|s| s.get_mut(&k.group_id))
                    .and_then(|g| {
                        let at = g.iter().position(|(id, _)| *id == k.item_id)?;
                        Some(g.remove(at).1)
                    });
                book.events
                    .push(write(WriteKind::Delete, Some(k.item_id.clone()), None));
                match old {
                    Some(old) => json!({"old_value": old}),
                    None => Value::Null,
                }
            }
            "stream::update" => {
                let old = find(&book);
                let mut value = old.clone().unwrap_or_else(|| json!({}));
                let errors = apply_ops(&mut value, k.ops.clone());
                store_item(
                    &mut book,
                    &k.stream_name,
                    &k.group_id,
                    &k.item_id,
                    value.clone(),
                );
                let event = write(WriteKind::Update, Some(k.item_id.clone()), Some(&value));
                book.events.push(event);
                json!({"old_value": old, "new_value": value, "errors": errors})
            }
            "stream::list" => Value::Array(
                book.streams
                    .get(&k.stream_name)
                    .and_then(|s| s.get(&k.group_id))
                    .map(|g| g.iter().map(|(_, v)| v.clone()).collect())
                    .unwrap_or_default(),
            ),
            "stream::list_groups" => json!(
                book.streams
                    .get(&k.stream_name)
                    .map(|s| s.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
            ),
            "stream::send" => {
                let kind = WriteKind::Send {
                    event_type: k.kind.clone(),
                };
                book.events.push(write(kind, k.id.clone(), Some(&k.data)));
                Value::Null
            }
            _ => return None,
        };
        Some(answer)
    }
}

/// Stores `value` as `item` of `group`, in place if it is there.
fn store_item(book: &mut Book, stream: &str, group: &str, item: &str, value: Value) {
    let items = book
        .streams
        .entry(stream.to_string())
        .or_default()
        .entry(group.to_string())
        .or_default();
    match items.iter_mut().find(|(id, _)| id == item) {
        Some((_, slot)) => *slot = value,
        None => items.push((item.to_string(), value)),
    }
}

/// What a call with no canned answer fails with: the engine's code for a
/// function it does not know, and how to give the test one.
fn unanswered(function_id: &str) -> ErrorBody {
    let mut message = format!(
        "`{function_id}` was called, but this TestContext has no answer for it; give one before running the handler: \
         `kit.answer(\"{function_id}\", &value)`, `kit.answer_with(\"{function_id}\", |input| ..)` or \
         `kit.fail(\"{function_id}\", error)`"
    );
    if function_id.starts_with("engine::channels::") {
        message
            .push_str(" (channels need an engine: test this handler with `iii::testing::Harness`)");
    }
    ErrorBody::new(codes::FUNCTION_NOT_FOUND, message)
}
