//! Log lines and trace context end to end: the Logger and the `tracing`
//! layer to `log` triggers and `engine::logs::list`, and the trace carried
//! from an invocation to the calls it makes.
//!
//! A test binary of its own: `install_layer` sets the process's global
//! `tracing` subscriber, which would send the events of every other test's
//! handlers to their engines, and the layer's test expects its events'
//! target to be `logging`, this binary's name.

use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use iii::logger::LogRecord;
use iii::trigger::{Log, LogLevel, Trigger};
use iii::{Context, Error, Function, Worker};
use iii_tests::{eventually, fid, serve};
use serde_json::{Value, json};

/// Installs the engine layer once for this test binary, with the bridge
/// from the `log` crate (which the SDK's WebSocket library logs every
/// frame with, so events arrive while the SDK writes, locks held).
fn install_layer() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::prelude::*;
        let _ = tracing_subscriber::registry()
            .with(iii::logger::layer())
            .try_init();
    });
}

/// A fresh trace id, so runs and tests never see each other's lines.
fn parent_traceparent() -> (String, String) {
    let ctx = iii::trace::TraceContext::child_of(None, None);
    (ctx.traceparent(), ctx.trace_id())
}

/// Set if a `log` fire ever came with a trace context (the engine sends
/// none).
static TRACED_FIRE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records delivered to a `log` binding of `level`.
async fn sink(worker: &Worker, level: LogLevel) -> Arc<Mutex<Vec<LogRecord>>> {
    let seen: Arc<Mutex<Vec<LogRecord>>> = Arc::default();
    let keep = seen.clone();
    let id = fid("ops::sink");
    serve(
        worker,
        Function::new(&id, move |record: LogRecord, ctx: Context| {
            let keep = keep.clone();
            async move {
                if ctx.traceparent().is_some() || ctx.baggage().is_some() {
                    TRACED_FIRE.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                keep.lock().expect("lock").push(record);
                Ok::<_, Error>(())
            }
        }),
    )
    .await;
    worker
        .register_trigger(Trigger::new(&id, Log::level(level)))
        .expect("bind");
    worker.flush().await.expect("flush");
    seen
}

/// The records of `trace_id` that `seen` holds, once `count` have come.
async fn lines_of(
    seen: &Arc<Mutex<Vec<LogRecord>>>,
    trace_id: &str,
    count: usize,
) -> Vec<LogRecord> {
    eventually(Duration::from_secs(10), "the log lines", || async {
        let lines: Vec<LogRecord> = seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.trace_id.as_deref() == Some(trace_id))
            .cloned()
            .collect();
        (lines.len() >= count).then_some(lines)
    })
    .await
}

#[tokio::test]
async fn logger_lines_reach_log_triggers_with_the_invocations_trace() {
    let engine = iii_tests::engine().await;
    let (app, ops) = engine.pair().await;
    let all = sink(&ops, LogLevel::All).await;
    let warnings = sink(&ops, LogLevel::Warn).await;
    let id = fid("app::checkout");
    serve(
        &app,
        Function::new(&id, |order: Value, ctx: Context| async move {
            let log = ctx.logger();
            log.info("checkout started");
            log.warn_with("card retried", &json!({"order": order["id"], "try": 2}));
            log.error("card declined");
            Ok::<_, Error>(ctx.trace().span_id())
        }),
    )
    .await;
    let (traceparent, trace_id) = parent_traceparent();
    let span: String = app
        .invoke(&id)
        .payload(&json!({"id": 7}))
        .traceparent(&traceparent)
        .call()
        .await
        .expect("call");

    let lines = lines_of(&all, &trace_id, 3).await;
    let mut texts: Vec<(&str, &str)> = lines
        .iter()
        .map(|r| (r.severity_text.as_str(), r.body.as_str()))
        .collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        [
            ("ERROR", "card declined"),
            ("INFO", "checkout started"),
            ("WARN", "card retried")
        ]
    );
    let warn = lines
        .iter()
        .find(|r| r.severity_text == "WARN")
        .expect("the warning");
    assert_eq!(warn.span_id.as_deref(), Some(span.as_str()));
    assert_eq!(warn.attributes["order"], 7);
    assert_eq!(warn.attributes["try"], 2);
    assert_eq!(warn.severity_number, 13);
    assert_eq!(warn.service_name, app.name());
    assert!(!warn.is_tracing_echo());

    // A `warn` binding gets warnings only: the level is matched exactly.
    let warned = lines_of(&warnings, &trace_id, 1).await;
    assert!(
        warned.iter().all(|r| r.severity_text == "WARN"),
        "{warned:?}"
    );
    // The engine's own copy of each line (no trace ids) comes too.
    eventually(Duration::from_secs(10), "the engine's copy", || async {
        all.lock()
            .expect("lock")
            .iter()
            .any(|r| r.is_tracing_echo() && r.body == "card retried")
            .then_some(())
    })
    .await;

    assert!(
        !TRACED_FIRE.load(std::sync::atomic::Ordering::Relaxed),
        "log fires carry no trace context"
    );
    let listed: Value = ops
        .call("engine::logs::list", &json!({"trace_id": trace_id}))
        .await
        .expect("list");
    assert_eq!(listed["total"], 3, "{listed}");
    // Newest first. (The SDK sends the lines in order, but the engine 0.23
    // handles each log call in a task of its own, so it may store lines
    // written within the same instant in another order.)
    let stamps: Vec<u64> = listed["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| l["timestamp_unix_nano"].as_u64().expect("a timestamp"))
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] >= w[1]), "{listed}");
}

