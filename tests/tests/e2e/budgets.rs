//! What a worker, a channel or an HTTP client may make the engine hold:
//! frames waiting for a worker that does not read, counted in frames and
//! in bytes, and the HTTP connections of one address. (The channels' byte
//! budgets are tested on their table, in iii-embedded.)

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iii_tests::{Socket, TestEngine, engine, eventually, fid, unique};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::bad_input::{embedded_only, raw};

/// A raw worker on `engine` that serves a function and never reads its
/// socket, once the engine lists the function; and a worker to call it.
async fn deaf_worker(engine: &TestEngine, id: &str) -> (Socket, iii::Worker) {
    let mut sleeper = raw(&engine.ws_url).await;
    for frame in [
        json!({"type": "registerfunction", "id": id}),
        json!({"type": "invokefunction", "invocation_id": "44444444-4444-4444-8444-444444444444", "function_id": "engine::workers::register", "data": {"name": unique("deaf")}}),
    ] {
        sleeper
            .send(Frame::text(frame.to_string()))
            .await
            .expect("send");
    }
    let caller = engine.connect("deaf-caller").await;
    eventually(Duration::from_secs(5), "the function served", || async {
        listed(&caller, id).await.then_some(())
    })
    .await;
    (sleeper, caller)
}

/// Whether `engine::functions::list` shows `id`.
async fn listed(caller: &iii::Worker, id: &str) -> bool {
    let listed: Option<Value> = caller
        .call("engine::functions::list", &json!({}))
        .await
        .ok();
    listed.is_some_and(|l| {
        l["functions"]
            .as_array()
            .is_some_and(|fs| fs.iter().any(|f| f["function_id"] == json!(id)))
    })
}

#[tokio::test]
async fn a_worker_that_stops_reading_is_disconnected() {
    let engine = engine().await;
    if !embedded_only(&engine, "the engine makes its senders wait instead") {
        return;
    }
    let engine =
        TestEngine::from_builder(iii_embedded::Engine::builder().max_queued_frames(1_000)).await;
    let id = fid("deaf::fn");
    let (mut sleeper, caller) = deaf_worker(&engine, &id).await;
    // Far more invocations than the queue holds (and the socket buffers).
    for _ in 0..60_000 {
        caller
            .invoke(&id)
            .payload(&json!({"pad": "x".repeat(64)}))
            .void()
            .await
            .expect("queued");
    }
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match sleeper.next().await {
                None | Some(Err(_)) | Some(Ok(Frame::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the engine dropped the worker that did not read"
    );
    // And it serves the others.
    let created: Value = caller
        .call("engine::channels::create", &json!({}))
        .await
        .expect("still serving");
    assert!(created["reader"].is_object());
}

#[tokio::test]
async fn a_worker_that_leaves_too_many_bytes_unread_is_disconnected() {
    let engine = engine().await;
    if !embedded_only(&engine, "the engine makes its senders wait instead") {
        return;
    }
    let engine =
        TestEngine::from_builder(iii_embedded::Engine::builder().max_queued_bytes(1 << 20)).await;
    let id = fid("deaf::bytes");
    let (mut sleeper, caller) = deaf_worker(&engine, &id).await;
    // 200 frames of 256 KiB: far under the frame count, 50 MiB in all,
    // more than the socket's buffers and the 1 MiB budget take.
    let pad = "x".repeat(256 << 10);
    for _ in 0..200 {
        caller
            .invoke(&id)
            .payload(&json!({"pad": pad}))
            .void()
            .await
            .expect("queued");
    }
    // Without reading the deaf worker's socket: the engine drops it, and
    // its function with it.
    eventually(
        Duration::from_secs(20),
        "the deaf worker dropped and its function gone",
        || async { (!listed(&caller, &id).await).then_some(()) },
    )
    .await;
    // Its socket was dropped, not closed: what the socket buffers held,
    // then its end, with no Close frame.
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match sleeper.next().await {
                Some(Ok(Frame::Close(_))) => return false,
                Some(Ok(_)) => continue,
                None | Some(Err(_)) => return true,
            }
        }
    })
    .await;
    assert_eq!(ended.ok(), Some(true), "dropped without a Close frame");
}

#[tokio::test]
async fn an_address_over_its_http_connections_is_answered_503_at_once() {
    use tokio::io::AsyncReadExt;
    let engine = engine().await;
    if !embedded_only(&engine, "the engine sets no limit per address") {
        return;
    }
    let engine = TestEngine::from_builder(
        iii_embedded::Engine::builder().max_http_connections_per_address(4),
    )
    .await;
    let addr = engine.http_url.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    // The fifth gets its answer without sending anything.
    let mut fifth = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let mut reply = String::new();
    let read =
        tokio::time::timeout(Duration::from_secs(10), fifth.read_to_string(&mut reply)).await;
    assert!(read.is_ok(), "answered and closed at once");
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(
        reply.contains("max_http_connections_per_address"),
        "{reply}"
    );
    // Once one of the four goes, the address is served again.
    drop(idle.pop());
    let url = format!("{}/{}", engine.http_url, unique("nothing"));
    eventually(Duration::from_secs(10), "a request served", || async {
        let reply = iii_tests::http("GET", &url, &[], b"").await;
        (reply.status == 404).then_some(())
    })
    .await;
}
