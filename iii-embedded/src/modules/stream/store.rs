//! The streams kept in memory: name → group → item, each item with its
//! insertion order, as the engine's in-memory adapter keeps them.

use std::collections::BTreeMap;

use iii_protocol::update::Op;
use serde_json::{Value, json};

use super::super::update_ops::apply_ops;

/// Every stream. Groups whose items were all deleted stay listed, as in
/// the engine.
#[derive(Default)]
pub(super) struct Store {
    streams: BTreeMap<String, BTreeMap<String, Group>>,
    /// The insertion order given last.
    next: u64,
}

/// One group's items: item id → (insertion order, value).
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

    /// Stores `value` under `item`, keeping its place when it was there;
    /// returns the old value.
    fn put(&mut self, item: &str, value: Value, seq: u64) -> Option<Value> {
        let seq = self.items.get(item).map_or(seq, |(s, _)| *s);
        self.items
            .insert(item.to_string(), (seq, value))
            .map(|(_, old)| old)
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

    /// An item's value.
    pub(super) fn get(&self, stream: &str, group: &str, item: &str) -> Option<Value> {
        self.streams
            .get(stream)
            .and_then(|s| s.get(group))
            .and_then(|g| g.items.get(item))
            .map(|(_, v)| v.clone())
    }

    /// Sets an item; returns its old value.
    pub(super) fn set(
        &mut self,
        stream: &str,
        group: &str,
        item: &str,
        value: Value,
    ) -> Option<Value> {
        let seq = self.next_seq();
        self.group(stream, group).put(item, value, seq)
    }

    /// Applies `ops` to an item (a missing one starts as an empty
    /// object); returns its old value, its new one, and the failed ops.
    pub(super) fn update(
        &mut self,
        stream: &str,
        group: &str,
        item: &str,
        ops: Vec<Op>,
    ) -> (Option<Value>, Value, Vec<Value>) {
        let seq = self.next_seq();
        let group = self.group(stream, group);
        let old = group.items.get(item).map(|(_, v)| v.clone());
        let mut value = old.clone().unwrap_or_else(|| json!({}));
        let errors = apply_ops(&mut value, ops);
        group.put(item, value.clone(), seq);
        (old, value, errors)
    }

    /// Deletes an item; returns its old value.
    pub(super) fn delete(&mut self, stream: &str, group: &str, item: &str) -> Option<Value> {
        self.streams
            .get_mut(stream)
            .and_then(|s| s.get_mut(group))
            .and_then(|g| g.items.remove(item))
            .map(|(_, v)| v)
    }

    /// A group's values, in insertion order.
    pub(super) fn list(&self, stream: &str, group: &str) -> Vec<Value> {
        self.streams
            .get(stream)
            .and_then(|s| s.get(group))
            .map(Group::values)
            .unwrap_or_default()
    }

    /// A stream's groups.
    pub(super) fn groups(&self, stream: &str) -> Vec<String> {
        self.streams
            .get(stream)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every stream with its groups, as `stream::list_all` answers.
    pub(super) fn all(&self) -> Value {
        let streams: Vec<Value> = self
            .streams
            .iter()
            .map(|(name, groups)| json!({"id": name, "groups": groups.keys().collect::<Vec<_>>()}))
            .collect();
        json!({"count": streams.len(), "stream": streams})
    }
}
