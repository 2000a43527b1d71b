//! How large and how deep a payload may be: megabytes arrive whole; a
//! frame over the limit (the engine's, or the builder's) and a value
//! nested deeper than the engine reads fail at once, for a call and for a
//! result, and the connection stays up.

use std::time::Duration;

use iii::{Error, Function};
use iii_tests::{engine, fid, serve};
use serde_json::{Value, json};

#[tokio::test]
async fn payloads_far_larger_than_one_socket_read_arrive_whole() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("blob::len");
    serve(
        &callee,
        Function::new(&id, |blob: String| async move {
            Ok::<_, Error>((blob.len(), blob))
        }),
    )
    .await;
    // 4 MiB in each direction: hundreds of 16 KiB socket reads per frame.
    let blob: String = (0..4 << 20)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let (len, echoed): (usize, String) = caller.call(&id, &blob).await.expect("call");
    assert_eq!(len, blob.len());
    assert!(echoed == blob, "the echoed blob differs");
}

/// The engine drops the whole connection of a worker that sends a frame
/// over 16 MiB; the SDK refuses such a frame itself, names the limit, and
/// keeps the connection (and every other call on it) alive.
#[tokio::test]
async fn an_oversize_payload_is_refused_and_the_connection_stays_up() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let echo = fid("blob::echo");
    serve(
        &callee,
        Function::new(&echo, |blob: String| async move { Ok::<_, Error>(blob) }),
    )
    .await;
    let limit = iii_protocol::ENGINE_MAX_FRAME;
    assert_eq!(
        caller.max_frame_size(),
        limit,
        "the engine's limit by default"
    );
    let blob = "x".repeat(20 << 20);

    let err = caller
        .call::<String, _>(&echo, &blob)
        .await
        .expect_err("20 MiB is over the limit");
    assert!(matches!(err, Error::FrameTooLarge { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&limit.to_string()) && text.contains(&format!("`{echo}`")),
        "{text}"
    );
    let err = caller
        .invoke(&echo)
        .payload(&blob)
        .void()
        .await
        .expect_err("void too");
    assert!(matches!(err, Error::FrameTooLarge { .. }), "{err}");

    // The connection is untouched: the next call goes through at once.
    let small: String = caller.call(&echo, "still here").await.expect("next call");
    assert_eq!(small, "still here");
    assert_eq!(caller.connection_state(), iii::ConnectionState::Connected);
}

/// A result over the limit cannot be sent either: the caller gets an error
/// that says so right away instead of waiting out its timeout, and the
/// callee stays connected.
#[tokio::test]
async fn an_oversize_result_becomes_an_error_for_the_caller() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let grow = fid("blob::grow");
    serve(
        &callee,
        Function::new(&grow, |mib: usize| async move {
            Ok::<_, Error>("y".repeat(mib << 20))
        }),
    )
    .await;
    let started = std::time::Instant::now();
    let err = caller
        .invoke(&grow)
        .payload(&20)
        .timeout(Duration::from_secs(10))
        .call::<String>()
        .await
        .expect_err("20 MiB result");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered promptly, not by the timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(err.code(), "frame_too_large", "{err}");
    assert!(err.to_string().contains("16777216"), "{err}");
    let ok: String = caller.call(&grow, &1).await.expect("1 MiB fits");
    assert_eq!(ok.len(), 1 << 20);
    assert_eq!(callee.connection_state(), iii::ConnectionState::Connected);
}

/// `levels` arrays around a number.
fn nested(levels: usize) -> Value {
    (0..levels).fold(json!(1), |inner, _| json!([inner]))
}

/// Data or a result nested deeper than the engine decodes is never sent
/// (the engine would drop the frame, and the caller wait out its timeout):
/// the call fails at once, and a result becomes an error for the caller.
/// The deepest the engine reads goes through, on either engine.
#[tokio::test]
async fn values_nested_deeper_than_the_engine_reads_fail_at_once() {
    let limit = iii_protocol::depth::MAX_FRAME_DEPTH;
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let echo = fid("deep::echo");
    serve(
        &callee,
        Function::new(&echo, |v: Value| async move { Ok::<_, Error>(v) }),
    )
    .await;
    let nest = fid("deep::nest");
    serve(
        &callee,
        Function::new(&nest, |levels: usize| async move {
            Ok::<_, Error>(nested(levels))
        }),
    )
    .await;
    // The frame's own object is one level, so data may nest one less.
    let deepest = nested(limit - 1);
    let back: Value = caller
        .call(&echo, &deepest)
        .await
        .expect("the deepest data");
    assert_eq!(back, deepest);
    let started = std::time::Instant::now();
    let err = caller
        .invoke(&echo)
        .payload(&nested(limit))
        .timeout(Duration::from_secs(10))
        .call::<Value>()
        .await
        .expect_err("one level more");
    assert!(
        matches!(err, Error::TooDeep { depth, .. } if depth == limit + 1),
        "{err}"
    );
    assert!(err.to_string().contains("deep::echo"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1), "at once");

    let fits: Value = caller.call(&nest, &(limit - 1)).await.expect("fits");
    assert_eq!(fits, deepest);
    let started = std::time::Instant::now();
    let err = caller
        .invoke(&nest)
        .payload(&limit)
        .timeout(Duration::from_secs(10))
        .call::<Value>()
        .await
        .expect_err("a result one level deeper");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered, not timed out: {:?}",
        started.elapsed()
    );
    assert_eq!(err.code(), "too_deep", "{err}");
    assert!(err.to_string().contains("deep::nest"), "{err}");
    assert_eq!(callee.connection_state(), iii::ConnectionState::Connected);
    assert_eq!(caller.connection_state(), iii::ConnectionState::Connected);
}

#[tokio::test]
async fn the_frame_limit_is_set_on_the_builder() {
    let engine = engine().await;
    let callee = engine.connect("callee").await;
    let caller = engine
        .worker("caller")
        .max_frame_size(1 << 20)
        .connect()
        .await
        .expect("connect");
    let echo = fid("blob::echo_small");
    serve(
        &callee,
        Function::new(
            &echo,
            |blob: String| async move { Ok::<_, Error>(blob.len()) },
        ),
    )
    .await;
    let err = caller
        .call::<usize, _>(&echo, &"z".repeat(2 << 20))
        .await
        .expect_err("2 MiB over a 1 MiB limit");
    match err {
        Error::FrameTooLarge { size, limit, .. } => {
            assert_eq!(limit, 1 << 20);
            assert!(size > 2 << 20, "{size}");
        }
        other => panic!("expected FrameTooLarge, got {other}"),
    }
    let n: usize = caller.call(&echo, &"z".repeat(1000)).await.expect("small");
    assert_eq!(n, 1000);
    let err = engine
        .worker("tiny")
        .max_frame_size(100)
        .connect()
        .await
        .expect_err("too small to carry registrations");
    assert!(err.to_string().contains("max frame size"), "{err}");
}
