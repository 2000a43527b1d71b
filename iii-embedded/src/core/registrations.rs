//! What workers register with the engine: functions, trigger bindings and
//! trigger-type providers, and how bindings find their provider. A
//! binding of a module's trigger type is checked by the module first.

use std::sync::Arc;

use iii_protocol::rules::validate_namespace;
use iii_protocol::{
    DEFAULT_NAMESPACE, ErrorBody, FUNCTION_NAMESPACE_CONFLICT, Message, RegisterFunction,
    RegisterTrigger, RegisterTriggerType, RegistrationRejected, TriggerRegistrationResult,
    UnregisterTrigger,
};

use super::events::Event;
use super::http_functions::HttpTarget;
use super::module::TriggerType;
use super::registry::{Binding, FunctionEntry, Provider, ProviderEntry, Registry};

/// What became of a binding.
pub(super) enum BindOutcome {
    /// A module serves it.
    Accepted,
    /// It went to the worker that provides its type.
    Forwarded,
    /// Nobody provides its type yet.
    Parked,
    /// It was refused (its owner was told why).
    Refused(ErrorBody),
}

impl Registry {
    /// Applies a registration message for `worker_id` in its namespace.
    pub(super) fn apply_registration(
        &mut self,
        worker_id: &str,
        message: Message,
        events: &mut Vec<Event>,
    ) {
        let Some(namespace) = self.workers.get(worker_id).map(|c| c.namespace.clone()) else {
            return;
        };
        match message {
            Message::RegisterFunction(f) => {
                self.register_function(worker_id, &namespace, f, events)
            }
            Message::UnregisterFunction(f) => {
                let key = (namespace, f.id);
                if self
                    .functions
                    .get(&key)
                    .is_some_and(|e| e.owner == worker_id)
                {
                    self.functions.remove(&key);
                    super::events::functions_changed(events);
                }
            }
            Message::RegisterTrigger(t) => {
                let _ = self.register_binding(Some(worker_id), &namespace, t, events);
            }
            Message::UnregisterTrigger(t) => {
                self.unregister_binding(&t.id, Some(worker_id));
            }
            Message::RegisterTriggerType(t) => self.register_trigger_type(worker_id, &namespace, t),
            other => tracing::debug!("not a registration: {other:?}"),
        }
    }

    fn register_function(
        &mut self,
        worker_id: &str,
        namespace: &str,
        f: RegisterFunction,
        events: &mut Vec<Event>,
    ) {
        // `engine::*` is reserved outside `default` (owner ""); otherwise
        // another live worker may already own the id.
        let key = (namespace.to_string(), f.id.clone());
        let conflict = if namespace != DEFAULT_NAMESPACE && f.id.starts_with("engine::") {
            Some(String::new())
        } else {
            self.functions
                .get(&key)
                .filter(|e| e.owner != worker_id && self.workers.contains_key(&e.owner))
                .map(|e| e.owner.clone())
        };
        if let Some(owner_worker_id) = conflict {
            self.send_to(
                worker_id,
                &Message::RegistrationRejected(RegistrationRejected {
                    code: FUNCTION_NAMESPACE_CONFLICT.into(),
                    namespace: namespace.into(),
                    worker_name: None,
                    function_id: Some(f.id),
                    owner_worker_id,
                }),
            );
            return;
        }
        // An HTTP-invoked function is checked and its secrets read now; a
        // refusal leaves it unregistered, and the worker is not told, as by
        // the engine.
        let http = match &f.invocation {
            None => None,
            Some(config) => match HttpTarget::new(&f.id, config, &self.http_security) {
                Ok(target) => Some(Arc::new(target)),
                Err(error) => {
                    tracing::warn!(
                        worker_id,
                        function_id = f.id,
                        "HTTP-invoked function not registered: {}: {}",
                        error.code,
                        error.message
                    );
                    return;
                }
            },
        };
        self.functions.insert(
            key,
            FunctionEntry {
                owner: worker_id.into(),
                message: f,
                http,
            },
        );
        super::events::functions_changed(events);
    }

    /// Finds the provider of `trigger_type` for a binding made from `origin`.
    pub(super) fn resolve_provider(
        &self,
        binding: &RegisterTrigger,
        origin: &str,
    ) -> Option<(String, String)> {
        let ty = binding.trigger_type.clone();
        let candidates: Vec<String> = match &binding.trigger_namespace {
            Some(ns) => vec![ns.clone()],
            None => vec![origin.to_string(), DEFAULT_NAMESPACE.to_string()],
        };
        candidates
            .into_iter()
            .map(|ns| (ns, ty.clone()))
            .find(|key| self.providers.contains_key(key))
    }

