//! Typed inputs and outputs of the functions an engine's RBAC worker
//! socket calls: the auth function, the registration hooks and the
//! middleware. A worker on a trusted socket serves them under the ids the
//! engine's configuration names (`rbac.auth_function_id` and the like).
//!
//! ```no_run
//! use iii::rbac::{AuthRequest, AuthResult};
//! use iii::{Error, Function};
//!
//! # fn serve(worker: &iii::Worker) -> Result<(), Error> {
//! worker.register_function(Function::new("acme::auth", |req: AuthRequest| async move {
//!     match req.headers.get("authorization").map(String::as_str) {
//!         Some("Bearer let-me-in") => Ok(AuthResult::default()),
//!         // An error refuses the connection: the worker dialling sees it.
//!         _ => Err(Error::new("unauthorized", "a bearer token is required")),
//!     }
//! }))?;
//! # Ok(()) }
//! ```
//!
//! How the engine 0.23 uses them:
//! - The auth function is called once per connection, after the socket is
//!   open: its result sets what the connection may do; an error (or a
//!   result that is not an [`AuthResult`]) refuses it, and the worker's
//!   `connect` fails naming the message. The engine waits for it without a
//!   time limit, and meanwhile the worker is not welcomed: its `connect`
//!   fails after its connect timeout, saying so.
//! - A hook is called for each registration through the socket: the
//!   registration it returns is the one made (its fields may be changed);
//!   an error drops it, and the worker is not told.
//! - The middleware is called instead of every function (but the engine's
//!   own `engine::*`) a worker on the socket calls: its answer is the
//!   call's answer, and calling the function is up to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the auth function is called with: the connection's upgrade
/// request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuthRequest {
    /// The request's headers, their names lower-cased (one value each).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The query's parameters, each with its values in order (not
    /// percent-decoded).
    #[serde(default)]
    pub query_params: BTreeMap<String, Vec<String>>,
    /// The peer's address, without its port.
    #[serde(default)]
    pub ip_address: String,
}

/// What the auth function answers to let a connection in: what it may
/// call and register. [`AuthResult::default`] lets it in with the
/// engine's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuthResult {
    /// Per namespace, the functions it may call (ids, or globs with `*`);
    /// when not empty, the only namespaces it may declare.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub namespaces: BTreeMap<String, Vec<String>>,
    /// More functions it may call in `default` (exact ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_functions: Vec<String>,
    /// Functions it may never call (exact ids), whatever else allows them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forbidden_functions: Vec<String>,
    /// The only trigger types it may bind, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_trigger_types: Option<Vec<String>>,
    /// Whether it may provide trigger types (the engine's default: no).
    #[serde(default)]
    pub allow_trigger_type_registration: bool,
    /// Whether it may register functions (the engine's default: yes).
    #[serde(default = "yes")]
    pub allow_function_registration: bool,
    /// Anything, handed to the hooks and the middleware with each of its
    /// registrations and calls.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    /// Its functions are registered as `<prefix>::<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_registration_prefix: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for AuthResult {
    fn default() -> Self {
        AuthResult {
            namespaces: BTreeMap::new(),
            allowed_functions: Vec::new(),
            forbidden_functions: Vec::new(),
            allowed_trigger_types: None,
            allow_trigger_type_registration: false,
            allow_function_registration: true,
            context: Value::Null,
            function_registration_prefix: None,
        }
    }
}

/// A function registered through the socket, as its hook sees it and
/// answers it (the id before any prefix).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FunctionRegistration {
    /// The function's id.
    pub function_id: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// Its metadata.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// The connection's namespace (read only: the engine ignores a change).
    #[serde(default, skip_serializing)]
    pub namespace: Option<String>,
    /// The connection's [`AuthResult::context`] (read only).
    #[serde(default, skip_serializing)]
    pub context: Value,
}

/// A trigger binding made through the socket, as its hook sees it and
/// answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TriggerRegistration {
    /// The binding's id.
    pub trigger_id: String,
    /// Its trigger type.
    pub trigger_type: String,
    /// The function it fires (before any prefix).
    pub function_id: String,
    /// Its config.
    #[serde(default)]
    pub config: Value,
    /// Its metadata (read only).
    #[serde(default, skip_serializing)]
    pub metadata: Option<Value>,
    /// Its namespace (read only).
    #[serde(default, skip_serializing)]
    pub namespace: Option<String>,
    /// The connection's [`AuthResult::context`] (read only).
    #[serde(default, skip_serializing)]
    pub context: Value,
}

/// A trigger type provided through the socket, as its hook sees it and
/// answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TriggerTypeRegistration {
    /// The trigger type's id.
    pub trigger_type_id: String,
    /// Its description.
    #[serde(default)]
    pub description: String,
    /// The connection's [`AuthResult::context`] (read only).
    #[serde(default, skip_serializing)]
    pub context: Value,
}

/// A call a worker on the socket made, as the middleware gets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MiddlewareCall {
    /// The function called.
    pub function_id: String,
    /// The call's data.
    #[serde(default)]
    pub payload: Value,
    /// `null` for a call that waits for its answer, else the action
    /// (`{"type": "void"}`, `{"type": "enqueue", "queue": ..}`).
    #[serde(default)]
    pub action: Value,
    /// The caller's [`AuthResult::context`].
    #[serde(default)]
    pub context: Value,
    /// The namespace the function is called in.
    #[serde(default)]
    pub namespace: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_default_auth_result_is_the_engines_and_hooks_answer_what_they_may_change() {
        assert_eq!(
            serde_json::to_value(AuthResult::default()).expect("json"),
            json!({"allow_trigger_type_registration": false, "allow_function_registration": true})
        );
        let read: AuthResult = serde_json::from_value(json!({})).expect("an empty result");
        assert_eq!(read, AuthResult::default());
        let seen: FunctionRegistration = serde_json::from_value(json!({
            "function_id": "f", "description": null, "metadata": {"a": 1},
            "namespace": "default", "context": {"user": "ada"},
        }))
        .expect("the hook's input");
        assert_eq!(seen.context["user"], "ada");
        assert_eq!(
            serde_json::to_value(&seen).expect("json"),
            json!({"function_id": "f", "description": null, "metadata": {"a": 1}}),
            "only what the engine reads back"
        );
    }
}
