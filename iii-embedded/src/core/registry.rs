//! The engine's registries, behind the core's one lock: the connected
//! workers, the functions they serve, the calls in flight, the
//! trigger-type providers and the trigger bindings.
//!
//! Every method on [`Registry`] runs with the lock held and never awaits;
//! frames to workers go out through each connection's queue without
//! waiting (a worker whose queue is full is disconnected), so holding the
//! lock never waits on a socket.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use iii_protocol::{
    self as protocol, DEFAULT_NAMESPACE, ErrorBody, Message, RegisterFunction, RegisterTrigger,
    RegisterTriggerType,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use uuid::Uuid;

use super::builtins::Builtins;
use super::http_functions::{HttpTarget, Security as HttpSecurity};
use super::module::Outcome;

/// A connected worker.
pub(super) struct Conn {
    /// Frames for the worker, at most `max_queued` waiting.
    pub(super) tx: mpsc::Sender<Utf8Bytes>,
    /// How many may wait before the worker is disconnected.
    pub(super) max_queued: usize,
    /// The bytes of the frames waiting, which the writer takes off as it
    /// takes each frame.
    pub(super) queued_bytes: Arc<AtomicUsize>,
    /// How many bytes may wait before the worker is disconnected (one
    /// frame always may).
    pub(super) max_queued_bytes: usize,
    /// Set to true to drop the socket abruptly (no Close frame), as the
    /// engine does on eviction.
    pub(super) kill: watch::Sender<bool>,
    pub(super) reattach_token: String,
    /// Registrations held until `engine::workers::register` names the
    /// namespace.
    pub(super) buffered: Option<Vec<Message>>,
    pub(super) namespace: String,
    /// What `engine::workers::register` told about the worker.
    pub(super) info: Value,
    pub(super) name: Option<String>,
    /// It sent its `pid`: `engine::workers::list` shows only such workers.
    pub(super) has_pid: bool,
    pub(super) connected_at_ms: u64,
}

impl Conn {
    /// Queues a frame for the worker; a worker whose queue is full, in
    /// frames or in bytes, is disconnected instead.
    pub(super) fn send(&self, message: &Message) {
        match protocol::encode(message) {
            Ok(frame) => self.send_text(Utf8Bytes::from(frame)),
            Err(e) => tracing::error!("could not encode a frame for a worker: {e}"),
        }
    }

    /// [`Conn::send`], the frame encoded.
    pub(super) fn send_text(&self, frame: Utf8Bytes) {
        let len = frame.len();
        let waiting = self.queued_bytes.fetch_add(len, Ordering::Relaxed);
        if waiting > 0 && waiting.saturating_add(len) > self.max_queued_bytes {
            self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            return self.disconnect(format_args!(
                "{waiting} bytes of frames waiting unread and {len} more to send, over {} (raise `EngineBuilder::max_queued_bytes` for a worker that reads slowly)",
                self.max_queued_bytes
            ));
        }
        match self.tx.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                self.disconnect(format_args!(
                    "{} frames waiting unread (raise `EngineBuilder::max_queued_frames` for a worker that reads slowly)",
                    self.max_queued
                ));
            }
            // The connection is going: nothing reads any more.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Drops a worker that does not read, saying why in the log.
    fn disconnect(&self, why: std::fmt::Arguments<'_>) {
        tracing::warn!(
            worker = self.name.as_deref().unwrap_or("(unnamed)"),
            "disconnecting a worker that does not read its socket: {why}"
        );
        let _ = self.kill.send(true);
    }
}

/// A function a worker serves.
pub(super) struct FunctionEntry {
    /// The worker's id.
    pub(super) owner: String,
    pub(super) message: RegisterFunction,
    /// Where the engine calls it, for an HTTP-invoked function.
    pub(super) http: Option<Arc<HttpTarget>>,
}

/// Who gets the answer of a routed call.
pub(super) enum Caller {
    /// A worker that asked for an `invocationresult`.
    Worker {
        worker_id: String,
        invocation_id: Uuid,
    },
    /// The engine itself (HTTP, queue, pub/sub, built-ins); `traced` when
    /// it sends the invocation with a span of its own (all but `log` fires).
    Internal {
        reply: oneshot::Sender<Outcome>,
        traced: bool,
    },
    /// Nobody (void calls, or a worker that sent no id).
    Nobody,
}

