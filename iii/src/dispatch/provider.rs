//! Bindings of the trigger types this worker provides: the engine hands
//! each one to the provider, which starts or stops firing it.

use iii_protocol::{
    ErrorBody, Message, RegisterTrigger, TriggerRegistrationResult, UnregisterTrigger,
};

use crate::error::codes;
use crate::session::Session;
use crate::worker::Worker;

/// A binding to serve: the provider's verdict goes back to the engine.
pub(super) fn register(worker: &Worker, session: &Session, binding: RegisterTrigger) {
    let provider = worker.trigger_provider(&binding.trigger_type);
    let worker = worker.clone();
    let session = session.clone();
    tokio::spawn(async move {
        let error = match provider {
            None => Some(ErrorBody::new(
                codes::TRIGGER_TYPE_NOT_FOUND,
                format!(
                    "worker `{}` does not provide trigger type `{}`",
                    worker.name(),
                    binding.trigger_type
                ),
            )),
            Some(provider) => provider
                .register(binding.clone(), worker.clone())
                .await
                .err()
                .map(|e| e.to_body()),
        };
        let verdict = Message::TriggerRegistrationResult(TriggerRegistrationResult {
            id: binding.id,
            trigger_type: binding.trigger_type,
            function_id: binding.function_id,
            error,
        });
        match worker.encode(&verdict, || "a binding verdict".into()) {
            Ok(frame) => {
                if !worker.send_on(&session, frame) {
                    tracing::debug!("could not send a binding verdict: not connected");
                }
            }
            Err(e) => tracing::error!("could not encode a binding verdict: {e}"),
        }
    });
}

/// A binding to stop serving.
pub(super) fn unregister(worker: &Worker, binding: UnregisterTrigger) {
    let Some(trigger_type) = binding.trigger_type.clone() else {
        tracing::debug!(id = binding.id, "unregistertrigger without a trigger type");
        return;
    };
    if let Some(provider) = worker.trigger_provider(&trigger_type) {
        tokio::spawn(async move {
            if let Err(e) = provider.unregister(binding.id.clone(), trigger_type).await {
                tracing::warn!(
                    id = binding.id,
                    "trigger provider failed to unregister a binding: {e}"
                );
            }
        });
    }
}
