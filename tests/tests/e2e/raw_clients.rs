//! The engine as raw protocol clients see it: bad frames dropped,
//! reattaching with a token, a `null` http result, and what it does with
//! a `subscribe` binding's condition and metadata.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iii_protocol::{self as protocol, Message};
use iii_tests::{Socket, engine, fid, unique};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;

/// A raw worker socket, welcomed, with its worker id and reattach token.
async fn raw_client(url: &str) -> (Socket, String, String) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let Some(Ok(Frame::Text(text))) = ws.next().await else {
        panic!("no welcome")
    };
    let Ok(Message::WorkerRegistered(w)) = protocol::decode(&text) else {
        panic!("not a welcome: {text}")
    };
    (ws, w.worker_id, w.reattach_token.expect("token"))
}

/// The next text frame on `ws`, decoded; `None` if it does not decode, or
/// once the socket closes, fails, or stays silent for 5 s.
async fn next_message(ws: &mut Socket) -> Option<Message> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .ok()??
        {
            Ok(Frame::Text(text)) => return protocol::decode(&text).ok(),
            Ok(Frame::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

#[tokio::test]
async fn the_engine_drops_bad_frames_and_keeps_the_connection() {
    let engine = engine().await;
    let (mut ws, _, _) = raw_client(&engine.ws_url).await;
    for junk in [
        "{not json",
        r#"{"type":"teleport"}"#,
        r#"{"type":"registertrigger","id":"t","trigger_type":"http","function_id":"f"}"#,
        "   ",
    ] {
        ws.send(Frame::text(junk)).await.expect("send");
    }
    ws.send(Frame::text(r#"{"type":"ping"}"#))
        .await
        .expect("send");
    assert_eq!(next_message(&mut ws).await, Some(Message::Pong));
    // The same JSON in a binary frame is accepted too.
    ws.send(Frame::binary(br#"{"type":"ping"}"#.to_vec()))
        .await
        .expect("send");
    assert_eq!(next_message(&mut ws).await, Some(Message::Pong));
    // Other workers are unaffected.
    let worker = engine.connect("bystander").await;
    worker.flush().await.expect("flush");
}

#[tokio::test]
async fn reattach_with_the_right_token_evicts_the_old_connection() {
    let engine = engine().await;
    let (mut old, old_id, token) = raw_client(&engine.ws_url).await;
    let (mut wrong, _, _) = raw_client(&engine.ws_url).await;
    let reattach = |token: &str| {
        format!(
            r#"{{"type":"reattach","previous_worker_id":"{old_id}","reattach_token":"{token}"}}"#
        )
    };
    wrong
        .send(Frame::text(reattach("not-the-token")))
        .await
        .expect("send");
    old.send(Frame::text(r#"{"type":"ping"}"#))
        .await
        .expect("send");
    assert_eq!(
        next_message(&mut old).await,
        Some(Message::Pong),
        "a wrong token changes nothing"
    );

    let (mut new, _, _) = raw_client(&engine.ws_url).await;
    new.send(Frame::text(reattach(&token))).await.expect("send");
    assert_eq!(
        next_message(&mut old).await,
        None,
        "the old socket is dropped"
    );
    new.send(Frame::text(r#"{"type":"ping"}"#))
        .await
        .expect("send");
    assert_eq!(next_message(&mut new).await, Some(Message::Pong));
}

/// Both engines read a `null` result to an http fire as "the response is
/// streamed on the response channel"; with nothing streamed the client
/// gets 504 and an empty body when the HTTP timeout runs out (30 s on the
/// real engine; 300 ms on the embedded one here).
#[tokio::test]
async fn a_null_http_result_waits_for_a_stream_and_times_out_with_504() {
    let external = std::env::var("III_URL").is_ok();
    let embedded = if external {
        None
    } else {
        Some(
            iii_embedded::Engine::builder()
                .http_timeout(Duration::from_millis(300))
                .start()
                .await
                .expect("start"),
        )
    };
    let (ws_url, http_url, timeout) = match &embedded {
        Some(e) => (e.ws_url(), e.http_url(), Duration::from_millis(300)),
        None => {
            let e = engine().await;
            (e.ws_url, e.http_url, Duration::from_secs(30))
        }
    };
    let (mut ws, _, _) = raw_client(&ws_url).await;
    let id = fid("raw::null");
    let path = format!("/{}", unique("raw-null"));
    for frame in [
        json!({"type": "registerfunction", "id": id}),
        json!({"type": "registertrigger", "id": unique("t"), "trigger_type": "http", "function_id": id, "config": {"api_path": path, "http_method": "GET"}}),
        json!({"type": "invokefunction", "invocation_id": "11111111-1111-4111-8111-111111111111", "function_id": "engine::workers::register", "data": {"name": unique("raw-null"), "pid": 1}}),
    ] {
        ws.send(Frame::text(frame.to_string())).await.expect("send");
    }
    let answer_nulls = tokio::spawn(async move {
        while let Some(message) = next_message(&mut ws).await {
            if let Message::InvokeFunction(invoke) = message
                && let Some(invocation_id) = invoke.invocation_id
            {
                let reply = iii_protocol::InvocationResult::new(
                    invocation_id,
                    invoke.function_id,
                    Ok(Value::Null),
                );
                let text = protocol::encode(&Message::InvocationResult(reply)).expect("encode");
                if ws.send(Frame::text(text)).await.is_err() {
                    return;
                }
            }
        }
    });
    let url = format!("{http_url}{path}");
    let reply = iii_tests::eventually(Duration::from_secs(10), "the route to go live", || {
        let url = url.clone();
        async move {
            let started = std::time::Instant::now();
            let reply = iii_tests::http("GET", &url, &[], b"").await;
            (reply.status != 404).then_some((reply, started.elapsed()))
        }
    })
    .await;
    let (reply, waited) = reply;
    assert_eq!(reply.status, 504, "{}", reply.text());
    assert!(reply.body.is_empty(), "{:?}", reply.text());
    assert_eq!(
        reply.headers.get("access-control-allow-origin"),
        None,
        "the engine's timeout answers outside its CORS layer"
    );
    assert!(
        waited >= timeout,
        "answered after {waited:?}, before the {timeout:?} timeout"
    );
    answer_nulls.abort();
}

/// What the engine itself does with a `subscribe` binding's condition and
/// metadata (nothing: it never asks the condition and passes no metadata),
/// seen by a raw client, which the SDK does not make up for. iii-embedded
/// must do the same.
#[tokio::test]
async fn the_engine_ignores_a_subscribe_bindings_condition_and_metadata() {
    let engine = engine().await;
    let (mut ws, _, _) = raw_client(&engine.ws_url).await;
    let (handler, condition) = (fid("raw::on_news"), fid("raw::never"));
    let topic = unique("raw-news");
    for frame in [
        json!({"type": "registerfunction", "id": handler}),
        json!({"type": "registerfunction", "id": condition}),
        json!({"type": "registertrigger", "id": unique("t"), "trigger_type": "subscribe", "function_id": handler,
               "config": {"topic": topic, "condition_function_id": condition}, "metadata": {"m": 1}}),
        json!({"type": "invokefunction", "invocation_id": "11111111-1111-4111-8111-111111111112", "function_id": "engine::workers::register", "data": {"name": unique("raw-sub"), "pid": 1}}),
    ] {
        ws.send(Frame::text(frame.to_string())).await.expect("send");
    }
    let publisher = engine.connect("raw-publisher").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let fire = loop {
        assert!(std::time::Instant::now() < deadline, "no subscribe fire");
        publisher
            .publish(&topic, &json!({"n": 1}))
            .await
            .expect("publish");
        let next = tokio::time::timeout(Duration::from_millis(200), next_message(&mut ws)).await;
        match next {
            Ok(Some(Message::InvokeFunction(invoke))) => break invoke,
            Ok(Some(_)) | Err(_) => continue,
            Ok(None) => panic!("connection closed"),
        }
    };
    assert_eq!(
        fire.function_id, handler,
        "the handler, not the condition, was invoked first"
    );
    assert_eq!(
        fire.metadata, None,
        "no binding metadata on a subscribe fire"
    );
}
