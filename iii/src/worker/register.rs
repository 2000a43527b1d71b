//! What a worker registers: functions, trigger bindings, trigger types
//! and services. Each is kept in the registry for the replay after a
//! reconnect, and sent at once when a session is live.

use std::sync::Arc;

use iii_protocol::{
    Message, MessageRef, RegisterFunction, RegisterService, TriggerKind, UnregisterFunction,
    UnregisterTrigger, UnregisterTriggerType,
};

use super::connect::BINDINGS_PER_PING;
use super::registry::{Alias, Serving};
use super::{Link, Worker};
use crate::error::{Error, validate_id};
use crate::function::{Function, FunctionHandle};
use crate::handler::Pace;
use crate::session::Frame;
use crate::sync::lock;
use crate::trigger::{Trigger, TriggerHandle, TriggerInfo};
use crate::trigger_type::{TriggerType, TriggerTypeHandle, TriggerTypeHandler, erase_provider};

impl Worker {
    /// Registers a function and starts serving it. The function is replayed
    /// after every reconnect until it is unregistered.
    ///
    /// Fails, sending nothing, if the id is empty or already registered on
    /// this worker, or if its registration (schemas included) is larger
    /// than the frame limit.
    pub fn register_function(&self, function: Function) -> Result<FunctionHandle, Error> {
        let id = function.message.id.clone();
        validate_id("function id", &id)?;
        let frame = self.encode(&MessageRef::RegisterFunction(&function.message), || {
            format!("the registration of function `{id}`")
        })?;
        let mut link = lock(&self.inner.link);
        if link.registry.functions.contains_key(&id) {
            return Err(Error::invalid(
                "function id",
                format!("`{id}` is already registered on this worker; unregister it first"),
            ));
        }
        let serving = match function.handler {
            Some(handler) => Serving::Local(handler, Arc::from(id.as_str()), Pace::new()),
            None => Serving::Endpoint,
        };
        let status = link
            .registry
            .add_function(function.message, frame.clone(), serving);
        send_if_live(&link, frame);
        Ok(FunctionHandle {
            id,
            worker: self.clone(),
            verdict: status,
        })
    }

    /// Withdraws a function registered by this worker.
    pub fn unregister_function(&self, id: &str) -> Result<(), Error> {
        let frame = self.encode(
            &Message::UnregisterFunction(UnregisterFunction { id: id.to_string() }),
            || format!("the withdrawal of function `{id}`"),
        )?;
        let mut link = lock(&self.inner.link);
        if link.registry.functions.remove(id).is_none() {
            return Err(Error::invalid(
                "function id",
                format!("`{id}` is not registered on this worker"),
            ));
        }
        send_if_live(&link, frame);
        Ok(())
    }