    /// Creates or replaces a binding: forwarded to the worker that provides
    /// its type, accepted by the module that serves it, or parked.
    pub(super) fn register_binding(
        &mut self,
        owner: Option<&str>,
        origin: &str,
        t: RegisterTrigger,
        events: &mut Vec<Event>,
    ) -> BindOutcome {
        for (what, ns) in [
            ("namespace", &t.namespace),
            ("trigger_namespace", &t.trigger_namespace),
        ] {
            if let Some(Err(reason)) = ns.as_deref().map(validate_namespace) {
                let error = ErrorBody::new("INVALID_NAMESPACE", format!("{what}: {reason}"));
                self.refuse(owner, &t, error.clone());
                return BindOutcome::Refused(error);
            }
        }
        let served_by = self.resolve_provider(&t, origin);
        let provider = served_by
            .as_ref()
            .and_then(|key| self.providers.get(key))
            .map(|p| p.provider.clone());
        let builtin = match provider {
            Some(Provider::Builtin) => self.builtins.trigger_type(&t.trigger_type).cloned(),
            _ => None,
        };
        let shape = builtin
            .as_ref()
            .and_then(|b| b.supersede)
            .and_then(|(_, shape)| shape(&t));
        if let Some(builtin) = &builtin {
            let superseded = match self.admit(builtin, &t, shape.as_deref()) {
                Ok(superseded) => superseded,
                Err(reason) => {
                    let error = ErrorBody::new("trigger_registration_failed", reason);
                    self.refuse(owner, &t, error.clone());
                    return BindOutcome::Refused(error);
                }
            };
            for other in superseded {
                if let Some(binding) = self.bindings.get_mut(&other) {
                    binding.superseded = true;
                }
            }
        }
        let id = t.id.clone();
        // A binding registered again under its id leaves its old key.
        if let Some(old) = self.bindings.remove(&id) {
            self.unindex(&id, &old);
        }
        if let Some(key) = &shape {
            self.shapes
                .entry((t.trigger_type.clone(), key.clone()))
                .or_default()
                .insert(id.clone());
        }
        // What the binding sets off, made before it is stored: only these
        // take a copy of it (an `http` route, the usual binding, takes none).
        let outcome = match &provider {
            Some(Provider::Worker(p)) => {
                self.send_to(p, &Message::RegisterTrigger(forwarded(&t)));
                BindOutcome::Forwarded
            }
            Some(Provider::Builtin) => {
                if let Some(bound) = builtin.and_then(|b| b.on_bind) {
                    events.push(Event::Bound(bound, t.clone()));
                }
                BindOutcome::Accepted
            }
            None => {
                tracing::warn!(
                    trigger_type = t.trigger_type,
                    id,
                    "[PENDING] no provider yet; binding parked"
                );
                BindOutcome::Parked
            }
        };
        self.bindings.insert(
            id,
            Binding {
                message: t,
                owner: owner.map(String::from),
                origin_namespace: origin.to_string(),
                served_by,
                superseded: false,
                shape,
            },
        );
        outcome
    }

    /// A module's verdict on a new binding of its type: its check, then
    /// the live bindings the new one takes over, among those of its shape.
    fn admit(
        &self,
        builtin: &TriggerType,
        t: &RegisterTrigger,
        shape: Option<&str>,
    ) -> Result<Vec<String>, String> {
        (builtin.check)(t)?;
        let (Some((supersede, _)), Some(shape)) = (builtin.supersede, shape) else {
            return Ok(Vec::new());
        };
        let Some(ids) = self
            .shapes
            .get(&(t.trigger_type.clone(), shape.to_string()))
        else {
            return Ok(Vec::new());
        };
        let live: Vec<(&str, &RegisterTrigger)> = ids
            .iter()
            .filter_map(|id| Some((id.as_str(), self.bindings.get(id)?)))
            .filter(|(_, b)| !b.superseded)
            .map(|(id, b)| (id, &b.message))
            .collect();
        supersede(t, &live)
    }

