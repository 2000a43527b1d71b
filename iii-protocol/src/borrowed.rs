//! Frames borrowed for encoding: the same text as their owned [`Message`]
//! variants, written without cloning what they carry.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    ErrorBody, Message, RawJson, RegisterFunction, RegisterService, RegisterTrigger,
    RegisterTriggerType, ResultValue, TriggerAction,
};

/// `invokefunction` as a caller writes it, borrowing every part: the
/// payload is JSON text already (serialised once, straight from the
/// caller's type). It encodes exactly as [`Message::InvokeFunction`] with
/// the same contents.
///
/// ```
/// use iii_protocol::{InvokeFunctionRef, Message, RawJson, decode};
/// let data = RawJson::from_serialize(&serde_json::json!({"n": 1}))?;
/// let frame = serde_json::to_string(&InvokeFunctionRef {
///     invocation_id: None,
///     function_id: "math::inc",
///     data: &data,
///     action: None,
///     metadata: None,
///     namespace: Some("billing"),
///     traceparent: None,
///     baggage: None,
/// })?;
/// let Message::InvokeFunction(read) = decode(&frame)? else { unreachable!() };
/// assert_eq!((read.function_id.as_str(), read.data["n"].as_i64()), ("math::inc", Some(1)));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "type", rename = "invokefunction")]
pub struct InvokeFunctionRef<'a> {
    /// See [`InvokeFunction::invocation_id`](crate::InvokeFunction::invocation_id).
    pub invocation_id: Option<Uuid>,
    /// Target function.
    pub function_id: &'a str,
    /// Input, as JSON text.
    pub data: &'a RawJson,
    /// Routing: absent means synchronous.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'a TriggerAction>,
    /// Per-invocation sidecar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<&'a Value>,
    /// Target namespace; absent means `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
    /// W3C trace context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<&'a str>,
    /// W3C baggage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baggage: Option<&'a str>,
}

/// A registration frame borrowed for encoding: the same text as the
/// [`Message`] variant of the same name, without cloning the body (a
/// function's schemas, a binding's config) only to write it.
///
/// ```
/// use iii_protocol::{Message, MessageRef, RegisterFunction};
/// let f = RegisterFunction {
///     id: "math::inc".into(),
///     description: None,
///     request_format: Some(serde_json::json!({"type": "integer"}).into()),
///     response_format: None,
///     metadata: None,
///     invocation: None,
/// };
/// assert_eq!(
///     serde_json::to_string(&MessageRef::RegisterFunction(&f))?,
///     serde_json::to_string(&Message::RegisterFunction(f.clone()))?,
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MessageRef<'a> {
    /// See [`Message::RegisterFunction`].
    RegisterFunction(&'a RegisterFunction),
    /// See [`Message::RegisterTrigger`].
    RegisterTrigger(&'a RegisterTrigger),
    /// See [`Message::RegisterTriggerType`].
    RegisterTriggerType(&'a RegisterTriggerType),
    /// See [`Message::RegisterService`].
    RegisterService(&'a RegisterService),
}

impl MessageRef<'_> {
    /// The owned message of the same text.
    pub fn to_message(self) -> Message {
        match self {
            MessageRef::RegisterFunction(m) => Message::RegisterFunction(m.clone()),
            MessageRef::RegisterTrigger(m) => Message::RegisterTrigger(m.clone()),
            MessageRef::RegisterTriggerType(m) => Message::RegisterTriggerType(m.clone()),
            MessageRef::RegisterService(m) => Message::RegisterService(m.clone()),
        }
    }
}

/// `invocationresult` as a callee writes it, borrowing every part: the
/// value may be JSON text already (serialised once, straight from the
/// handler's type). It encodes exactly as [`Message::InvocationResult`]
/// with the same contents; a `null` value is left out, as there.
///
/// ```
/// use iii_protocol::{InvocationResult, InvocationResultRef, Message, RawJson, ResultValue};
/// let id = uuid::Uuid::nil();
/// let text = ResultValue::Text(RawJson::from_serialize(&[1, 2])?);
/// let borrowed = InvocationResultRef::new(id, "math::pair", Ok(&text));
/// let owned = InvocationResult::new(id, "math::pair", Ok(serde_json::json!([1, 2])));
/// assert_eq!(
///     serde_json::to_string(&borrowed)?,
///     serde_json::to_string(&Message::InvocationResult(owned))?,
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "type", rename = "invocationresult")]
pub struct InvocationResultRef<'a> {
    /// See [`InvocationResult::invocation_id`](crate::InvocationResult::invocation_id).
    pub invocation_id: Uuid,
    /// See [`InvocationResult::function_id`](crate::InvocationResult::function_id).
    pub function_id: &'a str,
    /// The value; `None` for no value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'a ResultValue>,
    /// Present when the call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a ErrorBody>,
    /// W3C trace context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<&'a str>,
    /// W3C baggage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baggage: Option<&'a str>,
}

impl<'a> InvocationResultRef<'a> {
    /// A reply carrying `outcome`; a `null` value is no value.
    pub fn new(
        invocation_id: Uuid,
        function_id: &'a str,
        outcome: Result<&'a ResultValue, &'a ErrorBody>,
    ) -> Self {
        let (result, error) = match outcome {
            Ok(value) => ((!value.is_null()).then_some(value), None),
            Err(error) => (None, Some(error)),
        };
        InvocationResultRef {
            invocation_id,
            function_id,
            result,
            error,
            traceparent: None,
            baggage: None,
        }
    }
}
