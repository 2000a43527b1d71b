//! The REST listener that serves `http` triggers.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use iii_protocol::{ErrorBody, RegisterTrigger};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::kinds::type_id;
use crate::{Gate, Shared, binding_namespace};
use iii_protocol::TriggerKind;

type Reply = Response<Full<Bytes>>;

pub(crate) async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("http accept failed: {e}");
                    continue;
                }
            },
            _ = crate::raised(&mut stopped) => return,
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("http connection ended: {e}");
            }
        });
    }
}

fn json_reply(status: StatusCode, body: &Value) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body.to_string())));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reply
}

fn error_reply(status: StatusCode, code: &str, message: &str) -> Reply {
    let error_id = &uuid::Uuid::new_v4().simple().to_string()[..12];
    json_reply(
        status,
        &json!({"error": {"code": code, "message": message, "error_id": error_id}}),
    )
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let mut reply = respond(shared, req).await;
    reply
        .headers_mut()
        .insert("access-control-allow-origin", HeaderValue::from_static("*"));
    Ok(reply)
}

async fn respond(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let method = req.method().as_str().to_ascii_uppercase();
    let path = req.uri().path().to_string();
    let query_params = parse_query(req.uri().query().unwrap_or(""));
    let mut headers = BTreeMap::new();
    for (name, value) in req.headers() {
        headers.insert(
            name.as_str().to_string(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        );
    }
    let is_json = headers
        .get("content-type")
        .is_some_and(|ct| ct.contains("application/json"));
    let bytes = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return error_reply(StatusCode::BAD_REQUEST, "BAD_REQUEST", &e.to_string()),
    };
    let body = if is_json {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    } else {
        Value::Null
    };

    let bindings = shared.lock().builtin_bindings(type_id(TriggerKind::Http));
    let Some((binding, path_params)) = find_route(&bindings, &method, &path) else {
        return json_reply(
            StatusCode::NOT_FOUND,
            &json!({"error": {"code": "NOT_FOUND", "message": "Not Found"}}),
        );
    };
    let pattern = binding
        .config
        .get("api_path")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let payload = json!({
        "body": body,
        "headers": headers,
        "method": method,
        "path": pattern,
        "path_params": path_params,
        "query_params": query_params,
        "trigger": {"type": type_id(TriggerKind::Http), "method": method, "path": pattern},
    });
    let deadline = tokio::time::Instant::now() + shared.settings.http_timeout;
    let request = json!({
        "path_params": payload["path_params"],
        "query_params": payload["query_params"],
        "headers": payload["headers"],
        "method": payload["method"],
    });
    let outcome =
        match tokio::time::timeout_at(deadline, serve_route(&shared, &binding, payload, request))
            .await
        {
            Err(_) => return gateway_timeout(),
            Ok(Err(early)) => return early,
            Ok(Ok(outcome)) => outcome,
        };
    match outcome {
        Err(ErrorBody { code, message, .. }) => {
            error_reply(StatusCode::INTERNAL_SERVER_ERROR, &code, &message)
        }
        // The engine reads a null result as "the response is streamed on
        // the response channel" and waits for it until its timeout. No
        // channel exists here, so that wait always ends in the engine's 504.
        Ok(Value::Null) => {
            tokio::time::sleep_until(deadline).await;
            gateway_timeout()
        }
        Ok(result) => build_response(&result),
    }
}

/// The route's condition, then its middleware in order, then its handler,
/// as the engine runs them. `Err` is an answer given before the handler.
async fn serve_route(
    shared: &Arc<Shared>,
    binding: &RegisterTrigger,
    payload: Value,
    request: Value,
) -> Result<Result<Value, ErrorBody>, Reply> {
    match shared.gate(binding, &payload).await {
        Gate::Open => {}
        Gate::Skipped => {
            return Err(json_reply(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({"error": {"code": "CONDITION_NOT_MET", "message": "Request condition not met"}, "skipped": true}),
            ));
        }
        Gate::Failed(ErrorBody { code, message, .. }) => {
            return Err(error_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                &code,
                &message,
            ));
        }
    }
    let middleware = binding
        .config
        .get("middleware_function_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let input = json!({"phase": "preHandler", "request": request, "context": {}});
    for function_id in middleware {
        let verdict = shared
            .invoke(
                &binding_namespace(binding),
                function_id,
                input.clone(),
                None,
            )
            .await;
        match verdict {
            Err(ErrorBody { code, message, .. }) => {
                return Err(error_reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &code,
                    &message,
                ));
            }
            Ok(verdict) if verdict.get("action").and_then(Value::as_str) == Some("respond") => {
                return Err(middleware_response(verdict.get("response")));
            }
            // `continue`, and anything else the engine reads as continue.
            Ok(_) => {}
        }
    }
    Ok(shared.run(binding, payload).await)
}

/// A middleware's `respond`: the status (200 unless 100 to 999), the body
/// always as JSON, and the headers if every value is a string.
fn middleware_response(response: Option<&Value>) -> Reply {
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

/// The engine's answer when a handler's response does not come in time:
/// 504 with an empty body.
fn gateway_timeout() -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = StatusCode::GATEWAY_TIMEOUT;
    reply
}

/// The handler's `{status_code, headers, body}` as an HTTP response.
fn build_response(result: &Value) -> Reply {
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
    let mut reply = Response::new(Full::new(Bytes::from(bytes)));
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

/// The first binding whose method and pattern match, with its path params.
fn find_route(
    bindings: &[RegisterTrigger],
    method: &str,
    path: &str,
) -> Option<(RegisterTrigger, BTreeMap<String, String>)> {
    let requested: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for binding in bindings {
        let want = binding
            .config
            .get("http_method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_ascii_uppercase();
        if want != method {
            continue;
        }
        let pattern = binding
            .config
            .get("api_path")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
        if segments.len() != requested.len() {
            continue;
        }
        let mut params = BTreeMap::new();
        let matched =
            segments
                .iter()
                .zip(&requested)
                .all(|(want, got)| match want.strip_prefix(':') {
                    Some(name) => {
                        params.insert(name.to_string(), percent_decode(got));
                        true
                    }
                    None => want == got,
                });
        if matched {
            return Some((binding.clone(), params));
        }
    }
    None
}

fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(method: &str, path: &str) -> RegisterTrigger {
        RegisterTrigger {
            id: format!("{method} {path}"),
            trigger_type: "http".into(),
            function_id: "f".into(),
            config: json!({"api_path": path, "http_method": method}),
            metadata: None,
            namespace: None,
            trigger_namespace: None,
        }
    }

    #[test]
    fn routes_match_method_segments_and_params() {
        let routes = [binding("GET", "/hello/:name"), binding("post", "echo")];
        let (b, params) = find_route(&routes, "GET", "/hello/w%C3%B6rld").expect("route");
        assert_eq!(b.id, "GET /hello/:name");
        assert_eq!(params["name"], "wörld");
        assert!(
            find_route(&routes, "POST", "/echo").is_some(),
            "leading slash optional"
        );
        assert!(find_route(&routes, "GET", "/echo").is_none());
        assert!(find_route(&routes, "GET", "/hello").is_none());
    }

    #[test]
    fn query_last_value_wins_and_decodes() {
        let q = parse_query("a=1&a=2&y=two+words&z=%41");
        assert_eq!(q["a"], "2");
        assert_eq!(q["y"], "two words");
        assert_eq!(q["z"], "A");
    }

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
