//! The REST listener that serves `http` triggers.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use iii_protocol::channel::DEFAULT_BUFFER;
use iii_protocol::{ErrorBody, RegisterTrigger, StreamChannelRef};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::channels::Item;
use crate::kinds::type_id;
use crate::url::{parse_query, percent_decode};
use crate::{Gate, Shared, binding_namespace};
use iii_protocol::TriggerKind;

type Reply = Response<UnsyncBoxBody<Bytes, Infallible>>;

fn full(bytes: impl Into<Bytes>) -> UnsyncBoxBody<Bytes, Infallible> {
    Full::new(bytes.into()).boxed_unsync()
}

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
                    // Out of file descriptors, say: back off rather than
                    // spin on the cores, as the worker socket's loop does.
                    tracing::warn!("http accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = crate::raised(&mut stopped) => return,
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let header_timeout = shared.settings.http_header_timeout;
            let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            // A client that does not send its request head in time is
            // disconnected (hyper sends no 408 then).
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("http connection ended: {e}");
            }
        });
    }
}

fn json_reply(status: StatusCode, body: &Value) -> Reply {
    let mut reply = Response::new(full(body.to_string()));
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
    if reply.extensions().get::<OutsideCors>().is_none() {
        reply
            .headers_mut()
            .insert("access-control-allow-origin", HeaderValue::from_static("*"));
    }
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
    // The route is matched before the body is touched: an unmatched
    // request's body is never read.
    let bindings = shared.lock().builtin_bindings(type_id(TriggerKind::Http));
    let Some((binding, path_params)) = find_route(&bindings, &method, &path) else {
        return json_reply(
            StatusCode::NOT_FOUND,
            &json!({"error": {"code": "NOT_FOUND", "message": "Not Found"}}),
        );
    };
    let deadline = tokio::time::Instant::now() + shared.settings.http_timeout;
    let (exchange, responses) = Exchange::open(&shared);
    let served = async {
        let is_json = headers
            .get("content-type")
            .is_some_and(|ct| ct.contains("application/json"));
        let body = match exchange.send_body(&shared, req.into_body(), is_json).await {
            Ok(body) => body,
            Err(refusal) => {
                exchange.remove(&shared);
                return refusal;
            }
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
            "request_body": exchange.request_body,
            "response": exchange.response,
        });
        let request = json!({
            "path_params": payload["path_params"],
            "query_params": payload["query_params"],
            "headers": payload["headers"],
            "method": payload["method"],
        });
        serve_route(&shared, &binding, payload, request, &exchange, responses).await
    };
    // The engine's timeout runs until the response head; when it expires
    // the request's channels are left to the sweep, as there.
    match tokio::time::timeout_at(deadline, served).await {
        Err(_) => gateway_timeout(),
        Ok(reply) => reply,
    }
}

/// The two channels of one request: its body, read by the handler, and
/// its response, written by the handler when it streams.
struct Exchange {
    request_body: StreamChannelRef,
    response: StreamChannelRef,
}

impl Exchange {
    /// Both channels, and the engine's end of `response`.
    fn open(shared: &Shared) -> (Exchange, Option<mpsc::Receiver<Item>>) {
        let (_, request_body) = shared.channels.create(DEFAULT_BUFFER);
        let (response, _) = shared.channels.create(DEFAULT_BUFFER);
        let responses = shared
            .channels
            .take_receiver(&response.channel_id, &response.access_key);
        (
            Exchange {
                request_body,
                response,
            },
            responses,
        )
    }

    /// Puts the request body on the `request_body` channel: a JSON body
    /// read whole and sent as one item (and returned parsed, or `null`),
    /// any other body forwarded chunk by chunk as it arrives. A JSON body
    /// over the limit is refused with 413.
    async fn send_body(
        &self,
        shared: &Shared,
        body: Incoming,
        is_json: bool,
    ) -> Result<Value, Reply> {
        let ch = &self.request_body;
        let Some(tx) = shared.channels.take_sender(&ch.channel_id, &ch.access_key) else {
            return Ok(Value::Null);
        };
        if !is_json {
            tokio::spawn(forward_body(body, tx));
            return Ok(Value::Null);
        }
        let limited = http_body_util::Limited::new(body, shared.settings.max_json_body);
        let bytes = match limited.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return Err(json_reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &json!({"error": {"code": "PAYLOAD_TOO_LARGE", "message": format!(
                        "a JSON body over {} bytes is not taken (iii-embedded buffers JSON bodies whole); send it as another content type to stream it, or raise `EngineBuilder::max_json_body`",
                        shared.settings.max_json_body
                    )}}),
                ));
            }
            Err(_) => return Ok(Value::Null),
        };
        let parsed = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !bytes.is_empty() {
            let _ = tx.send(Item::Binary(bytes)).await;
        }
        Ok(parsed)
    }

    /// Forgets both channels; ends already attached keep working.
    fn remove(&self, shared: &Shared) {
        shared.channels.remove(&self.request_body.channel_id);
        shared.channels.remove(&self.response.channel_id);
    }
}

/// Forwards a non-JSON body, one item per chunk hyper yields, and ends the
/// channel with the body. Like the engine, it keeps draining the body when
/// nobody reads the channel any more.
async fn forward_body(mut body: Incoming, tx: mpsc::Sender<Item>) {
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            let _ = tx.send(Item::Binary(data)).await;
        }
    }
}

