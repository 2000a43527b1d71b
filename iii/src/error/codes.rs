//! Error codes the SDK puts on the wire, following the official SDKs.

/// A handler failed (returned an error without a code, or panicked).
pub const INVOCATION_FAILED: &str = "invocation_failed";
/// No handler for the function id on this worker or in the engine.
pub const FUNCTION_NOT_FOUND: &str = "function_not_found";
/// The input did not decode into the handler's input type.
pub const DESERIALIZATION_ERROR: &str = iii_protocol::salvage::DESERIALIZATION_ERROR;
/// A local call timeout expired.
pub const TIMEOUT: &str = "TIMEOUT";
/// The function is HTTP-invoked and cannot run here.
pub const FUNCTION_NOT_INVOKABLE: &str = "function_not_invokable";
/// A provider has no handler for the trigger type.
pub const TRIGGER_TYPE_NOT_FOUND: &str = "trigger_type_not_found";
/// The engine stopped a call because the callee went away.
pub const INVOCATION_STOPPED: &str = "invocation_stopped";
/// A result was larger than the frame limit, so it could not be sent.
pub const FRAME_TOO_LARGE: &str = "frame_too_large";
/// A result nested deeper than the engine decodes, so it could not be
/// sent.
pub const TOO_DEEP: &str = "too_deep";
/// The worker was running as many invocations as its limit allows.
pub const TOO_MANY_INVOCATIONS: &str = "too_many_invocations";
/// The engine does not take what was registered (as the official SDKs
/// spell it).
pub const UNSUPPORTED: &str = "UNSUPPORTED";

// Canonical codes by HTTP status, for [`Error::http`] and back.
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

// Other spellings of the same statuses (gRPC's, and the SDK's own).
const ALIASES: [(&str, u16); 6] = [
    ("invalid_argument", 400),
    (DESERIALIZATION_ERROR, 400),
    ("unauthenticated", 401),
    ("permission_denied", 403),
    ("already_exists", 409),
    ("resource_exhausted", 429),
];

/// The code [`Error::http`](crate::Error::http) gives `status`: the
/// table's name, else `http_<status>`.
pub fn code_for(status: u16) -> String {
    CODES
        .iter()
        .find(|(s, _)| *s == status)
        .map_or_else(|| format!("http_{status}"), |(_, code)| (*code).to_string())
}

/// The HTTP status an `http`-bound handler failing with `code` answers:
/// the table's (`not_found`: 404, ...), an alias's (`invalid_argument`:
/// 400, `already_exists`: 409, ...), `http_<status>`'s, else 500.
pub fn status_for(code: &str) -> u16 {
    let named = CODES.iter().find(|(_, c)| *c == code).map(|(s, _)| *s);
    let aliased = || ALIASES.iter().find(|(c, _)| *c == code).map(|(_, s)| *s);
    let numbered = || {
        code.strip_prefix("http_")
            .and_then(|s| s.parse().ok())
            .filter(|s| (400..600).contains(s))
    };
    named.or_else(aliased).or_else(numbered).unwrap_or(500)
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
        assert_eq!(status_for(DESERIALIZATION_ERROR), 400);
        assert_eq!(status_for("card_declined"), 500);
    }
}
