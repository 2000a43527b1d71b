//! The engine's verdicts on this worker's registrations: a refused
//! binding or function is reported on its handle; a refused worker ends
//! the session for good.

use iii_protocol::{
    ErrorBody, FUNCTION_NAMESPACE_CONFLICT, RegistrationRejected, TriggerRegistrationResult,
};

use crate::session::Fatal;
use crate::worker::Worker;

/// A binding's verdict: only refusals are sent.
pub(super) fn binding(worker: &Worker, result: TriggerRegistrationResult) {
    let Some(error) = result.error else { return };
    tracing::warn!(
        trigger_id = result.id,
        trigger_type = result.trigger_type,
        function_id = result.function_id,
        "trigger binding refused: {error}"
    );
    worker.record_binding_refusal(&result.id, error);
}

/// A refused registration: one that names a function refuses only that
/// function (its handle reports why) and keeps the connection; the
/// others (a worker-name conflict, a code naming no function) refuse the
/// worker.
pub(super) fn rejection(worker: &Worker, rejected: RegistrationRejected) -> Option<Fatal> {
    let Some(function_id) = rejected
        .function_id
        .as_deref()
        .filter(|_| rejected.refuses_one_function())
    else {
        return Some(Fatal::Rejected(rejected));
    };
    let namespace = &rejected.namespace;
    let message = if rejected.code == FUNCTION_NAMESPACE_CONFLICT {
        format!(
            "`{function_id}` is already exported in namespace `{namespace}` by worker {}",
            rejected.owner_worker_id
        )
    } else {
        format!(
            "the engine refused `{function_id}` in namespace `{namespace}` with `{}`",
            rejected.code
        )
    };
    tracing::warn!(
        function_id,
        code = rejected.code,
        "function refused: {message}"
    );
    worker.record_function_refusal(function_id, ErrorBody::new(rejected.code.clone(), message));
    None
}
