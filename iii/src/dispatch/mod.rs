//! Frames for the worker: invocations of its functions, bindings for the
//! trigger types it provides, and the engine's verdicts on its
//! registrations. Each answer goes out on the session the frame came on.
//!
//! The worker is the session's [`Inbound`] handler: the reader hands it
//! every frame the session does not handle itself.

mod answer;
mod fire;
mod first_step;
mod invocation;
mod provider;
mod verdicts;

use iii_protocol::{IncomingInvoke, Message};

use crate::session::{Fatal, Inbound, Session};
use crate::worker::Worker;

impl Inbound for Worker {
    fn on_message(&self, session: &Session, message: Message) -> Option<Fatal> {
        match message {
            // The reader hands invocations to `on_invoke`; one that comes
            // as a message is read the same way.
            Message::InvokeFunction(invoke) => {
                return self.on_invoke(session, IncomingInvoke::from(invoke));
            }
            Message::RegisterTrigger(binding) => provider::register(self, session, binding),
            Message::UnregisterTrigger(binding) => provider::unregister(self, binding),
            Message::TriggerRegistrationResult(result) => verdicts::binding(self, result),
            Message::RegistrationRejected(rejected) => return verdicts::rejection(self, rejected),
            Message::WorkerRegistered(_) => {}
            other => tracing::debug!("ignoring an unexpected frame from the engine: {other:?}"),
        }
        None
    }

    fn on_invoke(&self, session: &Session, invoke: IncomingInvoke) -> Option<Fatal> {
        invocation::start(self, session, invoke.invoke, invoke.caller_worker_id);
        None
    }
}
