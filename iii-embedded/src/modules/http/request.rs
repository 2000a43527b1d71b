//! A request, from its head to its reply: its route found before the body
//! is touched, its body put on its channel, the handler's payload built,
//! and all of it under the engine's timeout.

use std::collections::BTreeMap;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use iii_protocol::TriggerKind;
use serde_json::{Value, json};

use super::Http;
use super::exchange::Exchange;
use super::pipeline::{Route, serve_route};
use super::replies::{Reply, gateway_timeout, json_reply};
use super::routes::find_route;
use crate::core::{Core, type_id};
use crate::url::parse_query;

/// Answers one request.
pub(super) async fn respond(http: &Http, core: &Arc<Core>, req: Request<Incoming>) -> Reply {
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
    let bindings = core.bindings(type_id(TriggerKind::Http));
    let Some((binding, path_params)) = find_route(&bindings, &method, &path) else {
        return json_reply(
            StatusCode::NOT_FOUND,
            &json!({"error": {"code": "NOT_FOUND", "message": "Not Found"}}),
        );
    };
    let deadline = tokio::time::Instant::now() + http.limits.timeout;
    let (exchange, responses) = Exchange::open(&http.channels);
    let served = async {
        let is_json = headers
            .get("content-type")
            .is_some_and(|ct| ct.contains("application/json"));
        let sent = match exchange.send_body(req.into_body(), is_json, http).await {
            Ok(sent) => sent,
            Err(refusal) => {
                exchange.remove();
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
            "body": sent.value,
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
        let route = Route {
            binding: &binding,
            exchange: &exchange,
        };
        let reply = serve_route(core, route, payload, sent.raw, request, responses).await;
        drop(sent.held);
        reply
    };
    // The engine's timeout runs until the response head; when it expires
    // the request's channels are left to the sweep, as there.
    match tokio::time::timeout_at(deadline, served).await {
        Err(_) => gateway_timeout(),
        Ok(reply) => reply,
    }
}
