//! Update operations applied to a stored value, as `state::update` and
//! `stream::update` apply them.

use iii_protocol::update::{Op, apply};
use serde_json::{Value, json};

/// Applies `ops` to `value` in order; a failing one is skipped and
/// reported as the engine reports it, by its index.
pub(super) fn apply_ops(value: &mut Value, ops: Vec<Op>) -> Vec<Value> {
    let mut errors = Vec::new();
    for (index, op) in ops.into_iter().enumerate() {
        if let Err(message) = apply(value, op) {
            errors.push(json!({"op_index": index, "code": "UPDATE_OP_FAILED", "message": message}));
        }
    }
    errors
}
