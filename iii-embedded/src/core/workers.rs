//! A worker's life in the registries: `engine::workers::register` (its
//! name and namespace, and its buffered registrations applied), the grace
//! period that applies them without it, and everything that goes when it
//! disconnects.

use std::sync::Arc;

use iii_protocol::rules::validate_namespace;
use iii_protocol::{
    DEFAULT_NAMESPACE, ErrorBody, Message, RegistrationRejected, WORKER_NAMESPACE_CONFLICT,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Core;
use super::events::Event;
use super::registrations::forwarded;
use super::registry::{Caller, Provider, ProviderEntry, Registry};

/// The function a worker announces itself with.
pub(super) const REGISTER_WORKER: &str = "engine::workers::register";

impl Core {
    /// `engine::workers::register`: handled in the connection's reader so
    /// that the buffered registrations are applied before the next frame.
    pub(super) fn register_worker(
        self: &Arc<Self>,
        worker_id: &str,
        mut data: Value,
        caller: Caller,
    ) {
        if let Value::Object(map) = &mut data {
            map.remove(iii_protocol::CALLER_WORKER_ID);
        }
        let namespace = match data.get("namespace") {
            None | Some(Value::Null) => DEFAULT_NAMESPACE.to_string(),
            Some(Value::String(ns)) if validate_namespace(ns).is_ok() => ns.clone(),
            Some(_) => {
                let error =
                    ErrorBody::new("INVALID_NAMESPACE", "namespace must be a non-blank string");
                self.lock().answer(caller, REGISTER_WORKER, Err(error));
                return;
            }
        };
        let name = data.get("name").and_then(Value::as_str).map(clean_name);
        let mut events = Vec::new();
        {
            let mut registry = self.lock();
            if let Some(name) = &name {
                let holder = registry
                    .workers
                    .iter()
                    .find(|(id, c)| {
                        id.as_str() != worker_id
                            && c.namespace == namespace
                            && c.name.as_deref() == Some(name)
                    })
                    .map(|(id, _)| id.clone());
                if let Some(owner) = holder {
                    registry.send_to(
                        worker_id,
                        &Message::RegistrationRejected(RegistrationRejected {
                            code: WORKER_NAMESPACE_CONFLICT.into(),
                            namespace,
                            worker_name: Some(name.clone()),
                            function_id: None,
                            owner_worker_id: owner,
                        }),
                    );
                    // Dropping the connection's queue makes its writer send
                    // the rejection, then a Close frame.
                    registry.remove_worker(worker_id, &mut events);
                    drop(registry);
                    self.deliver(events);
                    return;
                }
            }
            let Some(conn) = registry.workers.get_mut(worker_id) else {
                return;
            };
            conn.name = name;
            conn.namespace = namespace;
            conn.has_pid = data.get("pid").is_some_and(Value::is_u64);
            conn.info = data;
            let buffered = conn.buffered.take().unwrap_or_default();
            // Mostly functions: the table grows once, not once per doubling.
            registry.functions.reserve(buffered.len());
            for message in buffered {
                registry.apply_registration(worker_id, message, &mut events);
            }
            registry.answer(caller, REGISTER_WORKER, Ok(json!({"success": true})));
        }
        events.push(Event::Workers(
            json!({"event": "worker_metadata_updated", "worker_id": worker_id}),
        ));
        self.deliver(events);
    }

    /// Applies a worker's buffered registrations in `default` if it has not
    /// announced itself within the grace period.
    pub(super) fn start_grace_timer(self: Arc<Self>, worker_id: String) {
        tokio::spawn(async move {
            tokio::time::sleep(self.settings.namespace_grace).await;
            let mut events = Vec::new();
            {
                let mut registry = self.lock();
                let Some(buffered) = registry
                    .workers
                    .get_mut(&worker_id)
                    .and_then(|c| c.buffered.take())
                else {
                    return;
                };
                for message in buffered {
                    registry.apply_registration(&worker_id, message, &mut events);
                }
            }
            self.deliver(events);
        });
    }

    /// Removes a worker from the registries (it disconnected, was evicted
    /// or was refused) and delivers what that sets off.
    pub(super) fn forget_worker(self: &Arc<Self>, worker_id: &str) {
        let mut events = Vec::new();
        self.lock().remove_worker(worker_id, &mut events);
        self.deliver(events);
    }

    /// Names of the workers connected now, sorted.
    pub(crate) fn worker_names(&self) -> Vec<String> {
        let registry = self.lock();
        let mut names: Vec<String> = registry
            .workers
            .values()
            .filter_map(|c| c.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Drops every worker's socket at once (no Close frame).
    pub(crate) fn disconnect_all(&self) {
        for conn in self.lock().workers.values() {
            let _ = conn.kill.send(true);
        }
    }
}

impl Registry {
    /// Everything that goes when a worker disconnects (or is evicted).
    pub(super) fn remove_worker(&mut self, worker_id: &str, events: &mut Vec<Event>) {
        if self.workers.remove(worker_id).is_none() {
            return;
        }
        let before = self.functions.len();
        self.functions.retain(|_, f| f.owner != worker_id);
        if self.functions.len() != before {
            super::events::functions_changed(events);
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

/// Control and bidi characters stripped, at most 280 characters.
fn clean_name(name: &str) -> String {
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}');
    name.chars()
        .filter(|c| !c.is_control() && !bidi(*c))
        .take(280)
        .collect()
}
