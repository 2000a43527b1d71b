//! The engine's channel sockets as a raw WebSocket client sees them: what
//! the SDK relies on, pinned on both engines.

use futures_util::{SinkExt, StreamExt};
use iii_tests::{Socket, TestEngine, engine};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn create(engine: &TestEngine, input: Value) -> Result<Value, iii::Error> {
    let worker = engine.connect("sockets").await;
    worker.call("engine::channels::create", &input).await
}

fn url(engine: &TestEngine, end: &Value, query: &str) -> String {
    format!(
        "{}/ws/channels/{}?{query}",
        engine.ws_url.trim_end_matches('/'),
        end["channel_id"].as_str().expect("id")
    )
}

async fn attach(engine: &TestEngine, end: &Value, dir: &str) -> Socket {
    let key = end["access_key"].as_str().expect("key");
    let (socket, _) =
        tokio_tungstenite::connect_async(url(engine, end, &format!("key={key}&dir={dir}")))
            .await
            .expect("attach");
    socket
}

/// The status and body of a refused upgrade.
async fn refusal(url: &str) -> (u16, String) {
    match tokio_tungstenite::connect_async(url).await {
        Err(WsError::Http(response)) => (
            response.status().as_u16(),
            String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned(),
        ),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn create_returns_both_ends_with_one_id_and_key() {
    let engine = engine().await;
    let created = create(&engine, json!({})).await.expect("create");
    assert_eq!(created["writer"]["direction"], "write");
    assert_eq!(created["reader"]["direction"], "read");
    assert_eq!(
        created["writer"]["channel_id"],
        created["reader"]["channel_id"]
    );
    assert_eq!(
        created["writer"]["access_key"],
        created["reader"]["access_key"]
    );
    // Out-of-range sizes are clamped, not refused; a wrong type is refused.
    for size in [0, 1, 1024, 2048] {
        create(&engine, json!({"buffer_size": size}))
            .await
            .expect("clamped");
    }
    let error = create(&engine, json!({"buffer_size": -1}))
        .await
        .unwrap_err();
    let body = error.remote_body().expect("the engine's error");
    assert_eq!(body.code, "deserialization_error");
    assert!(
        body.message
            .starts_with("Failed to deserialize input for engine::channels::create"),
        "{}",
        body.message
    );
    let error = create(&engine, Value::Null).await.unwrap_err();
    assert_eq!(
        error.remote_body().expect("error").code,
        "deserialization_error"
    );
}

#[tokio::test]
async fn bad_attaches_are_refused_with_the_engines_status_and_body() {
    let engine = engine().await;
    let created = create(&engine, json!({})).await.expect("create");
    let reader = &created["reader"];
    assert_eq!(
        refusal(&url(&engine, reader, "key=wrong&dir=read")).await,
        (404, "Channel not found".into())
    );
    let (status, body) = refusal(&url(&engine, reader, "key=wrong")).await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with("Failed to deserialize query string"),
        "{body}"
    );
    let key = reader["access_key"].as_str().expect("key");
    let (status, body) = refusal(&url(&engine, reader, &format!("key={key}&dir=READ"))).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn items_keep_their_kind_wait_for_a_late_reader_and_end_with_an_empty_close() {
    let engine = engine().await;
    let created = create(&engine, json!({})).await.expect("create");
    let mut writer = attach(&engine, &created["writer"], "write").await;
    writer.send(Frame::text("hello text")).await.expect("text");
    writer
        .send(Frame::binary(vec![1u8, 2, 3]))
        .await
        .expect("binary");
    writer
        .send(Frame::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        })))
        .await
        .expect("close");
    // The engine echoes the writer's Close with its code: the SDK tells a
    // clean end from a refused attach (an empty Close) by it.
    let echo = loop {
        match writer.next().await {
            Some(Ok(Frame::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected the Close echo, got {other:?}"),
        }
    };
    assert_eq!(echo.map(|f| f.code), Some(CloseCode::Normal));

    // The reader attaches after the writer is gone and still gets it all.
    let mut reader = attach(&engine, &created["reader"], "read").await;
    let mut frames = Vec::new();
    while let Some(Ok(frame)) = reader.next().await {
        let end = matches!(frame, Frame::Close(_));
        frames.push(frame);
        if end {
            break;
        }
    }
    assert_eq!(
        frames,
        [
            Frame::text("hello text"),
            Frame::binary(vec![1u8, 2, 3]),
            Frame::Close(None)
        ]
    );
    // Each end attaches once: a second attach is accepted, then closed.
    let mut again = attach(&engine, &created["reader"], "read").await;
    assert!(
        matches!(again.next().await, Some(Ok(Frame::Close(None)))),
        "a second attach ends at once with an empty Close"
    );
}
