//! The iii engine's wire protocol: every frame a worker and the engine
//! exchange, the validation rules both sides apply, and the table of trigger
//! kinds.
//!
//! This crate is shared by the `iii` SDK, its macros and `iii-embedded`, so
//! that all three speak the same bytes and check the same rules. Worker code
//! does not need it: use the `iii` crate.
//!
//! Each protocol message is one JSON object in a WebSocket text frame, tagged
//! by `"type"` with the lowercased variant name (`registerfunction`,
//! `invokefunction`, ...). Field names are snake_case exactly as the engine
//! spells them. Optional fields are left out when empty, and unknown fields
//! sent by the engine are ignored, so a newer engine can add fields freely.
//!
//! These types are shared with `iii-embedded`, the in-process engine, so both
//! sides of every test speak the same bytes.
//!
//! ```
//! use iii_protocol::{Message, decode};
//!
//! let frame = r#"{"type":"workerregistered","worker_id":"w-1","reattach_token":"t-1"}"#;
//! match decode(frame)? {
//!     Message::WorkerRegistered(m) => assert_eq!(m.worker_id, "w-1"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The namespace used when a message names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Whether `function_id` names one of the engine's built-in functions,
/// which exist only in the `default` namespace: `engine::*`, `state::*`,
/// `stream::*`, `iii::*`, `configuration::*` and `publish`.
///
/// ```
/// assert!(iii_protocol::is_builtin_function("state::get"));
/// assert!(iii_protocol::is_builtin_function("publish"));
/// assert!(!iii_protocol::is_builtin_function("billing::publish"));
/// ```
pub fn is_builtin_function(function_id: &str) -> bool {
    const PREFIXES: [&str; 5] = [
        "engine::",
        "state::",
        "stream::",
        "iii::",
        "configuration::",
    ];
    function_id == "publish" || PREFIXES.iter().any(|p| function_id.starts_with(p))
}

/// The key the engine adds to object payloads of worker-initiated calls,
/// naming the calling worker.
pub const CALLER_WORKER_ID: &str = "_caller_worker_id";

/// The largest WebSocket frame the engine reads (its tungstenite
/// `max_frame_size`, 16 MiB). A bigger frame makes the engine drop the
/// sender's whole connection.
pub const ENGINE_MAX_FRAME: usize = 16 << 20;

/// One protocol frame, in either direction.
///
/// Serialised as an internally tagged object. Deserialised by
/// [`decode()`] without serde's buffering of internally tagged
/// enums whenever `"type"` is the first key, as every known peer writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Message {
    /// Worker → engine: export a function.
    RegisterFunction(RegisterFunction),
    /// Worker → engine: withdraw a function this connection owns.
    UnregisterFunction(UnregisterFunction),
    /// Worker → engine: bind a trigger; engine → provider: a binding to serve.
    RegisterTrigger(RegisterTrigger),
    /// Engine → worker: a binding failed; provider → engine: a binding's verdict.
    TriggerRegistrationResult(TriggerRegistrationResult),
    /// Worker → engine: drop a binding; engine → provider: stop serving one.
    UnregisterTrigger(UnregisterTrigger),
    /// Worker → engine: provide a custom trigger type.
    RegisterTriggerType(RegisterTriggerType),
    /// Worker → engine: stop providing a trigger type.
    ///
    /// The official SDKs send it, but engine 0.23 has no such message and
    /// drops the frame; it is kept for wire compatibility.
    UnregisterTriggerType(UnregisterTriggerType),
    /// Both directions: call a function.
    InvokeFunction(InvokeFunction),
    /// Both directions: the outcome of a call.
    InvocationResult(InvocationResult),
    /// Worker → engine: declare a service grouping.
    RegisterService(RegisterService),
    /// Keepalive request; answered with [`Message::Pong`].
    Ping,
    /// Keepalive answer.
    Pong,
    /// Engine → worker, always the first frame: the connection's identity.
    WorkerRegistered(WorkerRegistered),
    /// Engine → worker: a registration was refused.
    RegistrationRejected(RegistrationRejected),
    /// Worker → engine, first frame after a reconnect: retire the old connection.
    Reattach(Reattach),
    /// Engine → worker: the connection was refused (RBAC auth), a Close follows.
    Error(ErrorFrame),
}

/// Parses one frame. Unknown `type` values and malformed frames are errors;
/// callers log and drop them, as the engine does.
pub fn decode(text: &str) -> Result<Message, serde_json::Error> {
    serde_json::from_str(text)
}