    /// Binds a trigger to a function. The config is validated first; a
    /// refusal from the engine or the provider arrives on the handle.
    ///
    /// A binding to a function of this worker targets an alias of it,
    /// `<id>:trigger:<index>` (hidden from listings), so each fire carries
    /// which binding it is for: the handler gets it as
    /// [`crate::Context::trigger`], and the SDK passes the binding's
    /// metadata and evaluates its condition where the engine does not
    /// (`subscribe`, and metadata on `queue`). A binding to another
    /// worker's function that uses either is refused, with the reason.
    pub fn register_trigger(&self, trigger: Trigger) -> Result<TriggerHandle, Error> {
        if let Some(id) = trigger.get_id() {
            validate_id("trigger id", id)?;
        }
        // What is needed of the trigger once its message has taken it.
        let user_id = trigger.get_id().map(String::from);
        let kind = trigger.kind();
        let mut message = trigger.into_message(String::new(), self.namespace())?;
        self.check_takes_triggers(|| {
            format!(
                "the `{}` trigger of `{}`",
                message.trigger_type, message.function_id
            )
        })?;
        if kind == Some(TriggerKind::Log)
            && let Some(namespace) = message
                .namespace
                .as_deref()
                .filter(|ns| *ns != iii_protocol::DEFAULT_NAMESPACE)
        {
            return Err(Error::invalid(
                format!("log trigger for `{}`", message.function_id),
                format!(
                    "the iii engine 0.23 delivers `log` fires only to functions in `default`, and this target is in `{namespace}`; bind it from a worker in `default`"
                ),
            ));
        }
        let mut link = lock(&self.inner.link);
        if let Some(id) = &user_id
            && link.registry.triggers.contains_key(id)
        {
            return Err(Error::invalid(
                "trigger id",
                format!("`{id}` is already bound on this worker; unregister it first"),
            ));
        }
        let function_id = message.function_id.clone();
        if !link.registry.serves_locally(&function_id) {
            message.id = match user_id {
                Some(id) => id,
                None => crate::ids::next_uuid().to_string(),
            };
            let id = message.id.clone();
            if let Some(dropped) = crate::trigger::engine_drops(
                kind,
                message.metadata.is_some(),
                Some(&message.config),
            ) {
                return Err(Error::invalid(
                    format!("trigger for `{function_id}`"),
                    format!(
                        "{dropped}; bind a function of this worker instead, whose fires the SDK completes"
                    ),
                ));
            }
            let frame = self.encode(&MessageRef::RegisterTrigger(&message), || {
                format!("the trigger binding of `{function_id}`")
            })?;
            let status = link.registry.add_trigger(message, frame.clone(), None);
            send_binding_if_live(&mut link, frame);
            return Ok(TriggerHandle {
                id,
                worker: self.clone(),
                verdict: status,
            });
        }
        let index = link.registry.next_trigger_index(&function_id);
        let alias_id = crate::trigger::alias(&function_id, index);
        let kind = kind.unwrap_or(TriggerKind::Custom);
        let condition = message
            .config
            .get("condition_function_id")
            .and_then(serde_json::Value::as_str)
            .filter(|_| kind.ignores("condition").is_some())
            .map(String::from);
        message.function_id = alias_id.clone();
        message.id = match user_id {
            Some(id) => id,
            None => crate::trigger::derived_binding_id(&message),
        };
        let id = message.id.clone();
        // Kept without its metadata, which is only ever sent (see
        // `AliasFrame`).
        let alias_function = RegisterFunction {
            id: alias_id.clone(),
            description: Some(format!("Trigger {index} of `{function_id}`")),
            request_format: None,
            response_format: None,
            metadata: None,
            invocation: None,
        };
        let alias_frame = self.encode(
            &AliasFrame::of(
                &alias_function.id,
                alias_function.description.as_deref(),
                &function_id,
            ),
            || format!("the alias of trigger {index} of `{function_id}`"),
        )?;
        let frame = self.encode(&MessageRef::RegisterTrigger(&message), || {
            format!("the trigger binding of `{function_id}`")
        })?;
        // Once sent, the config and metadata live in the alias alone (the
        // registry reads them there: `Registry::binding_config`); a config
        // map takes a B-tree node of about 600 bytes.
        let alias = Alias {
            function_id: function_id.clone(),
            info: Arc::new(TriggerInfo {
                id: id.clone(),
                index,
                kind,
                trigger_type: message.trigger_type.clone(),
                config: std::mem::take(&mut message.config),
            }),
            metadata: message.metadata.take(),
            condition,
        };
        link.registry.add_function(
            alias_function,
            alias_frame.clone(),
            Serving::Alias(Arc::new(alias)),
        );
        let status = link
            .registry
            .add_trigger(message, frame.clone(), Some(alias_id));
        send_if_live(&link, alias_frame);
        send_binding_if_live(&mut link, frame);
        Ok(TriggerHandle {
            id,
            worker: self.clone(),
            verdict: status,
        })
    }

    /// Removes a trigger binding registered by this worker.
    pub fn unregister_trigger(&self, id: &str) -> Result<(), Error> {
        let mut link = lock(&self.inner.link);
        let Some(entry) = link.registry.triggers.remove(id) else {
            return Err(Error::invalid(
                "trigger id",
                format!("`{id}` is not registered on this worker"),
            ));
        };
        let frame = self.encode(
            &Message::UnregisterTrigger(UnregisterTrigger {
                id: id.to_string(),
                trigger_type: Some(entry.message.trigger_type),
            }),
            || format!("the removal of binding `{id}`"),
        )?;
        send_if_live(&link, frame);
        if let Some(alias) = entry.alias
            && link.registry.functions.remove(&alias).is_some()
        {
            let frame = self.encode(
                &Message::UnregisterFunction(UnregisterFunction { id: alias.clone() }),
                || format!("the withdrawal of `{alias}`"),
            )?;
            send_if_live(&link, frame);
        }
        Ok(())
    }

    /// Provides a custom trigger type: the engine forwards every binding of
    /// it to `handler`, which starts and stops firing them.
    pub fn register_trigger_type<H: TriggerTypeHandler>(
        &self,
        trigger_type: TriggerType,
        handler: H,
    ) -> Result<TriggerTypeHandle, Error> {
        let message = trigger_type.into_message::<H::Config>();
        validate_id("trigger type id", &message.id)?;
        self.check_takes_triggers(|| format!("trigger type `{}`", message.id))?;
        if message.description.trim().is_empty() {
            return Err(Error::invalid(
                "trigger type",
                format!(
                    "`{}` has an empty description; the engine drops trigger types without one",
                    message.id
                ),
            ));
        }
        let id = message.id.clone();
        let frame = self.encode(&MessageRef::RegisterTriggerType(&message), || {
            format!("the registration of trigger type `{id}`")
        })?;
        let mut link = lock(&self.inner.link);
        if link.registry.trigger_types.contains_key(&id) {
            return Err(Error::invalid(
                "trigger type id",
                format!("`{id}` is already provided by this worker; unregister it first"),
            ));
        }
        link.registry
            .add_trigger_type(message, frame.clone(), erase_provider(handler));
        send_if_live(&link, frame);
        Ok(TriggerTypeHandle {
            id,
            worker: self.clone(),
        })
    }