/// The route's condition, then its middleware in order, then its handler,
/// as the engine runs them, and the response.
async fn serve_route(
    shared: &Arc<Shared>,
    binding: &RegisterTrigger,
    payload: Value,
    request: Value,
    exchange: &Exchange,
    responses: Option<mpsc::Receiver<Item>>,
) -> Reply {
    let early = |reply: Reply| {
        exchange.remove(shared);
        reply
    };
    // The condition sees the request without its channels.
    let gated = || {
        let mut gated = payload.clone();
        if let Value::Object(map) = &mut gated {
            map.remove("request_body");
            map.remove("response");
        }
        gated
    };
    match shared.gate(binding, gated).await {
        Gate::Open => {}
        Gate::Skipped => {
            return early(json_reply(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({"error": {"code": "CONDITION_NOT_MET", "message": "Request condition not met"}, "skipped": true}),
            ));
        }
        Gate::Failed(ErrorBody { code, message, .. }) => {
            return early(error_reply(
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
                return early(error_reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &code,
                    &message,
                ));
            }
            Ok(verdict) if verdict.get("action").and_then(Value::as_str) == Some("respond") => {
                return early(middleware_response(verdict.get("response")));
            }
            // `continue`, and anything else the engine reads as continue.
            Ok(_) => {}
        }
    }
    let handler = {
        let shared = shared.clone();
        let binding = binding.clone();
        tokio::spawn(async move { shared.run(&binding, payload).await })
    };
    let Some(responses) = responses else {
        return early(error_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "the response channel is gone",
        ));
    };
    stream_or_answer(shared, handler, responses, exchange).await
}
/// Waits for the handler's result and the response channel together, the
/// channel first (as the engine's biased wait): a text item is a control
/// message, a binary chunk or the channel's end starts a streamed
/// response, a non-null result answers whole, and a `null` one leaves the
/// response to the channel.
async fn stream_or_answer(
    shared: &Shared,
    mut handler: JoinHandle<Result<Value, ErrorBody>>,
    mut responses: mpsc::Receiver<Item>,
    exchange: &Exchange,
) -> Reply {
    let mut head = Head::default();
    let mut first = None;
    let mut pending = true;
    loop {
        tokio::select! {
            biased;
            item = responses.recv() => match item {
                Some(Item::Text(text)) => head.apply(&text),
                Some(Item::Binary(chunk)) => {
                    first = Some(chunk);
                    break;
                }
                None => break,
            },
            done = &mut handler, if pending => {
                let whole = match done {
                    Ok(Ok(Value::Null)) => {
                        pending = false;
                        continue;
                    }
                    Ok(Ok(result)) => build_response(&result),
                    Ok(Err(ErrorBody { code, message, .. })) => {
                        error_reply(StatusCode::INTERNAL_SERVER_ERROR, &code, &message)
                    }
                    Err(_) => error_reply(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "INTERNAL_ERROR",
                        "the handler task failed",
                    ),
                };
                exchange.remove(shared);
                return whole;
            }
        }
    }
    exchange.remove(shared);
    head.streamed(first, responses)
}

/// The status and headers a streamed response's control messages set.
struct Head {
    status: StatusCode,
    headers: BTreeMap<String, String>,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            status: StatusCode::OK,
            headers: BTreeMap::new(),
        }
    }
}

impl Head {
    /// Applies `set_status` (100 to 599) or `set_headers` (string values,
    /// merged); any other text is ignored, as by the engine.
    fn apply(&mut self, text: &str) {
        let Ok(control) = serde_json::from_str::<Value>(text) else {
            return;
        };
        match control.get("type").and_then(Value::as_str) {
            Some("set_status") => {
                if let Some(status) = control
                    .get("status_code")
                    .and_then(Value::as_u64)
                    .filter(|s| (100..=599).contains(s))
                    .and_then(|s| u16::try_from(s).ok())
                    .and_then(|s| StatusCode::from_u16(s).ok())
                {
                    self.status = status;
                }
            }
            Some("set_headers") => {
                if let Some(Value::Object(headers)) = control.get("headers") {
                    for (name, value) in headers {
                        if let Some(value) = value.as_str() {
                            self.headers.insert(name.clone(), value.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The response: the head, then `first` and every later binary chunk
    /// (text after the first chunk is skipped), until the channel ends.
    fn streamed(self, first: Option<Bytes>, mut rest: mpsc::Receiver<Item>) -> Reply {
        let tail = futures_util::stream::poll_fn(move |cx| {
            loop {
                match std::task::ready!(rest.poll_recv(cx)) {
                    Some(Item::Binary(chunk)) => {
                        return std::task::Poll::Ready(Some(Ok(Frame::data(chunk))));
                    }
                    Some(Item::Text(_)) => continue,
                    None => return std::task::Poll::Ready(None),
                }
            }
        });
        let body =
            futures_util::stream::iter(first.map(|chunk| Ok(Frame::data(chunk)))).chain(tail);
        let mut reply = Response::new(StreamBody::new(body).boxed_unsync());
        *reply.status_mut() = self.status;
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                // Appended, as the engine builds it: names that differ in
                // case are separate entries of its map.
                reply.headers_mut().append(name, value);
            }
        }
        reply
    }
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

/// Marks a reply the engine gives outside its CORS layer.
#[derive(Clone, Copy)]
struct OutsideCors;

/// The engine's answer when a handler's response does not come in time:
/// 504 with an empty body, from its timeout layer (which wraps the CORS
/// layer, so without CORS headers).
fn gateway_timeout() -> Reply {
    let mut reply = Response::new(full(Bytes::new()));
    *reply.status_mut() = StatusCode::GATEWAY_TIMEOUT;
    reply.extensions_mut().insert(OutsideCors);
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
