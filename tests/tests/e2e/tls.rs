//! `wss://`: a worker on an engine serving TLS with a certificate made at
//! test time, trusted as a custom root; channel ends over TLS too; and a
//! certificate nobody trusts refused at once, saying what to do.

use std::time::Duration;

use iii::{Error, Function, Worker};
use iii_tests::{pattern, pattern_mismatch, serve};
use serde_json::json;

/// A self-signed certificate for `localhost` and 127.0.0.1: (cert, key) PEM.
fn certificate() -> (String, String) {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let cert = rcgen::generate_simple_self_signed(names).expect("a test certificate");
    (cert.cert.pem(), cert.key_pair.serialize_pem())
}

#[tokio::test]
async fn a_worker_calls_and_streams_over_tls_with_a_custom_root() {
    let (cert, key) = certificate();
    let engine = iii_embedded::Engine::builder()
        .tls(cert.clone(), key)
        .start()
        .await
        .expect("engine");
    let url = engine.ws_url();
    assert!(url.starts_with("wss://"), "{url}");
    let connect = |name: &str| {
        Worker::builder()
            .url(&url)
            .name(name)
            .tls_root_certificate(cert.clone())
            .connect_timeout(Duration::from_secs(5))
            .connect()
    };
    let callee = connect("tls-callee").await.expect("connect over TLS");
    let caller = connect("tls-caller").await.expect("connect over TLS");
    serve(
        &callee,
        Function::new("tls::echo", |v: serde_json::Value| async move {
            Ok::<_, Error>(v)
        }),
    )
    .await;
    let echoed: serde_json::Value = caller
        .call("tls::echo", &json!({"over": "tls"}))
        .await
        .expect("call");
    assert_eq!(echoed, json!({"over": "tls"}));

    // Channel ends attach over TLS as the worker did.
    let mut channel = caller.create_channel().await.expect("create");
    let mut writer = channel.writer;
    let write = tokio::spawn(async move {
        writer.send_bytes(pattern(0, 300_000)).await?;
        writer.close().await
    });
    let data = channel.reader.read_all().await.expect("read over TLS");
    write.await.expect("join").expect("write over TLS");
    assert_eq!((data.len(), pattern_mismatch(&data)), (300_000, None));
    engine.shutdown().await;
}

#[tokio::test]
async fn an_untrusted_certificate_fails_at_once_and_says_what_to_do() {
    let (cert, key) = certificate();
    let engine = iii_embedded::Engine::builder()
        .tls(cert, key)
        .start()
        .await
        .expect("engine");
    let started = std::time::Instant::now();
    let error = Worker::builder()
        .url(engine.ws_url())
        .name("tls-untrusting")
        .connect_timeout(Duration::from_secs(60))
        .connect()
        .await
        .expect_err("not trusted");
    let text = error.to_string();
    assert!(
        text.contains("certificate") && text.contains("tls_root_certificate"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a certificate error is not retried until the connect timeout"
    );
    engine.shutdown().await;
}
