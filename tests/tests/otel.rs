//! OpenTelemetry spans (feature `otel`) exported to the engine: an
//! invocation's span, the calls it makes, and their callees' spans, one
//! tree in the engine's traces.
//!
//! A test binary of its own: `iii::otel::init` sets the global tracer
//! provider, which would give every other test's invocations and calls
//! spans of their own (and change the trace context they send).

use std::time::Duration;

use iii_tests::{engine, eventually};
use serde_json::{Value, json};

/// The node named `name` in a `engine::traces::tree` forest.
fn find<'a>(nodes: &'a [Value], name: &str) -> Option<&'a Value> {
    nodes.iter().find_map(|n| {
        if n["name"] == name {
            Some(n)
        } else {
            find(
                n["children"].as_array().map_or(&[][..], Vec::as_slice),
                name,
            )
        }
    })
}

fn children(node: &Value) -> &[Value] {
    node["children"].as_array().map_or(&[][..], Vec::as_slice)
}

#[tokio::test]
async fn invocations_and_calls_are_spans_of_one_trace_in_the_engine() {
    let engine = engine().await;
    let (outer, inner) = engine.pair().await;
    let telemetry = iii::otel::init(&outer).expect("init");
    let (outer_id, inner_id) = iii_tests::serve_trace_pair(&outer, &inner).await;
    let parent = iii::trace::TraceContext::child_of(None, None);
    let out: Value = outer
        .invoke(&outer_id)
        .traceparent(parent.traceparent())
        .baggage("tenant=acme")
        .call()
        .await
        .expect("call");
    // The invocation's baggage goes on with the call it makes in its span.
    let inner_baggage = out["inner"]["baggage"].as_str().unwrap_or("");
    assert!(
        inner_baggage.split(',').any(|e| e.trim() == "tenant=acme"),
        "the callee got the caller's baggage: {}",
        out["inner"]
    );
    telemetry
        .flush()
        .await
        .expect("the spans are written to the engine");

    let (execute_outer, call_inner, execute_inner) = (
        format!("execute {outer_id}"),
        format!("call {inner_id}"),
        format!("execute {inner_id}"),
    );
    let tree = eventually(Duration::from_secs(15), "the spans in the engine", || {
        let (outer, names) = (
            outer.clone(),
            [
                execute_outer.clone(),
                call_inner.clone(),
                execute_inner.clone(),
            ],
        );
        let trace_id = parent.trace_id();
        async move {
            let tree: Value = outer
                .call("engine::traces::tree", &json!({"trace_id": trace_id}))
                .await
                .ok()?;
            let roots = tree["roots"].as_array()?.clone();
            names
                .iter()
                .all(|n| find(&roots, n).is_some())
                .then_some(roots)
        }
    })
    .await;
    let outer_span = find(&tree, &execute_outer).expect("the invocation's span");
    assert_eq!(
        outer_span["parent_span_id"],
        json!(parent.span_id()),
        "a child of the caller's span"
    );
    assert_eq!(
        outer_span["span_id"], out["span"],
        "the span the handler's trace context names"
    );
    let call = children(outer_span)
        .iter()
        .find(|c| c["name"] == call_inner)
        .expect("the call, a child of the invocation");
    let inner_span = children(call)
        .iter()
        .find(|c| c["name"] == execute_inner)
        .expect("the callee's span, a child of the call");
    assert_eq!(inner_span["span_id"], out["inner"]["span"]);
    assert_eq!(out["inner"]["parent"], call["span_id"]);
    assert_eq!(outer_span["status"], "ok");
    assert_eq!(outer_span["service_name"], json!(outer.name()));
}
