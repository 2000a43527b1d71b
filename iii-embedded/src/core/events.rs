//! What a change to the registries sets off once the lock is released:
//! the `engine::workers-available` and `engine::functions-available`
//! fires, and the modules' work for a binding that went live.

use std::sync::Arc;

use iii_protocol::{RegisterTrigger, TriggerKind};
use serde_json::{Value, json};

use super::Core;
use super::discovery::{FunctionFilter, function_summaries};
use super::kinds::type_id;
use super::module::OnBind;

/// An event the caller of a registry method delivers after unlocking.
pub(super) enum Event {
    /// A worker came, went or told about itself: the payload of the
    /// `engine::workers-available` fire.
    Workers(Value),
    /// A function came or went.
    FunctionsChanged,
    /// A binding of a module's trigger type went live: what the module
    /// does then.
    Bound(OnBind, RegisterTrigger),
}

/// Adds "a function came or went" to `events`, unless it is already the
/// last: an announcement applies thousands of registrations in a row, and
/// [`Core::deliver`] fires once for them all anyway (each event is about
/// 200 bytes, the size of a binding's).
pub(super) fn functions_changed(events: &mut Vec<Event>) {
    if !matches!(events.last(), Some(Event::FunctionsChanged)) {
        events.push(Event::FunctionsChanged);
    }
}

impl Core {
    /// Delivers events produced while the lock was held.
    pub(super) fn deliver(self: &Arc<Self>, events: Vec<Event>) {
        let mut functions_changed = false;
        for event in events {
            match event {
                Event::Workers(payload) => {
                    self.fire(type_id(TriggerKind::WorkersAvailable), payload, |_| true)
                }
                Event::FunctionsChanged => functions_changed = true,
                Event::Bound(bound, binding) => bound(self, binding),
            }
        }
        let available = type_id(TriggerKind::FunctionsAvailable);
        if functions_changed && !self.bindings(available).is_empty() {
            // Unfiltered, as the engine sends it.
            let functions = function_summaries(&self.lock(), &FunctionFilter::everything());
            self.fire(
                available,
                json!({"event": "functions_changed", "functions": functions}),
                |_| true,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_function_changes_is_one_event() {
        let mut events = Vec::new();
        for _ in 0..1_000 {
            functions_changed(&mut events);
        }
        assert_eq!(events.len(), 1);
        events.push(Event::Workers(Value::Null));
        functions_changed(&mut events);
        assert_eq!(events.len(), 3, "a change after another event is kept");
    }
}