/// A call sent to a worker, waiting for its result.
pub(super) struct PendingCall {
    pub(super) caller: Caller,
    /// The worker it was sent to.
    pub(super) callee: String,
    pub(super) function_id: String,
}

/// Who serves a trigger type.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(super) enum Provider {
    /// The engine: one of its modules.
    Builtin,
    /// A worker connection.
    Worker(String),
}

/// A trigger type's provider, and the worker's registration of it.
pub(super) struct ProviderEntry {
    pub(super) provider: Provider,
    pub(super) message: Option<RegisterTriggerType>,
}

/// A trigger binding.
pub(super) struct Binding {
    pub(super) message: RegisterTrigger,
    /// The worker that created it; `None` for `engine::register_trigger`.
    pub(super) owner: Option<String>,
    /// Namespace of the creating connection (for provider resolution).
    pub(super) origin_namespace: String,
    /// The provider currently serving it; `None` while parked.
    pub(super) served_by: Option<(String, String)>,
    /// A later binding of its type took it over (an `http` route
    /// registered again, say): it never serves again, as in the engine.
    pub(super) superseded: bool,
    /// Its type's [`Shape`](super::module::Shape) key, when its type has
    /// one: the key it is indexed under in [`Registry::shapes`].
    pub(super) shape: Option<String>,
}

/// Every registry of the engine.
pub(super) struct Registry {
    pub(super) workers: HashMap<String, Conn>,
    /// By (namespace, function id).
    pub(super) functions: HashMap<(String, String), FunctionEntry>,
    /// By invocation id.
    pub(super) pending: HashMap<Uuid, PendingCall>,
    /// By (namespace, trigger type id).
    pub(super) providers: HashMap<(String, String), ProviderEntry>,
    /// By binding id.
    pub(super) bindings: BTreeMap<String, Binding>,
    /// The ids of the bindings with a shape key, by (trigger type, key).
    pub(super) shapes: HashMap<(String, String), BTreeSet<String>>,
    /// Acks awaited by `engine::register_trigger` calls, by binding id.
    pub(super) acks: HashMap<String, oneshot::Sender<Option<ErrorBody>>>,
    /// What the modules serve.
    pub(super) builtins: Arc<Builtins>,
    /// Which URLs HTTP-invoked functions may have.
    pub(super) http_security: Arc<HttpSecurity>,
    /// When the engine started, the time its modules' rows in
    /// `engine::workers::list` say they connected.
    pub(super) started_at_ms: u64,
}

impl Registry {
    /// Empty registries, with the modules' trigger types provided in
    /// `default`.
    pub(super) fn new(builtins: Arc<Builtins>, http_security: Arc<HttpSecurity>) -> Registry {
        let providers = builtins
            .trigger_type_ids()
            .map(|id| {
                let entry = ProviderEntry {
                    provider: Provider::Builtin,
                    message: None,
                };
                ((DEFAULT_NAMESPACE.to_string(), id.to_string()), entry)
            })
            .collect();
        Registry {
            workers: HashMap::new(),
            functions: HashMap::new(),
            pending: HashMap::new(),
            providers,
            bindings: BTreeMap::new(),
            shapes: HashMap::new(),
            acks: HashMap::new(),
            builtins,
            http_security,
            started_at_ms: crate::clock::now_ms(),
        }
    }

    /// Queues a frame for a worker, if it is still connected.
    pub(super) fn send_to(&self, worker_id: &str, message: &Message) {
        if let Some(conn) = self.workers.get(worker_id) {
            conn.send(message);
        }
    }

    /// Whether a worker serves `function_id` in `namespace`.
    pub(super) fn has_function(&self, namespace: &str, function_id: &str) -> bool {
        self.functions
            .contains_key(&(namespace.to_string(), function_id.to_string()))
    }

    /// Active bindings of a built-in trigger type: served by the engine
    /// and not taken over.
    pub(super) fn builtin_bindings(&self, trigger_type: &str) -> Vec<RegisterTrigger> {
        let key = (DEFAULT_NAMESPACE.to_string(), trigger_type.to_string());
        self.bindings
            .values()
            .filter(|b| {
                b.message.trigger_type == trigger_type
                    && b.served_by.as_ref() == Some(&key)
                    && !b.superseded
            })
            .map(|b| b.message.clone())
            .collect()
    }
}
