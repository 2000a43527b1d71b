//! What the SDK puts on the wire, checked against a scripted engine: the
//! announcement, the replay after a reconnect, answers to every
//! invocation, functions invoked over HTTP, and log lines.

use iii::{ConnectionState, Error, Function, Worker};
use iii_protocol::Message;
use iii_tests::NoopProvider;
use iii_tests::fake::{FakeEngine, Mode, cut_and_reconnect, kind, reconnecting_worker};
use serde_json::{Value, json};

#[tokio::test]
async fn handshake_headers_and_the_announcement() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = Worker::builder()
        .url(&fake.url)
        .name("wire-announce")
        .namespace("billing")
        .description("bills")
        .header("authorization", "Bearer s3cret")
        .connect()
        .await
        .expect("connect");
    let conn = &fake.connections()[0];
    assert_eq!(conn.headers["authorization"], "Bearer s3cret");
    let Some(Message::InvokeFunction(register)) = conn
        .frames
        .iter()
        .flatten()
        .find(|m| kind(m) == "invokefunction")
        .cloned()
    else {
        panic!("no register call")
    };
    assert_eq!(register.function_id, "engine::workers::register");
    assert!(
        register.invocation_id.is_some(),
        "the SDK waits for the answer"
    );
    let data = register.data;
    assert_eq!(data["name"], "wire-announce");
    assert_eq!(data["namespace"], "billing");
    assert_eq!(data["description"], "bills");
    assert_eq!(data["runtime"], "rust");
    assert_eq!(data["version"], iii::VERSION);
    assert_eq!(data["pid"], std::process::id());
    assert!(
        data.get("_caller_worker_id").is_none(),
        "the engine injects that, not the SDK"
    );
    assert_eq!(worker.worker_id().as_deref(), Some("w-1"));
}

