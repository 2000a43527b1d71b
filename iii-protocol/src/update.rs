//! The update operations of `state::update` and `stream::update`, applied
//! to a JSON value as the engine applies them.
//!
//! ```
//! use iii_protocol::update::{Op, apply};
//! let mut value = serde_json::json!({"n": 1});
//! let op: Op = serde_json::from_value(serde_json::json!({"type": "increment", "path": "n", "by": 2})).unwrap();
//! apply(&mut value, op).unwrap();
//! assert_eq!(value, serde_json::json!({"n": 3}));
//! ```

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Where an operation applies: one top-level key (`""` is the whole
/// value), or nested keys, outermost first.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Path {
    /// One key.
    One(String),
    /// Nested keys, outermost first.
    Segments(Vec<String>),
}

impl Path {
    /// The keys, outermost first.
    pub fn segments(&self) -> Vec<String> {
        match self {
            Path::One(key) if key.is_empty() => Vec::new(),
            Path::One(key) => vec![key.clone()],
            Path::Segments(s) => s.clone(),
        }
    }
}

/// One update operation, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// Sets the value at `path`.
    Set {
        /// Where.
        path: Path,
        /// The new value (absent means `null`).
        #[serde(default)]
        value: Value,
    },
    /// Shallow-merges an object into `path` (the whole value when absent).
    Merge {
        /// Where.
        path: Option<Path>,
        /// An object.
        value: Value,
    },
    /// Adds `by` to the integer at `path` (a missing one counts as 0).
    Increment {
        /// Where.
        path: Path,
        /// How much.
        by: i64,
    },
    /// Subtracts `by` from the integer at `path`.
    Decrement {
        /// Where.
        path: Path,
        /// How much.
        by: i64,
    },
    /// Appends to the array or string at `path`; a missing value becomes
    /// the string appended, or an array holding the value appended.
    Append {
        /// Where (the whole value when absent).
        path: Option<Path>,
        /// What.
        value: Value,
    },
    /// Removes the key at `path`.
    Remove {
        /// Where.
        path: Path,
    },
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

/// Applies one operation to `value`; an error says why it did not apply
/// (and leaves `value` as it was).
pub fn apply(value: &mut Value, op: Op) -> Result<(), String> {
    match op {
        Op::Set { path, value: v } => *slot(value, &path.segments()) = v,
        Op::Merge { path, value: v } => {
            let Value::Object(incoming) = v else {
                return Err("merge needs an object value".into());
            };
            let target = slot(value, &path.map(|p| p.segments()).unwrap_or_default());
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(map) = target {
                map.extend(incoming);
            }
        }
        Op::Increment { path, by } => add(slot(value, &path.segments()), by)?,
        Op::Decrement { path, by } => add(slot(value, &path.segments()), by.saturating_neg())?,
        Op::Append { path, value: v } => {
            let target = slot(value, &path.map(|p| p.segments()).unwrap_or_default());
            match (target, v) {
                (t @ Value::Null, v @ Value::String(_)) => *t = v,
                (t @ Value::Null, v) => *t = json!([v]),
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
    fn append_wraps_non_strings_and_nested_paths_create_objects() {
        let mut value = Value::Null;
        for op in ops(json!([
            {"type":"append","path":["a","list"],"value":1},
            {"type":"append","path":["a","list"],"value":2},
            {"type":"decrement","path":"count","by":2}
        ])) {
            apply(&mut value, op).expect("op");
        }
        assert_eq!(value, json!({"a": {"list": [1, 2]}, "count": -2}));
        let bad = ops(json!([{"type":"increment","path":"a","by":1}])).remove(0);
        assert!(apply(&mut value, bad).is_err());
        let not_object = ops(json!([{"type":"merge","value":3}])).remove(0);
        let before = value.clone();
        assert!(apply(&mut value, not_object).is_err());
        assert_eq!(value, before, "a failed op changes nothing");
    }
}
