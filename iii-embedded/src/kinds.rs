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

/// Whether the engine evaluates a binding's `condition_function_id` before
/// firing it (engine 0.23: never for `subscribe`, the join/leave, log and
/// availability types).
pub(crate) const fn honours_condition(kind: TriggerKind) -> bool {
    match kind {
        TriggerKind::Http
        | TriggerKind::Cron
        | TriggerKind::Queue
        | TriggerKind::State
        | TriggerKind::Stream => true,
        TriggerKind::Subscribe
        | TriggerKind::StreamJoin
        | TriggerKind::StreamLeave
        | TriggerKind::Log
        | TriggerKind::FunctionsAvailable
        | TriggerKind::WorkersAvailable
        | TriggerKind::Custom => false,
    }
}

/// Whether the engine passes a binding's metadata with each fire (engine
/// 0.23: not for `subscribe` nor `durable:subscriber`).
pub(crate) const fn delivers_metadata(kind: TriggerKind) -> bool {
    match kind {
        TriggerKind::Subscribe | TriggerKind::Queue => false,
        TriggerKind::Http
        | TriggerKind::Cron
        | TriggerKind::State
        | TriggerKind::Stream
        | TriggerKind::StreamJoin
        | TriggerKind::StreamLeave
        | TriggerKind::Log
        | TriggerKind::FunctionsAvailable
        | TriggerKind::WorkersAvailable
        | TriggerKind::Custom => true,
    }
}
