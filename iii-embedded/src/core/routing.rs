//! Routing a call: to the worker that serves the function, else to a
//! module's built-in, else `function_not_found`; and getting the answer
//! back to whoever called.

use std::sync::Arc;

use iii_protocol::{
    self as protocol, DEFAULT_NAMESPACE, ErrorBody, InvocationResult, InvokeFunction, Message,
};
use uuid::Uuid;

use super::Core;
use super::http_functions::{HttpTarget, Security as HttpSecurity};
use super::module::Outcome;
use super::raw_body::RawBody;
use super::registry::{Caller, PendingCall, Registry};
use super::trace_context::{naming_target, new_traceparent};

impl Core {
    /// Routes a call: a worker's function first (a worker may override a
    /// built-in in `default`), then the built-ins, then `function_not_found`.
    pub(super) fn route(
        self: Arc<Self>,
        namespace: String,
        invoke: InvokeFunction,
        caller: Caller,
    ) {
        self.route_with(namespace, invoke, caller, None);
    }

    /// [`Core::route`], with a request's body passed on as it came (see
    /// [`RawBody`]).
    pub(super) fn route_with(
        self: Arc<Self>,
        namespace: String,
        invoke: InvokeFunction,
        caller: Caller,
        body: Option<RawBody>,
    ) {
        let unrouted = self
            .lock()
            .route_to_worker(&namespace, invoke, caller, body);
        let Some(Unrouted(mut invoke, caller, body, http)) = unrouted else {
            return;
        };
        // A built-in or a URL gets the body parsed; a call that goes
        // nowhere, none.
        if let Some(body) = body {
            match http.is_some()
                || (namespace == DEFAULT_NAMESPACE
                    && self.builtins.function(&invoke.function_id).is_some())
            {
                true => body.substitute(&mut invoke.data),
                false => body.unplaced(),
            }
        }
        if let Some((target, security)) = http {
            tokio::spawn(async move {
                let outcome = target.call(&security, &invoke.data).await;
                self.lock().answer(caller, &invoke.function_id, outcome);
            });
            return;
        }
        let builtin = (namespace == DEFAULT_NAMESPACE)
            .then(|| self.builtins.function(&invoke.function_id))
            .flatten()
            .cloned();
        if let Some(handler) = builtin {
            tokio::spawn(async move {
                let function_id = invoke.function_id;
                let outcome = handler(self.clone(), invoke.data).await;
                self.lock().answer(caller, &function_id, outcome);
            });
            return;
        }
        let registry = self.lock();
        let error = registry.not_found(&namespace, &invoke.function_id);
        registry.answer(caller, &invoke.function_id, Err(error));
    }
}

/// A call no worker serves, given back with its caller and its body, and
/// where to call it when its function is HTTP-invoked.
struct Unrouted(
    InvokeFunction,
    Caller,
    Option<RawBody>,
    Option<(Arc<HttpTarget>, Arc<HttpSecurity>)>,
);

impl Registry {
    /// Delivers the outcome of a call to its caller.
    pub(super) fn answer(&self, caller: Caller, function_id: &str, outcome: Outcome) {
        match caller {
            Caller::Worker {
                worker_id,
                invocation_id,
            } => {
                let reply = InvocationResult::new(invocation_id, function_id, outcome);
                self.send_to(&worker_id, &Message::InvocationResult(reply));
            }
            Caller::Internal { reply, .. } => {
                let _ = reply.send(outcome);
            }
            Caller::Nobody => {}
        }
    }

    /// `Function X not found in namespace N.` plus where it exists instead.
    pub(super) fn not_found(&self, namespace: &str, function_id: &str) -> ErrorBody {
        let mut elsewhere: Vec<&str> = self
            .functions
            .keys()
            .filter(|(ns, id)| id == function_id && ns != namespace)
            .map(|(ns, _)| ns.as_str())
            .collect();
        elsewhere.sort_unstable();
        let mut message = format!("Function {function_id} not found in namespace {namespace}.");
        if !elsewhere.is_empty() {
            message.push_str(&format!(
                " It is registered in namespace(s): {}.",
                elsewhere.join(", ")
            ));
        }
        ErrorBody::new("function_not_found", message)
    }

    /// Forwards a call to the worker that owns `function_id` in `namespace`.
    /// Gives the call back if no worker owns it.
    fn route_to_worker(
        &mut self,
        namespace: &str,
        mut invoke: InvokeFunction,
        caller: Caller,
        body: Option<RawBody>,
    ) -> Option<Unrouted> {
        let key = (namespace.to_string(), invoke.function_id.clone());
        let Some(entry) = self.functions.get(&key) else {
            return Some(Unrouted(invoke, caller, body, None));
        };
        if let Some(target) = &entry.http {
            let http = Some((target.clone(), self.http_security.clone()));
            return Some(Unrouted(invoke, caller, body, http));
        }
        let callee = entry.owner.clone();
        let id = match (&caller, invoke.invocation_id) {
            (Caller::Worker { invocation_id, .. }, _) => *invocation_id,
            (_, Some(id)) => id,
            _ => Uuid::new_v4(),
        };
        invoke.invocation_id = Some(id);
        invoke.action = None;
        invoke.namespace = None;
        match &caller {
            // What the engine starts itself runs in a span of its own.
            Caller::Internal { traced, .. } => {
                if *traced && invoke.traceparent.is_none() {
                    invoke.traceparent = Some(new_traceparent());
                }
            }
            // A worker's call goes on with the caller's trace context as
            // sent (none, if it sent none), the baggage naming the target.
            Caller::Worker { .. } | Caller::Nobody => {
                if invoke.traceparent.is_some() || invoke.baggage.is_some() {
                    invoke.baggage = Some(naming_target(
                        invoke.baggage.as_deref(),
                        &invoke.function_id,
                    ));
                }
            }
        }
        let function_id = invoke.function_id.clone();
        let message = Message::InvokeFunction(invoke);
        match (body, self.workers.get(&callee)) {
            (None, _) => self.send_to(&callee, &message),
            (Some(body), Some(conn)) => match protocol::encode(&message) {
                Ok(frame) => conn.send_text(body.splice(frame)),
                Err(e) => {
                    tracing::error!("could not encode a frame for a worker: {e}");
                    body.unplaced();
                }
            },
            (Some(body), None) => body.unplaced(),
        }
        self.pending.insert(
            id,
            PendingCall {
                caller,
                callee,
                function_id,
            },
        );
        None
    }

    /// An `invocationresult` from `worker_id`: answers the call, if it was
    /// sent to that worker.
    pub(super) fn complete(&mut self, worker_id: &str, result: InvocationResult) {
        match self.pending.get(&result.invocation_id) {
            Some(p) if p.callee == worker_id => {}
            _ => {
                tracing::debug!(invocation_id = %result.invocation_id, "ignoring a result nobody waits for");
                return;
            }
        }
        if let Some(call) = self.pending.remove(&result.invocation_id) {
            let function_id = call.function_id.clone();
            self.answer(call.caller, &function_id, result.into_outcome());
        }
    }
}
