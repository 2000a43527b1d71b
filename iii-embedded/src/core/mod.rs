//! The engine's registries and call routing, behind one lock.
//!
//! Every method here runs with the lock held and never awaits; frames to
//! workers go out through each connection's queue without waiting (a
//! worker whose queue is full is disconnected), so holding the lock never
//! waits on a socket.

mod registrations;

use crate::kinds::serves;
use registrations::forwarded;

use std::collections::{BTreeMap, HashMap};

use iii_protocol::TriggerKind;
use iii_protocol::{
    self as protocol, DEFAULT_NAMESPACE, ErrorBody, InvocationResult, InvokeFunction, Message,
    RegisterFunction, RegisterTrigger, RegisterTriggerType,
};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

/// A connected worker.
pub(crate) struct Conn {
    /// Frames for the worker, at most `max_queued` waiting.
    pub(crate) tx: mpsc::Sender<String>,
    /// How many may wait before the worker is disconnected.
    pub(crate) max_queued: usize,
    /// Set to true to drop the socket abruptly (no Close frame), as the engine does on eviction.
    pub(crate) kill: watch::Sender<bool>,
    pub(crate) reattach_token: String,
    /// Registrations held until `engine::workers::register` names the namespace.
    pub(crate) buffered: Option<Vec<Message>>,
    pub(crate) namespace: String,
    pub(crate) info: Value,
    pub(crate) name: Option<String>,
    pub(crate) has_pid: bool,
    pub(crate) connected_at_ms: u64,
}

impl Conn {
    pub(crate) fn send(&self, message: &Message) {
        match protocol::encode(message) {
            Ok(frame) => match self.tx.try_send(frame) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        worker = self.name.as_deref().unwrap_or("(unnamed)"),
                        "a worker has {} frames waiting unread; disconnecting it (raise `EngineBuilder::max_queued_frames` for a worker that reads slowly)",
                        self.max_queued
                    );
                    let _ = self.kill.send(true);
                }
                // The connection is going: nothing reads any more.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            },
            Err(e) => tracing::error!("could not encode a frame for a worker: {e}"),
        }
    }
}

pub(crate) struct FunctionEntry {
    pub(crate) owner: String,
    pub(crate) message: RegisterFunction,
}

/// Who gets the answer of a routed call.
pub(crate) enum Caller {
    /// A worker that asked for an `invocationresult`.
    Worker {
        worker_id: String,
        invocation_id: Uuid,
    },
    /// The engine itself (HTTP, queue, pub/sub, built-ins); `traced` when
    /// it sends the invocation with a span of its own (all but `log` fires).
    Internal {
        reply: oneshot::Sender<Result<Value, ErrorBody>>,
        traced: bool,
    },
    /// Nobody (void calls, or a worker that sent no id).
    Nobody,
}

pub(crate) struct PendingCall {
    pub(crate) caller: Caller,
    pub(crate) callee: String,
    pub(crate) function_id: String,
}

/// Who serves a trigger type.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Provider {
    /// The engine (http, subscribe, state, ...).
    Builtin,
    /// A worker connection.
    Worker(String),
}

pub(crate) struct ProviderEntry {
    pub(crate) provider: Provider,
    pub(crate) message: Option<RegisterTriggerType>,
}

pub(crate) struct Binding {
    pub(crate) message: RegisterTrigger,
    /// The worker that created it; `None` for `engine::register_trigger`.
    pub(crate) owner: Option<String>,
    /// Namespace of the creating connection (for provider resolution).
    pub(crate) origin_namespace: String,
    /// The provider currently serving it; `None` while parked.
    pub(crate) served_by: Option<(String, String)>,
    /// An `http` binding whose route a later binding of the same method and
    /// path took over: it never serves again, as in the engine.
    pub(crate) shadowed: bool,
    /// An `http` binding's route, worked out once.
    pub(crate) route: Option<registrations::Route>,
}

#[derive(Default)]
pub(crate) struct Core {
    pub(crate) workers: HashMap<String, Conn>,
    pub(crate) functions: HashMap<(String, String), FunctionEntry>,
    pub(crate) pending: HashMap<Uuid, PendingCall>,
    pub(crate) providers: HashMap<(String, String), ProviderEntry>,
    pub(crate) bindings: BTreeMap<String, Binding>,
    /// Acks awaited by `engine::register_trigger` calls, by binding id.
    pub(crate) acks: HashMap<String, oneshot::Sender<Option<ErrorBody>>>,
}

/// An event the caller of a core method must deliver after unlocking.
pub(crate) enum Event {
    Workers(Value),
    FunctionsChanged,
    /// A `cron` binding went live: start its schedule.
    CronBound(RegisterTrigger),
}

impl Core {
    pub(crate) fn new() -> Self {
        let mut core = Core::default();
        let served = TriggerKind::ALL.into_iter().filter(|k| serves(*k));
        for id in served.filter_map(TriggerKind::engine_type) {
            core.providers.insert(
                (DEFAULT_NAMESPACE.into(), id.into()),
                ProviderEntry {
                    provider: Provider::Builtin,
                    message: None,
                },
            );
        }
        core
    }

    pub(crate) fn send_to(&self, worker_id: &str, message: &Message) {
        if let Some(conn) = self.workers.get(worker_id) {
            conn.send(message);
        }
    }