    /// Stops providing a trigger type. Bindings that arrive afterwards are
    /// refused with `trigger_type_not_found`.
    ///
    /// The frame is sent for compatibility with the official SDKs, but engine
    /// 0.23 ignores it: the engine forgets the provider only when the worker
    /// disconnects.
    pub fn unregister_trigger_type(&self, id: &str) -> Result<(), Error> {
        let frame = self.encode(
            &Message::UnregisterTriggerType(UnregisterTriggerType { id: id.to_string() }),
            || format!("the withdrawal of trigger type `{id}`"),
        )?;
        let mut link = lock(&self.inner.link);
        if link.registry.trigger_types.remove(id).is_none() {
            return Err(Error::invalid(
                "trigger type id",
                format!("`{id}` is not provided by this worker"),
            ));
        }
        send_if_live(&link, frame);
        Ok(())
    }

    /// Declares a service (a grouping of functions shown by the engine's
    /// tooling). Registering the same id again replaces it.
    pub fn register_service(&self, service: RegisterService) -> Result<(), Error> {
        validate_id("service id", &service.id)?;
        let frame = self.encode(&MessageRef::RegisterService(&service), || {
            format!("the registration of service `{}`", service.id)
        })?;
        let mut link = lock(&self.inner.link);
        link.registry.add_service(&service.id, frame.clone());
        send_if_live(&link, frame);
        Ok(())
    }
}

/// Sends a registration frame if a session is live. Otherwise (or if the
/// session is ending) the replay on the next connection delivers it.
fn send_if_live(link: &Link, frame: Frame) {
    if let Some(session) = &link.session {
        let _ = session.send(frame);
    }
}

/// [`send_if_live`] for a binding, which a session still waiting for its
/// announcement sends with the others. A ping follows every
/// [`BINDINGS_PER_PING`] bindings, so that [`Worker::flush`] sees the
/// engine's progress through many of them (iii 0.23 takes seconds over a
/// thousand routes).
fn send_binding_if_live(link: &mut Link, frame: Frame) {
    if link.bindings_pending {
        return;
    }
    let Some(session) = &link.session else {
        return;
    };
    if session.send(frame).is_ok() {
        link.bindings_since_ping += 1;
        if link.bindings_since_ping >= BINDINGS_PER_PING {
            link.bindings_since_ping = 0;
            let _ = session.ping();
        }
    }
}

/// A binding's alias as it is registered: `registerfunction`, with the
/// metadata `{"internal": true, "trigger_of": <function>}` (`internal`
/// hides it from listings) written from borrowed parts. Built as a
/// `serde_json::Value` and kept in the registry, that map took a B-tree
/// node of about 600 bytes for each alias, for the worker's life; nothing
/// reads it back, so the registry keeps the alias without it.
#[derive(serde::Serialize)]
pub(crate) struct AliasFrame<'a> {
    r#type: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    metadata: AliasMetadata<'a>,
}

#[derive(serde::Serialize)]
struct AliasMetadata<'a> {
    internal: bool,
    trigger_of: &'a str,
}

impl<'a> AliasFrame<'a> {
    /// The registration of alias `id`, described as `description`, of a
    /// binding of `function_id` (an alias has no formats and no
    /// invocation).
    pub(crate) fn of(id: &'a str, description: Option<&'a str>, function_id: &'a str) -> Self {
        AliasFrame {
            r#type: "registerfunction",
            id,
            description,
            metadata: AliasMetadata {
                internal: true,
                trigger_of: function_id,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The alias frame is byte for byte the frame of the whole
    /// registration, metadata included, as the engine must read it.
    #[test]
    fn an_alias_frame_is_its_whole_registration() {
        for (description, function_id) in [
            (Some("Trigger 0 of `shop::order`"), "shop::order"),
            (Some("Trigger 7 of `a \"quoted\" id`"), "a \"quoted\" id"),
            (None, "plain"),
        ] {
            let alias = RegisterFunction {
                id: format!("{function_id}:trigger:0"),
                description: description.map(String::from),
                request_format: None,
                response_format: None,
                metadata: None,
                invocation: None,
            };
            let whole = RegisterFunction {
                metadata: Some(serde_json::json!({"internal": true, "trigger_of": function_id})),
                ..alias.clone()
            };
            assert_eq!(
                serde_json::to_string(&AliasFrame::of(&alias.id, description, function_id))
                    .expect("encodes"),
                serde_json::to_string(&MessageRef::RegisterFunction(&whole)).expect("encodes"),
            );
        }
    }
}
