//! The engine's replies to an HTTP request: JSON ones, errors, a handler's
//! `{status_code, headers, body}`, a middleware's `respond`, and the 504
//! of the timeout.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

/// A reply, its body whole or streamed.
pub(super) type Reply = Response<UnsyncBoxBody<Bytes, Infallible>>;

/// Marks a reply the engine gives outside its CORS layer.
#[derive(Clone, Copy)]
pub(super) struct OutsideCors;

fn full(bytes: impl Into<Bytes>) -> UnsyncBoxBody<Bytes, Infallible> {
    Full::new(bytes.into()).boxed_unsync()
}

/// `body` as JSON, with `status`.
pub(super) fn json_reply(status: StatusCode, body: &Value) -> Reply {
    let mut reply = Response::new(full(body.to_string()));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reply
}

/// The engine's error body, with an error id of its own.
pub(super) fn error_reply(status: StatusCode, code: &str, message: &str) -> Reply {
    let error_id = &uuid::Uuid::new_v4().simple().to_string()[..12];
    json_reply(
        status,
        &json!({"error": {"code": code, "message": message, "error_id": error_id}}),
    )
}

/// The engine's answer when a handler's response does not come in time:
/// 504 with an empty body, from its timeout layer (which wraps the CORS
/// layer, so without CORS headers).
pub(super) fn gateway_timeout() -> Reply {
    let mut reply = Response::new(full(Bytes::new()));
    *reply.status_mut() = StatusCode::GATEWAY_TIMEOUT;
    reply.extensions_mut().insert(OutsideCors);
    reply
}

/// A middleware's `respond`: the status (200 unless 100 to 999), the body
/// always as JSON, and the headers if every value is a string.
pub(super) fn middleware_response(response: Option<&Value>) -> Reply {
    let status = response
        .and_then(|r| r.get("status_code"))
        .and_then(Value::as_u64)
        .filter(|s| (100..=999).contains(s))
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body = response
        .and_then(|r| r.get("body"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut reply = json_reply(status, &body);
    if let Some(Value::Object(headers)) = response.and_then(|r| r.get("headers"))
        && headers.values().all(Value::is_string)
    {
        for (name, value) in headers {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(HeaderValue::from_str),
            ) {
                reply.headers_mut().insert(name, value);
            }
        }
    }
    reply
}

/// The handler's `{status_code, headers, body}` as an HTTP response.
pub(super) fn build_response(result: &Value) -> Reply {
    let status = result
        .get("status_code")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut headers: Vec<(String, String)> = Vec::new();
    match result.get("headers") {
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                headers.push((k.clone(), v));
            }
        }
        Some(Value::Array(lines)) => {
            for line in lines.iter().filter_map(Value::as_str) {
                if let Some((k, v)) = line.split_once(':') {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
        }
        _ => {}
    }
    let has_content_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let body = result.get("body").cloned().unwrap_or_else(|| json!({}));
    let bytes = match (&body, has_content_type) {
        (_, false) => {
            headers.push(("content-type".into(), "application/json".into()));
            body.to_string()
        }
        (Value::String(raw), true) => raw.clone(),
        (Value::Null, true) => String::new(),
        (other, true) => other.to_string(),
    };
    let mut reply = Response::new(full(bytes));
    *reply.status_mut() = status;
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            reply.headers_mut().append(name, value);
        }
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_follow_the_serialisation_rules() {
        let r = build_response(
            &json!({"status_code": 201, "headers": {"X-Probe": "yes"}, "body": {"a": 1}}),
        );
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["x-probe"], "yes");
        let r = build_response(
            &json!({"headers": ["Content-Type: text/plain"], "body": "plain text!"}),
        );
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/plain");
        let r = build_response(&json!({"status_code": 99999}));
        assert_eq!(r.status(), 200, "out-of-range status falls back to 200");
    }
}
