//! `invocationresult` as a caller reads it: the value in the shape the
//! call's caller asked for.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use uuid::Uuid;

use super::{ResultValue, Shape, once};
use crate::{ErrorBody, InvocationResult, RawJson};

/// `invocationresult` as the caller of the call reads it: the fields of
/// [`InvocationResult`] a caller needs, the value in the shape it asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingResult {
    /// The id of the call being answered.
    pub invocation_id: Uuid,
    /// The function that answered. Required, as in [`InvocationResult`].
    pub function_id: String,
    /// The value; `None` when absent or `null`.
    pub result: Option<ResultValue>,
    /// Present when the call failed.
    pub error: Option<ErrorBody>,
}

impl IncomingResult {
    /// The outcome: an error if `error` is set, else the value (`None` for
    /// no value).
    pub fn into_outcome(self) -> Result<Option<ResultValue>, ErrorBody> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.result),
        }
    }
}

impl From<InvocationResult> for IncomingResult {
    fn from(result: InvocationResult) -> IncomingResult {
        IncomingResult {
            invocation_id: result.invocation_id,
            function_id: result.function_id,
            result: result.result.map(ResultValue::Tree),
            error: result.error,
        }
    }
}

/// Reads the fields of an `invocationresult` after its tag.
pub(crate) struct ResultVisitor<F>(pub(crate) F);

fields! {
    /// A field of `invocationresult`; the ones a caller does not need are
    /// skipped, as unknown fields are.
    enum Field {
        "invocation_id" => InvocationId,
        "function_id" => FunctionId,
        "result" => Result,
        "error" => Error,
    }
}

impl<'de, F: FnMut(&Uuid) -> Shape> Visitor<'de> for ResultVisitor<F> {
    type Value = IncomingResult;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct InvocationResult")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<IncomingResult, A::Error> {
        let mut invocation_id = None;
        let mut function_id = None;
        let mut result: Option<Option<ResultValue>> = None;
        let mut error: Option<Option<ErrorBody>> = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::InvocationId => {
                    once(&mut invocation_id, "invocation_id", || map.next_value())?
                }
                Field::FunctionId => once(&mut function_id, "function_id", || map.next_value())?,
                Field::Result => once(&mut result, "result", || {
                    Ok(
                        match invocation_id.as_ref().map_or(Shape::Text, &mut self.0) {
                            Shape::Tree => {
                                map.next_value::<Option<Value>>()?.map(ResultValue::Tree)
                            }
                            Shape::Text => {
                                map.next_value::<Option<RawJson>>()?.map(ResultValue::Text)
                            }
                        },
                    )
                })?,
                Field::Error => once(&mut error, "error", || map.next_value())?,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(IncomingResult {
            invocation_id: invocation_id
                .ok_or_else(|| de::Error::missing_field("invocation_id"))?,
            function_id: function_id.ok_or_else(|| de::Error::missing_field("function_id"))?,
            result: result.flatten(),
            error: error.flatten(),
        })
    }
}
