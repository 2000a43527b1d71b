//! The rules of the kinds table that the core applies to every built-in
//! trigger type: its engine id, whether its condition runs, whether its
//! metadata is passed.

use iii_protocol::TriggerKind;

/// The engine's trigger type id of a built-in kind.
pub(crate) fn type_id(kind: TriggerKind) -> &'static str {
    kind.engine_type().unwrap_or_default()
}

/// Whether the engine evaluates a binding's `condition_function_id` before
/// firing it: where the kind takes a condition and the kinds table does not
/// say the engine ignores it (custom types leave it to their provider).
pub(super) fn honours_condition(kind: TriggerKind) -> bool {
    kind != TriggerKind::Custom
        && kind.key("condition").is_some()
        && kind.ignores("condition").is_none()
}

/// Whether the engine passes a binding's metadata with each fire: unless
/// the kinds table says it drops it.
pub(super) fn delivers_metadata(kind: TriggerKind) -> bool {
    kind.ignores("metadata").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What engine 0.23 does, as read from its source and checked on both
    /// engines by the end-to-end tests.
    #[test]
    fn the_table_gives_the_engines_rules() {
        let honoured: Vec<_> = TriggerKind::ALL
            .into_iter()
            .filter(|k| honours_condition(*k))
            .collect();
        assert_eq!(
            honoured,
            [
                TriggerKind::Http,
                TriggerKind::Cron,
                TriggerKind::Queue,
                TriggerKind::State,
                TriggerKind::Stream
            ]
        );
        let dropped: Vec<_> = TriggerKind::ALL
            .into_iter()
            .filter(|k| !delivers_metadata(*k))
            .collect();
        assert_eq!(dropped, [TriggerKind::Subscribe, TriggerKind::Queue]);
    }
}
