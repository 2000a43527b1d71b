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

use crate::error::{Error, codes};

/// Canonical codes by HTTP status, for [`Error::http`] and back.
const CODES: [(u16, &str); 17] = [
    (400, "bad_request"),
    (401, "unauthorized"),
    (403, "forbidden"),
    (404, "not_found"),
    (405, "method_not_allowed"),
    (409, "conflict"),
    (410, "gone"),
    (412, "precondition_failed"),
    (413, "payload_too_large"),
    (415, "unsupported_media_type"),
    (422, "unprocessable_entity"),
    (429, "too_many_requests"),
    (500, "internal_error"),
    (501, "not_implemented"),
    (502, "bad_gateway"),
    (503, "unavailable"),
    (504, "gateway_timeout"),
];

/// Other spellings of the same statuses (gRPC's, and the SDK's own).
const ALIASES: [(&str, u16); 6] = [
    ("invalid_argument", 400),
    (codes::DESERIALIZATION_ERROR, 400),
    ("unauthenticated", 401),
    ("permission_denied", 403),
    ("already_exists", 409),
    ("resource_exhausted", 429),
];

/// A fresh id for one failure an HTTP client was told of: 12 hex digits,
/// as the engine's own error ids.
pub(crate) fn error_id() -> String {
    format!("{:012x}", crate::ids::random_u128() >> 80)
}

/// The code [`Error::http`] gives `status`.
pub(crate) fn code_for(status: u16) -> String {
    CODES
        .iter()
        .find(|(s, _)| *s == status)
        .map_or_else(|| format!("http_{status}"), |(_, code)| (*code).to_string())
}

/// The status a handler's own `code` answers with: the table's, else 500.
pub(crate) fn status_for(code: &str) -> u16 {
    let named = CODES.iter().find(|(_, c)| *c == code).map(|(s, _)| *s);
    let aliased = || ALIASES.iter().find(|(c, _)| *c == code).map(|(_, s)| *s);
    let numbered = || {
        code.strip_prefix("http_")
            .and_then(|s| s.parse().ok())
            .filter(|s| (400..600).contains(s))
    };
    named.or_else(aliased).or_else(numbered).unwrap_or(500)
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
    fn statuses_and_codes_go_both_ways() {
        for (status, code) in CODES {
            assert_eq!(code_for(status), code);
            assert_eq!(status_for(code), status);
        }
        assert_eq!(code_for(418), "http_418");
        assert_eq!(status_for("http_418"), 418);
        assert_eq!(status_for("http_200"), 500, "only error statuses");
        assert_eq!(status_for("already_exists"), 409);
        assert_eq!(status_for(codes::DESERIALIZATION_ERROR), 400);
        assert_eq!(status_for("card_declined"), 500);
    }

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
