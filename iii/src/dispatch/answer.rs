//! Answering an invocation: the result, or the error that replaces it.

use iii_protocol::{ErrorBody, InvocationResultRef, ResultValue};
use serde_json::Value;
use uuid::Uuid;

use crate::session::Session;
use crate::worker::Worker;

/// Sends the answer to one invocation. A result the frame rules refuse
/// (too large, too deep) is replaced by an error saying so, so the caller
/// is never left waiting.
pub(super) fn answer(
    worker: &Worker,
    session: &Session,
    invocation_id: Uuid,
    function_id: &str,
    outcome: Result<&ResultValue, &ErrorBody>,
) {
    // Encoded as it is: a value already JSON text is written without
    // another pass, and the ids are borrowed.
    let reply = InvocationResultRef::new(invocation_id, function_id, outcome);
    let frame = worker.encode(&reply, || format!("the result of `{function_id}`"));
    let frame = match frame {
        Ok(frame) => frame,
        Err(error) => {
            let id = invocation_id;
            tracing::warn!(%id, "answering with an error instead: {error}");
            let body = ErrorBody::new(error.code(), error.to_string());
            let refusal = InvocationResultRef::new(id, function_id, Err(&body));
            match worker.encode(&refusal, || format!("the error result of `{function_id}`")) {
                Ok(frame) => frame,
                Err(e) => {
                    tracing::error!(%id, "could not encode an error result: {e}");
                    return;
                }
            }
        }
    };
    if !worker.send_on(session, frame) {
        let id = invocation_id;
        tracing::warn!(%id, "could not send a result: not connected; the caller gets `invocation_stopped`");
    }
}

/// Turns an invocation away before it runs: its caller gets `code` and
/// `reason`; a fire-and-forget one, with nobody to answer, is logged.
pub(super) fn refuse(
    worker: &Worker,
    session: &Session,
    invocation_id: Option<Uuid>,
    function_id: String,
    code: &str,
    reason: String,
) {
    match invocation_id {
        Some(id) => {
            let body = ErrorBody::new(code, reason);
            answer(worker, session, id, &function_id, Err(&body));
        }
        None => tracing::warn!(
            function_id,
            "dropping a fire-and-forget invocation: {reason}"
        ),
    }
}

/// The answer to an `http` fire whose handler returned nothing (`()` or
/// `null`). The engine reads a `null` result as "the response is streamed
/// on the response channel" and, with nothing streamed, makes the client
/// wait for its HTTP timeout (30 s) and answers 504; a handler with nothing
/// to say means 204 No Content.
pub(super) fn no_content() -> Value {
    serde_json::json!({"status_code": 204})
}
