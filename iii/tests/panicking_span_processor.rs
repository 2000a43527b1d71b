//! A span processor that panics when an invocation's span starts fails
//! that invocation with an error its caller sees at once, and the worker
//! goes on serving. A test binary of its own: it installs a global tracer
//! provider.
#![cfg(all(feature = "otel", feature = "embedded"))]

use std::time::Duration;

use iii::{Error, Function, Worker};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use serde_json::{Value, json};

/// Panics when the span of an invocation of `boom` starts.
#[derive(Debug)]
struct Panicky;

impl SpanProcessor for Panicky {
    fn on_start(&self, span: &mut Span, _cx: &opentelemetry::Context) {
        if span
            .exported_data()
            .is_some_and(|data| data.name == "execute boom")
        {
            panic!("a span processor failed");
        }
    }
    fn on_end(&self, _span: SpanData) {}
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

#[tokio::test]
async fn a_panicking_span_processor_fails_the_invocation_and_the_worker_serves_on() {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(Panicky)
        .build();
    opentelemetry::global::set_tracer_provider(provider);
    let engine = iii::embedded::Engine::start().await.expect("engine");
    let worker = Worker::builder()
        .url(engine.ws_url())
        .name("panicky-spans")
        .connect()
        .await
        .expect("connect");
    for id in ["boom", "calm"] {
        worker
            .register_function(Function::new(
                id,
                |v: Value| async move { Ok::<_, Error>(v) },
            ))
            .expect("register");
    }
    worker.flush().await.expect("flush");

    // Within 5 s: without the catch, the reader unwound and the call
    // waited for its timeout.
    let failed = worker
        .invoke("boom")
        .payload(&json!(1))
        .timeout(Duration::from_secs(5))
        .call::<Value>()
        .await
        .expect_err("its span processor panicked");
    let text = failed.to_string();
    assert!(
        text.contains("invocation_failed")
            && text.contains("preparing the invocation of `boom`")
            && text.contains("a span processor failed"),
        "{text}"
    );
    let calm: Value = worker.call("calm", &json!(2)).await.expect("still served");
    assert_eq!(calm, json!(2));
    worker.shutdown().await;
    engine.shutdown().await;
}