/// Serialises one frame to the JSON text sent on the socket.
///
/// Fails only if a user-supplied value cannot be represented as JSON.
pub fn encode(message: &Message) -> Result<String, serde_json::Error> {
    serde_json::to_string(message)
}

/// `{"code","message","stacktrace"?}`: the error shape of every failed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `function_not_found`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Where the failure happened, when the callee reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<String>,
}

impl ErrorBody {
    /// An error body without a stack trace.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            stacktrace: None,
        }
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// How the engine should route an invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TriggerAction {
    /// Fire and forget: no result is sent back to the caller.
    Void,
    /// Hand the call to the queue provider; the caller gets a receipt.
    Enqueue {
        /// Queue name.
        queue: String,
    },
}

/// Authentication for an HTTP-invoked function; secrets are named by env var.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HttpAuth {
    /// `Authorization: Bearer $token_key`.
    Bearer {
        /// Env var holding the token.
        token_key: String,
    },
    /// HMAC signature with the secret in `secret_key`.
    Hmac {
        /// Env var holding the secret.
        secret_key: String,
    },
    /// A fixed header whose value is read from `value_key`.
    ApiKey {
        /// Header name.
        header: String,
        /// Env var holding the value.
        value_key: String,
    },
}

/// Makes a function HTTP-invoked: the engine POSTs invocations to `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpInvocation {
    /// Endpoint the engine calls.
    pub url: String,
    /// HTTP method; the engine defaults to `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Per-call timeout in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Authentication scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
}

/// `registerfunction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterFunction {
    /// Function id, by convention `service::name`.
    pub id: String,
    /// One-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the input, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_format: Option<RawJson>,
    /// JSON Schema of the output, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<RawJson>,
    /// Free-form metadata; `{"internal":true}` hides the function from listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Present for HTTP-invoked functions. Boxed: most functions have
    /// none, and a registration is kept for each function by the worker
    /// and the engine (half of its size was this field's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation: Option<Box<HttpInvocation>>,
}

/// `unregisterfunction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnregisterFunction {
    /// Function id.
    pub id: String,
}

/// `registertrigger`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterTrigger {
    /// Binding id, globally unique (the SDK uses a UUID).
    pub id: String,
    /// Trigger type, e.g. `http` or a custom type id.
    pub trigger_type: String,
    /// The function the trigger invokes.
    pub function_id: String,
    /// Type-specific configuration. The engine drops frames without it.
    pub config: Value,
    /// Delivered unchanged with every fire as `invokefunction.metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Namespace the target function resolves in; absent means `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Namespace of the provider; absent means own namespace, then `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_namespace: Option<String>,
}

/// `triggerregistrationresult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerRegistrationResult {
    /// Binding id.
    pub id: String,
    /// Trigger type.
    pub trigger_type: String,
    /// Target function.
    pub function_id: String,
    /// Present when the binding was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// `unregistertrigger`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnregisterTrigger {
    /// Binding id.
    pub id: String,
    /// Trigger type; always set by the engine when it tells a provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_type: Option<String>,
}

/// `registertriggertype`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterTriggerType {
    /// Type id.
    pub id: String,
    /// Required by the engine: a frame without it is dropped.
    pub description: String,
    /// JSON Schema of a binding's `config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_request_format: Option<Value>,
    /// JSON Schema of the payload a fire delivers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_request_format: Option<Value>,
    /// Namespace served; absent means the connection's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `unregistertriggertype` (not understood by engine 0.23; see [`Message`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnregisterTriggerType {
    /// Type id.
    pub id: String,
}

/// `invokefunction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvokeFunction {
    /// Correlation id. Absent from a worker means nobody receives the result;
    /// the engine always sets it when it invokes a worker.
    #[serde(default)]
    pub invocation_id: Option<Uuid>,
    /// Target function.
    pub function_id: String,
    /// Input, any JSON value including `null`.
    pub data: Value,
    /// Routing: absent means synchronous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<TriggerAction>,
    /// Per-invocation sidecar (trigger metadata on fires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Target namespace; absent means `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// W3C trace context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// W3C baggage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baggage: Option<String>,
}

impl InvokeFunction {
    /// A synchronous call with no metadata, namespace or trace context.
    pub fn new(invocation_id: Option<Uuid>, function_id: impl Into<String>, data: Value) -> Self {
        Self {
            invocation_id,
            function_id: function_id.into(),
            data,
            action: None,
            metadata: None,
            namespace: None,
            traceparent: None,
            baggage: None,
        }
    }
}

/// `invocationresult`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvocationResult {
    /// The id of the call being answered.
    pub invocation_id: Uuid,
    /// Required by the engine: a reply without it is dropped.
    pub function_id: String,
    /// The value; absent and `null` both mean "no value".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Present when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    /// W3C trace context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// W3C baggage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baggage: Option<String>,
}

