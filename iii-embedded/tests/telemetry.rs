//! Telemetry a worker sends that the engine must survive: a trace as deep
//! as the worker likes.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Calls a built-in over a raw worker socket and returns its result.
async fn call(socket: &mut Socket, function_id: &str, data: Value) -> Value {
    let id = "11111111-1111-4111-8111-111111111111";
    let frame = json!({"type": "invokefunction", "invocation_id": id, "function_id": function_id, "data": data});
    socket
        .send(Frame::text(frame.to_string()))
        .await
        .expect("send");
    while let Some(Ok(frame)) = socket.next().await {
        if let Frame::Text(text) = frame {
            let message: Value = serde_json::from_str(text.as_str()).expect("json");
            if message["type"] == "invocationresult" && message["invocation_id"] == id {
                return message["result"].clone();
            }
        }
    }
    panic!("no result for {function_id}");
}

#[tokio::test]
async fn a_trace_deeper_than_any_tree_is_served_without_overflowing() {
    let engine = iii_embedded::Engine::start().await.expect("engine");
    let (mut otel, _) = tokio_tungstenite::connect_async(format!("{}/otel", engine.ws_url()))
        .await
        .expect("/otel");
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let depth = 5_000;
    let spans: Vec<Value> = (1..=depth)
        .map(|i: u64| {
            json!({
                "traceId": trace, "spanId": format!("{i:016x}"),
                "parentSpanId": if i == 1 { String::new() } else { format!("{:016x}", i - 1) },
                "name": format!("level {i}"), "startTimeUnixNano": i, "endTimeUnixNano": i + 1,
            })
        })
        .collect();
    let mut frame = b"OTLP".to_vec();
    frame.extend_from_slice(
        json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})
            .to_string()
            .as_bytes(),
    );
    otel.send(Frame::binary(frame)).await.expect("send");

    let (mut worker, _) = tokio_tungstenite::connect_async(engine.ws_url())
        .await
        .expect("worker");
    // Frames on separate sockets: wait until the spans are in.
    let mut tree = Value::Null;
    for _ in 0..500 {
        tree = call(
            &mut worker,
            "engine::traces::tree",
            json!({"trace_id": trace}),
        )
        .await;
        if tree["roots"].as_array().is_some_and(|r| !r.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let roots = tree["roots"].as_array().expect("roots");
    assert_eq!(roots[0]["name"], "level 1");
    // 33 levels nest under each root, so the chain comes as several roots.
    assert_eq!(roots.len(), depth.div_ceil(33) as usize);
    let listed = call(
        &mut worker,
        "engine::traces::list",
        json!({"trace_id": trace, "search_all_spans": true, "limit": 10_000, "sort_order": "desc"}),
    )
    .await;
    assert_eq!(listed["total"], depth);
    assert_eq!(
        listed["spans"][0]["name"],
        format!("level {depth}"),
        "newest first"
    );
    engine.shutdown().await;
}
