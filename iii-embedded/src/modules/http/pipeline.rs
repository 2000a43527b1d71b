//! A matched request's way through its route, as the engine runs it: the
//! condition, the middleware in order, then the handler, whose response
//! comes whole as its result or streamed on the `response` channel.

use std::sync::Arc;

use hyper::StatusCode;
use iii_protocol::{ErrorBody, RegisterTrigger};
use serde_json::{Value, json};

use tokio::task::JoinHandle;

use super::exchange::Exchange;
use super::replies::{Reply, build_response, error_reply, json_reply, middleware_response};
use super::streamed::Head;
use crate::core::{Core, Gate, Outcome, RawBody, binding_namespace};
use crate::modules::channels::{Item, ItemReceiver};

/// A matched request's binding and channels.
pub(super) struct Route<'a> {
    pub(super) binding: &'a RegisterTrigger,
    pub(super) exchange: &'a Exchange,
}

/// The route's condition, then its middleware in order, then its handler,
/// and the response. `payload` holds the marker of `body`, when there is
/// one; `request` is what middleware sees.
pub(super) async fn serve_route(
    core: &Arc<Core>,
    route: Route<'_>,
    payload: Value,
    body: Option<RawBody>,
    request: Value,
    responses: Option<ItemReceiver>,
) -> Reply {
    let Route { binding, exchange } = route;
    let early = |reply: Reply| {
        exchange.remove();
        reply
    };
    // The condition sees the request without its channels, its body
    // parsed.
    let gated = || {
        let mut gated = payload.clone();
        if let Value::Object(map) = &mut gated {
            map.remove("request_body");
            map.remove("response");
            if let Some(body) = &body {
                map.insert("body".into(), body.parsed());
            }
        }
        gated
    };
    match core.gate(binding, gated).await {
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
        let verdict = core
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
        let core = core.clone();
        let binding = binding.clone();
        tokio::spawn(async move { core.run_with(&binding, payload, body).await })
    };
    let Some(responses) = responses else {
        return early(error_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "the response channel is gone",
        ));
    };
    stream_or_answer(handler, responses, exchange).await
}

/// Waits for the handler's result and the response channel together, the
/// channel first (as the engine's biased wait): a text item is a control
/// message, a binary chunk or the channel's end starts a streamed
/// response, a non-null result answers whole, and a `null` one leaves the
/// response to the channel.
async fn stream_or_answer(
    mut handler: JoinHandle<Outcome>,
    mut responses: ItemReceiver,
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
                exchange.remove();
                return whole;
            }
        }
    }
    exchange.remove();
    head.streamed(first, responses)
}