    /// Delivers the outcome of a call to its caller.
    pub(crate) fn answer(
        &self,
        caller: Caller,
        function_id: &str,
        outcome: Result<Value, ErrorBody>,
    ) {
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
    /// Whether a worker serves `function_id` in `namespace`.
    pub(crate) fn has_function(&self, namespace: &str, function_id: &str) -> bool {
        self.functions
            .contains_key(&(namespace.to_string(), function_id.to_string()))
    }

    pub(crate) fn not_found(&self, namespace: &str, function_id: &str) -> ErrorBody {
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
    /// Returns the caller back if no worker owns it.
    pub(crate) fn route_to_worker(
        &mut self,
        namespace: &str,
        mut invoke: InvokeFunction,
        caller: Caller,
    ) -> Result<(), Caller> {
        let key = (namespace.to_string(), invoke.function_id.clone());
        let Some(entry) = self.functions.get(&key) else {
            return Err(caller);
        };
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
        self.send_to(&callee, &Message::InvokeFunction(invoke));
        self.pending.insert(
            id,
            PendingCall {
                caller,
                callee,
                function_id,
            },
        );
        Ok(())
    }

    /// An `invocationresult` from `worker_id`.
    pub(crate) fn complete(&mut self, worker_id: &str, result: InvocationResult) {
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

    /// Everything that goes when a worker disconnects (or is evicted).
    pub(crate) fn remove_worker(&mut self, worker_id: &str, events: &mut Vec<Event>) {
        if self.workers.remove(worker_id).is_none() {
            return;
        }
        let before = self.functions.len();
        self.functions.retain(|_, f| f.owner != worker_id);
        if self.functions.len() != before {
            events.push(Event::FunctionsChanged);
        }
        // Calls routed to it stop; calls it made lose their caller.
        let stopped: Vec<Uuid> = self
            .pending
            .iter()
            .filter(|(_, p)| p.callee == worker_id)
            .map(|(id, _)| *id)
            .collect();
        for id in stopped {
            if let Some(call) = self.pending.remove(&id) {
                let error = ErrorBody::new("invocation_stopped", "Invocation stopped");
                self.answer(call.caller, &call.function_id, Err(error));
            }
        }
        // Its bindings go; providers hear about it.
        let owned: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, b)| b.owner.as_deref() == Some(worker_id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in owned {
            self.unregister_binding(&id, Some(worker_id));
        }
        // Its trigger types go; their bindings fall back or park.
        let provided: Vec<(String, String)> = self
            .providers
            .iter()
            .filter(|(_, p)| p.provider == Provider::Worker(worker_id.to_string()))
            .map(|(k, _)| k.clone())
            .collect();
        for key in provided {
            self.providers.remove(&key);
            let ids: Vec<String> = self
                .bindings
                .iter()
                .filter(|(_, b)| b.served_by.as_ref() == Some(&key))
                .map(|(id, _)| id.clone())
                .collect();
            for id in ids {
                let Some(binding) = self.bindings.get(&id) else {
                    continue;
                };
                let fallback = self.resolve_provider(&binding.message, &binding.origin_namespace);
                let frame = forwarded(&binding.message);
                if let Some(b) = self.bindings.get_mut(&id) {
                    b.served_by = fallback.clone();
                }
                if let Some(key) = fallback
                    && let Some(ProviderEntry {
                        provider: Provider::Worker(p),
                        ..
                    }) = self.providers.get(&key)
                {
                    self.send_to(p, &Message::RegisterTrigger(frame));
                }
            }
        }
        events.push(Event::Workers(
            json!({"event": "worker_disconnected", "worker_id": worker_id}),
        ));
    }
}

/// What became of a binding.
pub(crate) enum BindOutcome {
    Accepted,
    Forwarded,
    Parked,
    Refused(ErrorBody),
}

/// `baggage` with its `iii.function.id` entry set to `function_id`, as the
/// engine rewrites it on a worker's call.
pub(crate) fn naming_target(baggage: Option<&str>, function_id: &str) -> String {
    let mut entries: Vec<&str> = baggage
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .filter(|e| e.split('=').next().map(str::trim) != Some("iii.function.id"))
        .collect();
    let named = format!("iii.function.id={function_id}");
    entries.push(&named);
    entries.join(",")
}

/// A fresh W3C traceparent (`00-<32 hex>-<16 hex>-01`), without a system
/// call: std's per-process random hash keys seed a hash of a counter.
pub(crate) fn new_traceparent() -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let keys = KEYS.get_or_init(RandomState::new);
    let next = || keys.hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("00-{:016x}{:016x}-{:016x}-01", next(), next(), next() | 1)
}

#[cfg(test)]
mod tests {
    use super::{naming_target, new_traceparent};

    #[test]
    fn baggage_names_the_target_once() {
        assert_eq!(naming_target(None, "a::b"), "iii.function.id=a::b");
        assert_eq!(
            naming_target(Some("k=v, iii.function.id=old"), "a::b"),
            "k=v,iii.function.id=a::b"
        );
    }

    #[test]
    fn traceparents_are_well_formed_and_distinct() {
        let a = new_traceparent();
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(
            (parts[0], parts[1].len(), parts[2].len(), parts[3]),
            ("00", 32, 16, "01")
        );
        assert!(
            parts[1]
                .chars()
                .chain(parts[2].chars())
                .all(|c| c.is_ascii_hexdigit())
        );
        assert_ne!(a, new_traceparent());
    }
}