    /// Takes binding `id` (now `binding`) out of the shape index.
    fn unindex(&mut self, id: &str, binding: &Binding) {
        let Some(shape) = &binding.shape else {
            return;
        };
        let key = (binding.message.trigger_type.clone(), shape.clone());
        if let Some(ids) = self.shapes.get_mut(&key) {
            ids.remove(id);
            if ids.is_empty() {
                self.shapes.remove(&key);
            }
        }
    }

    fn refuse(&self, owner: Option<&str>, t: &RegisterTrigger, error: ErrorBody) {
        if let Some(owner) = owner {
            self.send_to(
                owner,
                &Message::TriggerRegistrationResult(TriggerRegistrationResult {
                    id: t.id.clone(),
                    trigger_type: t.trigger_type.clone(),
                    function_id: t.function_id.clone(),
                    error: Some(error),
                }),
            );
        }
    }

    /// Removes a binding. For a worker (`by`), only its own bindings and
    /// those nobody owns: the one owner rule of the `unregistertrigger`
    /// frame and of `engine::unregister_trigger`.
    pub(super) fn unregister_binding(&mut self, id: &str, by: Option<&str>) -> bool {
        let Some(binding) = self.bindings.get(id) else {
            return false;
        };
        let foreign = |worker: &str| binding.owner.as_deref().is_some_and(|o| o != worker);
        if by.is_some_and(foreign) {
            return false;
        }
        let Some(binding) = self.bindings.remove(id) else {
            return false;
        };
        self.unindex(id, &binding);
        if let Some(key) = &binding.served_by
            && let Some(ProviderEntry {
                provider: Provider::Worker(p),
                ..
            }) = self.providers.get(key)
        {
            self.send_to(
                p,
                &Message::UnregisterTrigger(UnregisterTrigger {
                    id: id.to_string(),
                    trigger_type: Some(binding.message.trigger_type.clone()),
                }),
            );
        }
        true
    }

    fn register_trigger_type(&mut self, worker_id: &str, namespace: &str, t: RegisterTriggerType) {
        let ns = t.namespace.clone().unwrap_or_else(|| namespace.to_string());
        let key = (ns, t.id.clone());
        self.providers.insert(
            key.clone(),
            ProviderEntry {
                provider: Provider::Worker(worker_id.to_string()),
                message: Some(t),
            },
        );
        // Replay every binding this provider now serves, parked ones included.
        let ids: Vec<String> = self.bindings.keys().cloned().collect();
        for id in ids {
            let Some(binding) = self.bindings.get(&id) else {
                continue;
            };
            if binding.message.trigger_type != key.1 {
                continue;
            }
            let resolved = self.resolve_provider(&binding.message, &binding.origin_namespace);
            if resolved.as_ref() != Some(&key) {
                continue;
            }
            let frame = Message::RegisterTrigger(forwarded(&binding.message));
            if let Some(b) = self.bindings.get_mut(&id) {
                b.served_by = Some(key.clone());
            }
            self.send_to(worker_id, &frame);
        }
    }

    /// A provider's verdict on a binding it was sent.
    pub(super) fn provider_verdict(&mut self, worker_id: &str, result: TriggerRegistrationResult) {
        let Some(binding) = self.bindings.get(&result.id) else {
            return;
        };
        let Some(key) = binding.served_by.clone() else {
            return;
        };
        let is_provider = matches!(
            self.providers.get(&key),
            Some(ProviderEntry { provider: Provider::Worker(p), .. }) if p == worker_id
        );
        if !is_provider {
            return;
        }
        if let Some(ack) = self.acks.remove(&result.id) {
            let _ = ack.send(result.error.clone());
        }
        let Some(error) = result.error else { return };
        let owner = binding.owner.clone();
        if let Some(b) = self.bindings.get_mut(&result.id) {
            b.served_by = None;
        }
        if let Some(owner) = owner {
            self.send_to(
                &owner,
                &Message::TriggerRegistrationResult(TriggerRegistrationResult {
                    error: Some(error),
                    ..result
                }),
            );
        }
    }
}

/// The binding as a provider receives it: namespaces only when not default.
pub(super) fn forwarded(t: &RegisterTrigger) -> RegisterTrigger {
    let keep = |ns: &Option<String>| ns.clone().filter(|ns| ns != DEFAULT_NAMESPACE);
    RegisterTrigger {
        namespace: keep(&t.namespace),
        trigger_namespace: keep(&t.trigger_namespace),
        ..t.clone()
    }
}
