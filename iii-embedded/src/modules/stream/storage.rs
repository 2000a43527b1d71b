//! A stream's custom storage: a worker's `stream::<op>(<stream>)`
//! functions in `default`, which the built-ins call instead of the
//! in-memory store when they exist, and their answers checked as the
//! engine checks them.

use std::sync::Arc;

use iii_protocol::{DEFAULT_NAMESPACE, ErrorBody};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::core::{Core, Outcome};

/// `{old_value?, new_value, errors?}`: what set and update answer, and what
/// a custom storage's set and update must answer.
#[derive(Deserialize)]
pub(super) struct Written {
    #[serde(default)]
    pub(super) old_value: Option<Value>,
    pub(super) new_value: Value,
    #[serde(default)]
    pub(super) errors: Option<Value>,
}

/// `{old_value?}`: what delete answers.
#[derive(Deserialize)]
pub(super) struct Deleted {
    #[serde(default)]
    pub(super) old_value: Option<Value>,
}

/// The worker function that stores a stream for one op.
pub(super) struct Custom {
    function_id: String,
    op: &'static str,
}

impl Custom {
    /// `stream::<op>(<stream>)`, if a worker serves it.
    pub(super) fn find(core: &Core, op: &'static str, stream: &str) -> Option<Custom> {
        let function_id = format!("stream::{op}({stream})");
        core.has_function(DEFAULT_NAMESPACE, &function_id)
            .then_some(Custom { function_id, op })
    }

    /// Calls it with `input`; its answer as it is.
    pub(super) async fn call(&self, core: &Arc<Core>, input: Value) -> Outcome {
        core.invoke(DEFAULT_NAMESPACE, &self.function_id, input, None)
            .await
    }

    /// Calls it for a write (set, update or delete), its answer checked;
    /// a failure has `code`.
    pub(super) async fn write<T: DeserializeOwned>(
        &self,
        core: &Arc<Core>,
        input: Value,
        code: &str,
    ) -> Result<T, ErrorBody> {
        let failed =
            |why: String| ErrorBody::new(code, format!("Failed to {} value: {why}", self.op));
        match self.call(core, input).await {
            Err(error) => Err(failed(error.to_string())),
            Ok(Value::Null) => Err(failed("Function returned no result".into())),
            Ok(value) => serde_json::from_value(value)
                .map_err(|e| ErrorBody::new("JSON_ERROR", e.to_string())),
        }
    }
}
