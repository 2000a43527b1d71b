//! The trigger kinds iii-embedded serves itself.

use iii_protocol::TriggerKind;

/// Whether iii-embedded serves a built-in trigger kind itself. Bindings of
/// the others are parked, as on an engine without the worker providing them.
pub(crate) const fn serves(kind: TriggerKind) -> bool {
    match kind {
        TriggerKind::Http
        | TriggerKind::Cron
        | TriggerKind::Subscribe
        | TriggerKind::Queue
        | TriggerKind::State
        | TriggerKind::Stream
        | TriggerKind::StreamJoin
        | TriggerKind::StreamLeave
        | TriggerKind::FunctionsAvailable
        | TriggerKind::WorkersAvailable => true,
        TriggerKind::Log | TriggerKind::Custom => false,
    }
}

/// The engine's trigger type id of a built-in kind.
pub(crate) fn type_id(kind: TriggerKind) -> &'static str {
    kind.engine_type().unwrap_or_default()
}
