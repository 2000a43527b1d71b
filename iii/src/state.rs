//! The engine's key-value state (`state::*`), scoped by a name.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::Error;
use crate::worker::Worker;

/// What a `state` trigger delivers: which key of which scope changed, and
/// its values before and after, decoded as `T`.
///
/// ```
/// use iii::state::{StateEvent, StateEventKind};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema, Debug, PartialEq)]
/// struct Cart { items: u32 }
///
/// // #[iii::function]
/// // #[iii::trigger(state, scope = "carts")]
/// async fn on_cart(event: StateEvent<Cart>) {
///     if event.kind == StateEventKind::Deleted { /* ... */ }
/// }
///
/// let event: StateEvent<Cart> = serde_json::from_value(serde_json::json!({
///     "type": "state", "event_type": "state:updated", "scope": "carts", "key": "ada",
///     "old_value": {"items": 1}, "new_value": {"items": 2}
/// })).unwrap();
/// assert_eq!(event.kind, StateEventKind::Updated);
/// assert_eq!(event.new_value, Some(Cart { items: 2 }));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StateEvent<T = Value> {
    /// Created, updated or deleted.
    #[serde(rename = "event_type")]
    pub kind: StateEventKind,
    /// The scope of the key.
    pub scope: String,
    /// The key that changed.
    pub key: String,
    /// The value before (`None` when the key was created).
    pub old_value: Option<T>,
    /// The value after (`None` when the key was deleted).
    pub new_value: Option<T>,
}

/// How a key changed, in a [`StateEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum StateEventKind {
    /// The key was set where it had no value.
    #[serde(rename = "state:created")]
    Created,
    /// The key's value was replaced or updated.
    #[serde(rename = "state:updated")]
    Updated,
    /// The key was deleted.
    #[serde(rename = "state:deleted")]
    Deleted,
}

/// One atomic change of [`State::update`], applied in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UpdateOp {
    /// Set `path` to `value`.
    Set {
        /// Dotted path or top-level key.
        path: String,
        /// New value.
        value: Value,
    },
    /// Shallow-merge an object into `path` (the root when absent).
    Merge {
        /// Path; absent means the whole value.
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// Object to merge.
        value: Value,
    },
    /// Add `by` to the number at `path`.
    Increment {
        /// Path of a number.
        path: String,
        /// Amount.
        by: i64,
    },
    /// Subtract `by` from the number at `path`.
    Decrement {
        /// Path of a number.
        path: String,
        /// Amount.
        by: i64,
    },
    /// Append to the array (or string) at `path`.
    Append {
        /// Path; absent means the whole value.
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// Value to append.
        value: Value,
    },
    /// Remove the key at `path`.
    Remove {
        /// Path to remove.
        path: String,
    },
}

/// What a write returns: the value before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change<T = Value> {
    /// The value before the write (`None` if there was none).
    pub old_value: Option<T>,
    /// The value after the write.
    pub new_value: Option<T>,
    /// Per-operation errors of an update, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Value>,
}

/// State client; get one from [`Worker::state`].
///
/// ```no_run
/// # async fn f(worker: iii::Worker) -> Result<(), iii::Error> {
/// use iii::state::UpdateOp;
/// let state = worker.state();
/// state.set("users", "ada", &serde_json::json!({"visits": 1})).await?;
/// state.update("users", "ada", vec![UpdateOp::Increment { path: "visits".into(), by: 1 }]).await?;
/// let ada: Option<serde_json::Value> = state.get("users", "ada").await?;
/// assert_eq!(ada.unwrap()["visits"], 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct State {
    worker: Worker,
}

impl Worker {
    /// The engine's key-value state.
    pub fn state(&self) -> State {
        State {
            worker: self.clone(),
        }
    }
}

impl State {
    async fn call<T: DeserializeOwned + 'static>(
        &self,
        function_id: &str,
        data: Value,
    ) -> Result<T, Error> {
        self.worker.invoke(function_id).data(data).call().await
    }

    /// The value at `scope`/`key`, or `None`.
    pub async fn get<T: DeserializeOwned + 'static>(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<T>, Error> {
        self.call("state::get", json!({"scope": scope, "key": key}))
            .await
    }

    /// Stores `value`; returns the previous and new values.
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        scope: &str,
        key: &str,
        value: &T,
    ) -> Result<Change, Error> {
        let value = serde_json::to_value(value).map_err(|source| Error::Encode {
            what: format!("the state value for `{scope}`/`{key}`"),
            source,
        })?;
        self.call(
            "state::set",
            json!({"scope": scope, "key": key, "value": value}),
        )
        .await
    }

    /// Deletes the value; returns what was stored, if anything.
    pub async fn delete<T: DeserializeOwned + 'static>(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<T>, Error> {
        self.call("state::delete", json!({"scope": scope, "key": key}))
            .await
    }

    /// Applies `ops` atomically (a missing key starts as `null`).
    pub async fn update(
        &self,
        scope: &str,
        key: &str,
        ops: Vec<UpdateOp>,
    ) -> Result<Change, Error> {
        self.call(
            "state::update",
            json!({"scope": scope, "key": key, "ops": ops}),
        )
        .await
    }

    /// Every value in `scope` (without keys).
    pub async fn list<T: DeserializeOwned + 'static>(&self, scope: &str) -> Result<Vec<T>, Error> {
        let values: Option<Vec<T>> = self.call("state::list", json!({"scope": scope})).await?;
        Ok(values.unwrap_or_default())
    }

    /// The names of all scopes, sorted.
    pub async fn list_groups(&self) -> Result<Vec<String>, Error> {
        #[derive(Deserialize)]
        struct Groups {
            #[serde(default)]
            groups: Vec<String>,
        }
        let groups: Groups = self.call("state::list_groups", json!({})).await?;
        Ok(groups.groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_ops_match_the_engine_shape() {
        let ops = vec![
            UpdateOp::Increment {
                path: "n".into(),
                by: 5,
            },
            UpdateOp::Merge {
                path: None,
                value: json!({"a":1}),
            },
            UpdateOp::Remove { path: "x".into() },
        ];
        assert_eq!(
            serde_json::to_value(ops).expect("json"),
            json!([{"type":"increment","path":"n","by":5},{"type":"merge","value":{"a":1}},{"type":"remove","path":"x"}])
        );
    }
}