#[tokio::test]
async fn reconnect_sends_reattach_then_a_deterministic_replay_the_announcement_and_the_bindings() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = reconnecting_worker(&fake, "wire-replay").await;
    let ok = |_: Value| async move { Ok::<(), Error>(()) };
    worker
        .register_function(Function::new("b::second", ok))
        .expect("fn");
    worker
        .register_trigger(iii::Trigger::new(
            "b::second",
            iii::trigger::Http::get("/x"),
        ))
        .expect("trigger");
    worker
        .register_function(Function::new("a::first", ok))
        .expect("fn");
    worker
        .register_trigger_type(iii::TriggerType::new("ticker", "ticks"), NoopProvider)
        .expect("type");
    worker.flush().await.expect("flush");

    cut_and_reconnect(&fake, &worker).await;
    let second = &fake.connections()[1];
    let kinds: Vec<String> = second.frames.iter().flatten().map(kind).collect();
    assert_eq!(
        kinds[..8],
        [
            "reattach",
            "registertriggertype",
            "registerfunction",
            "registerfunction",
            "registerfunction",
            "invokefunction",
            "registertrigger",
            "ping"
        ],
        "the bindings follow the announcement, and a ping proves them read: {kinds:?}"
    );
    let Some(Message::Reattach(reattach)) = &second.frames[0] else {
        panic!("reattach first")
    };
    assert_eq!(reattach.previous_worker_id, "w-1");
    assert_eq!(reattach.reattach_token.as_deref(), Some("t-1"));
    let ids: Vec<String> = second
        .frames
        .iter()
        .flatten()
        .filter_map(|m| match m {
            Message::RegisterFunction(f) => Some(f.id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        ids,
        ["b::second", "b::second:trigger:0", "a::first"],
        "registration order is kept (the trigger's alias with it)"
    );
    assert_eq!(worker.worker_id().as_deref(), Some("w-2"));
}

#[tokio::test]
async fn unknown_and_broken_frames_from_the_engine_are_ignored() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = Worker::builder()
        .url(&fake.url)
        .name("wire-tolerant")
        .connect()
        .await
        .expect("connect");
    fake.push(r#"{"type":"teleport","to":"mars"}"#);
    fake.push("{not json");
    fake.push(r#"{"type":"invocationresult","invocation_id":"00000000-0000-4000-8000-000000000000","function_id":"x","result":1}"#);
    // The engine asks for a function this worker does not have: it answers.
    fake.push(r#"{"type":"invokefunction","invocation_id":"11111111-1111-4111-8111-111111111111","function_id":"no::such","data":{}}"#);
    let answer = fake.wait_result(0, "no::such").await;
    assert_eq!(answer.error.expect("error").code, "function_not_found");
    assert_eq!(worker.connection_state(), ConnectionState::Connected);
    worker.flush().await.expect("still talking");
}

#[tokio::test]
async fn every_invocation_is_answered_with_its_function_id() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = Worker::builder()
        .url(&fake.url)
        .name("wire-answers")
        .connect()
        .await
        .expect("connect");
    worker
        .register_function(Function::new("math::inc", |x: i64| async move {
            Ok::<_, Error>(x + 1)
        }))
        .expect("register");
    worker
        .register_function(Function::new("math::none", |_: Value| async move {
            Ok::<(), Error>(())
        }))
        .expect("register");
    fake.push(r#"{"type":"invokefunction","invocation_id":"22222222-2222-4222-8222-222222222222","function_id":"math::inc","data":41,"action":{"type":"void"}}"#);
    fake.push(r#"{"type":"invokefunction","invocation_id":"33333333-3333-4333-8333-333333333333","function_id":"math::none","data":null}"#);
    let inc = fake.wait_result(0, "math::inc").await;
    assert_eq!(
        inc.invocation_id.to_string(),
        "22222222-2222-4222-8222-222222222222"
    );
    assert_eq!(inc.result, Some(json!(42)));
    let none = fake.wait_result(0, "math::none").await;
    assert_eq!(
        (none.result, none.error),
        (None, None),
        "`()` is an absent result"
    );
}

#[tokio::test]
async fn http_invoked_functions_register_their_endpoint_and_are_not_run_locally() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = Worker::builder()
        .url(&fake.url)
        .name("wire-http-fn")
        .connect()
        .await
        .expect("connect");
    let invocation = iii_protocol::HttpInvocation {
        url: "https://functions.example.test/charge".into(),
        method: Some("PUT".into()),
        timeout_ms: Some(5_000),
        headers: [("x-team".to_string(), "billing".to_string())].into(),
        auth: Some(iii_protocol::HttpAuth::Bearer {
            token_key: "CHARGE_TOKEN".into(),
        }),
    };
    worker
        .register_function(
            Function::http("ext::charge", invocation.clone()).description("runs elsewhere"),
        )
        .expect("register");
    let registered = fake
        .wait_frame(
            0,
            "the registration",
            |m| matches!(m, Message::RegisterFunction(f) if f.id == "ext::charge"),
        )
        .await;
    let Message::RegisterFunction(registered) = registered else {
        unreachable!()
    };
    assert_eq!(registered.invocation, Some(Box::new(invocation)));
    assert_eq!(registered.request_format, None);
    fake.push(r#"{"type":"invokefunction","invocation_id":"44444444-4444-4444-8444-444444444444","function_id":"ext::charge","data":{}}"#);
    let answer = fake.wait_result(0, "ext::charge").await;
    assert_eq!(answer.error.expect("error").code, "function_not_invokable");
}

/// A handler's log line goes to the engine's log function, fire and
/// forget, with the invocation's trace and span ids.
#[tokio::test]
async fn a_handlers_log_lines_carry_its_trace() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = Worker::builder()
        .url(&fake.url)
        .name("wire-logger")
        .connect()
        .await
        .expect("connect");
    worker
        .register_function(Function::new(
            "log::me",
            |_: Value, ctx: iii::Context| async move {
                ctx.logger()
                    .info_with("order processed", &json!({"order_id": "ord_1"}));
                Ok::<(), Error>(())
            },
        ))
        .expect("register");
    worker.flush().await.expect("flush");
    fake.push(r#"{"type":"invokefunction","invocation_id":"55555555-5555-4555-8555-555555555555","function_id":"log::me","data":{},"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#);
    let line = fake
        .wait_frame(
            0,
            "a log line",
            |m| matches!(m, Message::InvokeFunction(i) if i.function_id == "engine::log::info"),
        )
        .await;
    let Message::InvokeFunction(line) = line else {
        unreachable!()
    };
    assert_eq!(line.invocation_id, None, "fire and forget");
    // The invocation's own span: a child of the one it came with.
    let span = line.data["span_id"]
        .as_str()
        .expect("a span id")
        .to_string();
    assert!(
        span.len() == 16
            && span.bytes().all(|b| b.is_ascii_hexdigit())
            && span != "00f067aa0ba902b7",
        "{span}"
    );
    assert_eq!(
        line.data,
        json!({
            "message": "order processed",
            "data": {"order_id": "ord_1"},
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": span,
            "service_name": "wire-logger"
        })
    );
    assert_eq!(
        line.traceparent.as_deref(),
        Some(format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{span}-01").as_str()),
        "the line's call continues the trace too"
    );
}
