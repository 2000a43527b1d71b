//! JSON request bodies of `http` triggers: a small one parsed and written
//! afresh as the engine does, a big one passed on whole (iii-embedded
//! passes it as sent, to hold it about twice, not seven times), and the
//! budget of JSON bytes in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iii::http::{ApiRequest, ApiResponse};
use iii::trigger::{Http, Trigger};
use iii::{Error, Function};
use iii_tests::{TestEngine, engine, fid, http, route_live, serve, unique};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::bad_input::{embedded_only, raw};

/// Serves `function` behind `POST /<unique>` and returns the URL once the
/// route answers.
async fn post_route(engine: &TestEngine, worker: &iii::Worker, function: Function) -> String {
    let id = function.id().to_string();
    serve(worker, function).await;
    let path = format!("/{}", unique("json"));
    worker
        .register_trigger(Trigger::new(&id, Http::post(&path)))
        .expect("bind");
    worker.flush().await.expect("flush");
    let url = format!("{}{path}", engine.http_url);
    route_live("POST", &url).await;
    url
}

/// A JSON value of about `len` bytes, with nesting, numbers, escapes and
/// keys out of order.
fn big_json(len: usize) -> Vec<u8> {
    let mut items = Vec::new();
    let mut size = 0;
    let mut i = 0u64;
    while size < len {
        let item = json!({"z": i, "a": [i as f64 / 4.0, "é\n\"q\"", null, true], "m": {"k": format!("{i:08}")}});
        size += item.to_string().len() + 1;
        items.push(item);
        i += 1;
    }
    serde_json::to_vec(&json!({"items": items, "count": i})).expect("JSON")
}

#[tokio::test]
async fn a_big_json_body_reaches_its_handler_whole_parsed_and_raw() {
    let engine = engine().await;
    let worker = engine.connect("json-big").await;
    let sent = Arc::new(big_json(1 << 20));
    let expected: Arc<Value> = Arc::new(serde_json::from_slice(&sent).expect("JSON"));
    let (want_raw, want_parsed) = (sent.clone(), expected.clone());
    let f = Function::new(fid("json::big"), move |req: ApiRequest| {
        let (want_raw, want_parsed) = (want_raw.clone(), want_parsed.clone());
        async move {
            let parsed_same = req.body == *want_parsed;
            let raw = req.body_bytes().await?;
            Ok::<_, Error>(ApiResponse::ok(json!({
                "parsed_same": parsed_same,
                "raw_same": raw.as_ref() == want_raw.as_slice(),
                "raw_len": raw.len(),
            })))
        }
    });
    let url = post_route(&engine, &worker, f).await;
    let reply = http("POST", &url, &[("content-type", "application/json")], &sent).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"parsed_same": true, "raw_same": true, "raw_len": sent.len()})
    );
}

#[tokio::test]
async fn a_small_json_body_reaches_its_handler_written_afresh_keys_sorted() {
    let engine = engine().await;
    // A raw worker, to see the frame's text as the engine wrote it.
    let mut socket = raw(&engine.ws_url).await;
    let id = fid("json::small");
    let path = format!("/{}", unique("json"));
    for frame in [
        json!({"type": "registerfunction", "id": id}),
        json!({"type": "registertrigger", "id": unique("small-json"), "trigger_type": "http", "function_id": id, "config": {"api_path": path, "http_method": "POST"}}),
        json!({"type": "invokefunction", "invocation_id": "66666666-6666-4666-8666-666666666666", "function_id": "engine::workers::register", "data": {"name": unique("raw-json")}}),
    ] {
        socket
            .send(Frame::text(frame.to_string()))
            .await
            .expect("send");
    }
    let url = format!("{}{path}", engine.http_url);
    let client = tokio::spawn(async move {
        let body = br#"{"b": 1, "a": 2.50, "c": "\u00e9"}"#;
        // The route may take a moment to go live: 404s are retried.
        for _ in 0..100 {
            let reply = http("POST", &url, &[("content-type", "application/json")], body).await;
            if reply.status != 404 {
                return reply.status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        404
    });
    let read = async {
        while let Some(Ok(frame)) = socket.next().await {
            let Frame::Text(text) = frame else { continue };
            let call: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
            if call["type"] == "invokefunction" && call["function_id"] == json!(id) {
                let answer = json!({"type": "invocationresult", "invocation_id": call["invocation_id"], "function_id": id, "result": {"status_code": 200, "body": {}}});
                socket
                    .send(Frame::text(answer.to_string()))
                    .await
                    .expect("answer");
                return text.as_str().to_string();
            }
        }
        String::new()
    };
    let text = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the invocation");
    assert_eq!(client.await.expect("client"), 200);
    assert!(
        text.contains(r#""body":{"a":2.5,"b":1,"c":"é"}"#),
        "the body written afresh, keys sorted: {text}"
    );
}

#[tokio::test]
async fn json_bodies_past_the_bytes_in_flight_are_answered_503_at_once() {
    let engine = engine().await;
    if !embedded_only(&engine, "the engine sets no budget for JSON bodies") {
        return;
    }
    let engine =
        TestEngine::from_builder(iii_embedded::Engine::builder().max_json_bytes_in_flight(1 << 20))
            .await;
    let worker = engine.connect("json-budget").await;
    let release = Arc::new(Notify::new());
    let holding = Arc::new(AtomicBool::new(false));
    let (wait, held_now) = (release.clone(), holding.clone());
    let f = Function::new(fid("json::held"), move |req: ApiRequest| {
        let (wait, held_now) = (wait.clone(), held_now.clone());
        async move {
            if req.body["hold"] == true {
                held_now.store(true, Ordering::SeqCst);
                wait.notified().await;
            }
            Ok::<_, Error>(ApiResponse::ok(json!({"ok": true})))
        }
    });
    let url = post_route(&engine, &worker, f).await;
    let body = |hold: bool| {
        serde_json::to_vec(&json!({"hold": hold, "pad": "x".repeat(700 << 10)})).expect("JSON")
    };
    let json_type = [("content-type", "application/json")];
    let (held_url, held_body) = (url.clone(), body(true));
    let held = tokio::spawn(async move { http("POST", &held_url, &json_type, &held_body).await });
    iii_tests::eventually(Duration::from_secs(10), "the first body held", || async {
        holding.load(Ordering::SeqCst).then_some(())
    })
    .await;
    // While the first body is held, a second would pass 1 MiB in flight.
    let busy = iii_tests::eventually(Duration::from_secs(10), "a 503", || async {
        let reply = http("POST", &url, &json_type, &body(false)).await;
        (reply.status == 503).then_some(reply)
    })
    .await;
    assert_eq!(
        busy.headers.get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    let message = busy.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("max_json_bytes_in_flight"), "{message}");
    // Once the first is answered, its bytes are free again.
    release.notify_one();
    assert_eq!(held.await.expect("held").status, 200);
    let reply = http("POST", &url, &json_type, &body(false)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}
