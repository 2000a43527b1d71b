//! How a handler's failure answers an HTTP client.
//!
//! A failure the handler chose (an [`Error::http`], or an [`Error::new`]
//! with a code of its own) answers with its status (from the code, by the
//! table below, else 500) and `{"error": {"code", "message"}}`. Input that
//! does not decode answers 400, naming the field. Anything else (a panic,
//! a failed call inside the handler, an SDK error) is an accident: the
//! client gets 500 and an error id, and only the worker's log gets the
//! text, under that id.

use serde_json::{Value, json};

use crate::error::Error;
use crate::error::codes::{self, status_for};

/// A fresh id for one failure an HTTP client was told of: 12 hex digits,
/// as the engine's own error ids.
pub(crate) fn error_id() -> String {
    format!("{:012x}", crate::ids::random_u128() >> 80)
}

/// How `error` answers an HTTP client: the response's status and body,
/// and whether the client may read why (`false`: the body names
/// `error_id` only).
pub(crate) fn respond(error: &Error, error_id: &str) -> (u16, Value, bool) {
    let public = match error {
        Error::Http {
            status,
            code,
            message,
        } => Some((*status, code.as_str(), message.as_str())),
        Error::Handler { code, message, .. } if code != codes::INVOCATION_FAILED => {
            Some((status_for(code), code.as_str(), message.as_str()))
        }
        _ => None,
    };
    match public {
        Some((status, code, message)) => (
            status,
            json!({"error": {"code": code, "message": message}}),
            true,
        ),
        None => (
            500,
            json!({"error": {
                "code": "internal_error",
                "message": format!("the handler failed; the worker's log has the reason under error id {error_id}"),
                "error_id": error_id,
            }}),
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_reads_what_the_handler_chose_and_nothing_else() {
        let (status, body, public) = respond(&Error::http(404, "no user 7"), "e1");
        assert_eq!((status, public), (404, true));
        assert_eq!(
            body,
            json!({"error": {"code": "not_found", "message": "no user 7"}})
        );
        let (status, body, _) = respond(&Error::new("card_declined", "insufficient funds"), "e1");
        assert_eq!(status, 500);
        assert_eq!(body["error"]["message"], "insufficient funds");
        for internal in [
            Error::msg("a secret path /etc/app.toml"),
            Error::Panicked {
                function_id: "f".into(),
                message: "index out of bounds".into(),
            },
            Error::Timeout {
                function_id: "g".into(),
                invocation_id: uuid::Uuid::nil(),
                timeout: std::time::Duration::from_secs(1),
            },
        ] {
            let (status, body, public) = respond(&internal, "abc123");
            assert_eq!((status, public), (500, false));
            assert_eq!(body["error"]["error_id"], "abc123");
            let text = body.to_string();
            assert!(
                !text.contains("secret") && !text.contains("bounds") && !text.contains("`g`"),
                "{text}"
            );
        }
    }
}