#[tokio::test]
async fn tracing_events_in_handlers_go_to_the_engine() {
    install_layer();
    let engine = iii_tests::engine().await;
    let (app, ops) = engine.pair().await;
    let all = sink(&ops, LogLevel::All).await;
    let id = fid("app::traced");
    serve(
        &app,
        Function::new(&id, |_: Value, ctx: Context| async move {
            // Registering writes a frame with the worker's lock held: an
            // event raised then must not be sent from there.
            let extra = fid("app::extra");
            ctx.worker()
                .register_function(Function::new(&extra, |_: Value| async move {
                    Ok::<_, Error>(())
                }))?;
            ctx.worker().unregister_function(&extra)?;
            tracing::warn!(order = 7, paid = true, "from tracing");
            // A task the handler spawns keeps its scope when wrapped.
            let spawned = tokio::spawn(ctx.scoped(async {
                tracing::info!(step = "spawned", "from a task");
            }));
            spawned.await.map_err(Error::other)?;
            Ok::<_, Error>(ctx.trace().span_id())
        }),
    )
    .await;
    let (traceparent, trace_id) = parent_traceparent();
    let span: String = app
        .invoke(&id)
        .traceparent(&traceparent)
        .timeout(Duration::from_secs(10))
        .call()
        .await
        .expect("the handler finishes (no deadlock)");
    let lines = lines_of(&all, &trace_id, 2).await;
    assert!(
        lines.iter().all(|r| r.attributes["target"] == "logging"),
        "only the test's own events, not the WebSocket library's: {:?}",
        lines.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let warn = lines
        .iter()
        .find(|r| r.body == "from tracing")
        .expect("the warning");
    assert_eq!(warn.severity_text, "WARN");
    assert_eq!(warn.span_id.as_deref(), Some(span.as_str()));
    assert_eq!(warn.attributes["order"], 7);
    assert_eq!(warn.attributes["paid"], true);
    assert_eq!(warn.attributes["target"], "logging");
    let task = lines
        .iter()
        .find(|r| r.body == "from a task")
        .expect("the spawned task's line");
    assert_eq!(task.attributes["step"], "spawned");
}

#[tokio::test]
async fn calls_inside_a_handler_carry_the_invocation_as_their_parent() {
    let engine = iii_tests::engine().await;
    let (outer, inner) = engine.pair().await;
    let (outer_id, _) = iii_tests::serve_trace_pair(&outer, &inner).await;
    let (traceparent, trace_id) = parent_traceparent();
    let parent_span = traceparent.split('-').nth(2).expect("span").to_string();
    let out: Value = outer
        .invoke(&outer_id)
        .traceparent(&traceparent)
        .call()
        .await
        .expect("call");
    let span = out["span"].as_str().expect("span");
    assert_eq!(out["parent"], json!(parent_span));
    assert_ne!(span, parent_span, "the invocation has a span of its own");
    assert_eq!(
        out["inner"]["arrived_with"],
        json!(format!("00-{trace_id}-{span}-01")),
        "the call carries the invocation's span as its parent"
    );
    assert_eq!(out["inner"]["trace"], json!(trace_id));
    assert_eq!(out["inner"]["parent"], json!(span));
}

#[tokio::test]
async fn a_log_binding_outside_default_is_refused() {
    let engine = iii_tests::engine().await;
    let worker = engine
        .worker("logs-ns")
        .namespace("billing")
        .connect()
        .await
        .expect("connect");
    let error = worker
        .register_trigger(Trigger::new("billing::sink", Log::all()))
        .unwrap_err();
    assert!(
        error.to_string().contains("only to functions in `default`"),
        "{error}"
    );
}

#[tokio::test]
async fn the_engine_passes_a_callers_trace_context_on_as_sent() {
    let engine = iii_tests::engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("trace::echo");
    serve(
        &callee,
        Function::new(&id, |_: Value, ctx: Context| async move {
            Ok::<_, Error>(json!({"traceparent": ctx.traceparent(), "baggage": ctx.baggage()}))
        }),
    )
    .await;
    // A call from outside a handler, with no trace context: none arrives.
    let bare: Value = caller.call(&id, &json!({})).await.expect("call");
    assert_eq!(bare, json!({"traceparent": null, "baggage": null}));
    // With one: the same traceparent, the baggage naming the target.
    let (traceparent, _) = parent_traceparent();
    let sent: Value = caller
        .invoke(&id)
        .traceparent(&traceparent)
        .baggage("tenant=acme")
        .call()
        .await
        .expect("call");
    assert_eq!(sent["traceparent"], json!(traceparent));
    let baggage = sent["baggage"].as_str().expect("baggage");
    let mut entries: Vec<&str> = baggage.split(',').map(str::trim).collect();
    entries.sort_unstable();
    assert_eq!(
        entries,
        [
            "iii.function.id=".to_string() + &id,
            "tenant=acme".to_string()
        ]
    );
}

#[tokio::test]
async fn otlp_logs_on_the_telemetry_socket_are_records_too() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message as Frame;
    // What the official Python and Node SDKs' loggers send.
    let engine = iii_tests::engine().await;
    let ops = engine.connect("ops").await;
    let all = sink(&ops, LogLevel::All).await;
    let (_, trace_id) = parent_traceparent();
    let url = format!("{}/otel", engine.ws_url.trim_end_matches('/'));
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("attach /otel");
    // A frame the engine refuses (a span without a name) does not end the socket.
    let mut bad = b"OTLP".to_vec();
    bad.extend_from_slice(
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"ab","spanId":"cd"}]}]}]}"#,
    );
    socket.send(Frame::binary(bad)).await.expect("send");
    let record = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "py-worker"}}]},
        "scopeLogs": [{"scope": {"name": "iii.logger"}, "logRecords": [{
            "timeUnixNano": "1796110412491527785",
            "severityNumber": 13, "severityText": "WARN",
            "body": {"stringValue": "from otlp"},
            "attributes": [{"key": "log.data", "value": {"kvlistValue": {"values": [{"key": "n", "value": {"intValue": "3"}}]}}}],
            "traceId": trace_id, "spanId": "00f067aa0ba902b7",
        }]}],
    }]});
    let mut frame = b"LOGS".to_vec();
    frame.extend_from_slice(record.to_string().as_bytes());
    socket.send(Frame::binary(frame)).await.expect("send");
    let lines = lines_of(&all, &trace_id, 1).await;
    let line = &lines[0];
    assert_eq!(line.body, "from otlp");
    assert_eq!(line.severity_text, "WARN");
    assert_eq!(line.service_name, "py-worker");
    assert_eq!(line.attributes["log.data"], json!({"n": 3}));
    assert_eq!(
        line.instrumentation_scope_name.as_deref(),
        Some("iii.logger")
    );
}