impl InvocationResult {
    /// A reply carrying `outcome`.
    pub fn new(
        invocation_id: Uuid,
        function_id: impl Into<String>,
        outcome: Result<Value, ErrorBody>,
    ) -> Self {
        let (result, error) = match outcome {
            Ok(value) => ((!value.is_null()).then_some(value), None),
            Err(error) => (None, Some(error)),
        };
        Self {
            invocation_id,
            function_id: function_id.into(),
            result,
            error,
            traceparent: None,
            baggage: None,
        }
    }

    /// The outcome: an error if `error` is set, else the value (`null` if absent).
    pub fn into_outcome(self) -> Result<Value, ErrorBody> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.result.unwrap_or(Value::Null)),
        }
    }
}

/// `registerservice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterService {
    /// Service id.
    pub id: String,
    /// Display name; empty falls back to `id`.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Parent service, forming a tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_service_id: Option<String>,
}

/// `workerregistered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRegistered {
    /// The id the engine gave this connection.
    pub worker_id: String,
    /// Token for [`Reattach`] after a reconnect; older engines omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reattach_token: Option<String>,
    /// What the engine supports beyond the 0.23 protocol, as tokens (see
    /// [`features`]). Engines before 0.25 send none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

/// `registrationrejected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationRejected {
    /// Why: `WORKER_NAMESPACE_CONFLICT` refuses the worker (fatal);
    /// `FUNCTION_NAMESPACE_CONFLICT`, and from engine 0.26
    /// `INVALID_ARGS_FORMAT` and `UNSUPPORTED`, refuse one function.
    pub code: String,
    /// Namespace in which the registration was refused.
    #[serde(default)]
    pub namespace: String,
    /// For worker-name conflicts: the contested name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_name: Option<String>,
    /// For function conflicts: the contested id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_id: Option<String>,
    /// The worker that holds the name or id (empty for reserved ids).
    #[serde(default)]
    pub owner_worker_id: String,
}

/// Rejection code: another live worker uses this name in the namespace.
pub const WORKER_NAMESPACE_CONFLICT: &str = "WORKER_NAMESPACE_CONFLICT";
/// Rejection code: another live worker exports this function id.
pub const FUNCTION_NAMESPACE_CONFLICT: &str = "FUNCTION_NAMESPACE_CONFLICT";

impl RegistrationRejected {
    /// Whether this refuses one function and leaves the connection up:
    /// it names a function and is not a worker-name conflict. (Engines
    /// from 0.26 add function-scoped codes such as `INVALID_ARGS_FORMAT`
    /// and `UNSUPPORTED`; a code that names no function refuses the
    /// worker.)
    ///
    /// ```
    /// use iii_protocol::RegistrationRejected;
    /// let rejected = |code: &str, function_id: Option<&str>| RegistrationRejected {
    ///     code: code.into(),
    ///     namespace: "default".into(),
    ///     worker_name: None,
    ///     function_id: function_id.map(String::from),
    ///     owner_worker_id: String::new(),
    /// };
    /// assert!(rejected("INVALID_ARGS_FORMAT", Some("orders::place")).refuses_one_function());
    /// assert!(!rejected("WORKER_NAMESPACE_CONFLICT", None).refuses_one_function());
    /// assert!(!rejected("SOMETHING_NEW", None).refuses_one_function());
    /// ```
    pub fn refuses_one_function(&self) -> bool {
        self.function_id.is_some() && self.code != WORKER_NAMESPACE_CONFLICT
    }
}

/// `reattach`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reattach {
    /// The id of the connection being replaced.
    pub previous_worker_id: String,
    /// The token that connection received in `workerregistered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reattach_token: Option<String>,
}

/// `{"type":"error","error":{..}}`, sent before the engine closes a refused socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// Why the connection was refused.
    pub error: ErrorBody,
}

mod borrowed;
pub mod channel;
mod decode;
pub mod depth;
pub mod features;
mod incoming;
pub mod kinds;
mod raw;
pub mod rules;
pub mod salvage;
pub mod update;

pub use borrowed::{InvocationResultRef, InvokeFunctionRef, MessageRef};
pub use channel::{ChannelDirection, StreamChannelRef};
pub use incoming::{Incoming, IncomingInvoke, IncomingResult, ResultValue, Shape, decode_incoming};
pub use kinds::TriggerKind;
pub use raw::{RAW_VALUE_TOKEN, RawJson};

#[cfg(test)]
mod tests;
