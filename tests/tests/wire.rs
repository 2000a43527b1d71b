//! What the SDK puts on the wire, checked against a scripted engine, and
//! how the embedded engine treats raw protocol clients.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iii::{ConnectionState, Error, Function, ReconnectPolicy, Worker};
use iii_protocol::{self as protocol, Message};
use iii_tests::fake::{FakeEngine, Mode, cut_and_reconnect, fast_reconnect, kind};
use iii_tests::{engine, fid, serve, unique};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;

/// A worker on the fake engine that reconnects quickly.
async fn reconnecting_worker(fake: &FakeEngine, name: &str) -> Worker {
    Worker::builder()
        .url(&fake.url)
        .name(name)
        .reconnect(fast_reconnect())
        .connect()
        .await
        .expect("connect")
}

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

struct NoopProvider;
impl iii::trigger_type::TriggerTypeHandler for NoopProvider {
    type Config = Value;
    async fn register(&self, _: iii::trigger_type::Binding<Value>) -> Result<(), Error> {
        Ok(())
    }
    async fn unregister(&self, _: String) -> Result<(), Error> {
        Ok(())
    }
}

#[tokio::test]
async fn a_silent_link_is_dropped_after_the_idle_timeout() {
    let fake = FakeEngine::start(Mode::SilentAfterRegister).await;
    let worker = Worker::builder()
        .url(&fake.url)
        .name("wire-idle")
        .keepalive(Duration::from_millis(50), Duration::from_millis(300))
        .reconnect(fast_reconnect())
        .connect()
        .await
        .expect("connect");
    let started = std::time::Instant::now();
    worker
        .wait_for_state(ConnectionState::Reconnecting, Duration::from_secs(5))
        .await
        .expect("the silent link was given up");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    let pings = fake.connections()[0]
        .frames
        .iter()
        .flatten()
        .filter(|m| kind(m) == "ping")
        .count();
    assert!(pings >= 2, "the worker pinged while waiting ({pings})");
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
async fn a_handler_that_outlives_its_connection_answers_on_the_new_one() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = reconnecting_worker(&fake, "wire-late-answer").await;
    let (release, released) = tokio::sync::watch::channel(false);
    worker
        .register_function(Function::new("slow::echo", move |x: i64| {
            let mut released = released.clone();
            async move {
                let _ = released.wait_for(|go| *go).await;
                Ok::<_, Error>(x)
            }
        }))
        .expect("register");
    worker.flush().await.expect("flush");
    fake.push(r#"{"type":"invokefunction","invocation_id":"44444444-4444-4444-8444-444444444444","function_id":"slow::echo","data":7}"#);
    // Wait until the handler is running (it holds a second receiver), then
    // cut the link under it.
    iii_tests::eventually(Duration::from_secs(5), "the handler to start", || {
        let started = release.receiver_count() > 1;
        async move { started.then_some(()) }
    })
    .await;
    cut_and_reconnect(&fake, &worker).await;
    release.send_replace(true);
    let answer = fake.wait_result(1, "slow::echo").await;
    assert_eq!(
        answer.invocation_id.to_string(),
        "44444444-4444-4444-8444-444444444444"
    );
    assert_eq!(answer.result, Some(json!(7)));
}

async fn raw_client(
    url: &str,
) -> (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    String,
    String,
) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let Some(Ok(Frame::Text(text))) = ws.next().await else {
        panic!("no welcome")
    };
    let Ok(Message::WorkerRegistered(w)) = protocol::decode(&text) else {
        panic!("not a welcome: {text}")
    };
    (ws, w.worker_id, w.reattach_token.expect("token"))
}

async fn next_message(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Option<Message> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .ok()??
        {
            Ok(Frame::Text(text)) => return protocol::decode(&text).ok(),
            Ok(Frame::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

#[tokio::test]
async fn the_engine_drops_bad_frames_and_keeps_the_connection() {
    let engine = engine().await;
    let (mut ws, _, _) = raw_client(&engine.ws_url).await;
    for junk in [
        "{not json",
        r#"{"type":"teleport"}"#,
        r#"{"type":"registertrigger","id":"t","trigger_type":"http","function_id":"f"}"#,
        "   ",
    ] {
        ws.send(Frame::text(junk)).await.expect("send");
    }
    ws.send(Frame::text(r#"{"type":"ping"}"#))
        .await
        .expect("send");
    assert_eq!(next_message(&mut ws).await, Some(Message::Pong));
    // The same JSON in a binary frame is accepted too.
    ws.send(Frame::binary(br#"{"type":"ping"}"#.to_vec()))
        .await
        .expect("send");
    assert_eq!(next_message(&mut ws).await, Some(Message::Pong));
    // Other workers are unaffected.
    let worker = engine.connect("bystander").await;
    worker.flush().await.expect("flush");
}

#[tokio::test]
async fn reattach_with_the_right_token_evicts_the_old_connection() {
    let engine = engine().await;
    let (mut old, old_id, token) = raw_client(&engine.ws_url).await;
    let (mut wrong, _, _) = raw_client(&engine.ws_url).await;
    let reattach = |token: &str| {
        format!(
            r#"{{"type":"reattach","previous_worker_id":"{old_id}","reattach_token":"{token}"}}"#
        )
    };
    wrong
        .send(Frame::text(reattach("not-the-token")))
        .await
        .expect("send");
    old.send(Frame::text(r#"{"type":"ping"}"#))
        .await
        .expect("send");
    assert_eq!(
        next_message(&mut old).await,
        Some(Message::Pong),
        "a wrong token changes nothing"
    );

    let (mut new, _, _) = raw_client(&engine.ws_url).await;
    new.send(Frame::text(reattach(&token))).await.expect("send");
    assert_eq!(
        next_message(&mut old).await,
        None,
        "the old socket is dropped"
    );
    new.send(Frame::text(r#"{"type":"ping"}"#))
        .await
        .expect("send");
    assert_eq!(next_message(&mut new).await, Some(Message::Pong));
}

#[tokio::test]
async fn namespaces_are_strict_and_the_miss_says_where_to_look() {
    let engine = engine().await;
    let ns = unique("tenant");
    let owner = engine
        .worker("ns-owner")
        .namespace(&ns)
        .connect()
        .await
        .expect("connect");
    let caller = engine.connect("ns-caller").await;
    let id = fid("tenant::fn");
    serve(
        &owner,
        Function::new(&id, |x: u8| async move { Ok::<_, Error>(x) }),
    )
    .await;
    let err = caller
        .call::<u8, _>(&id, &1)
        .await
        .expect_err("not in default");
    let message = &err.remote_body().expect("remote").message;
    assert!(
        message.contains(&format!("It is registered in namespace(s): {ns}")),
        "{message}"
    );
    let out: u8 = caller
        .invoke(&id)
        .namespace(&ns)
        .payload(&7)
        .call()
        .await
        .expect("named namespace");
    assert_eq!(out, 7);
    let err = caller
        .invoke(&id)
        .namespace(" ")
        .call::<u8>()
        .await
        .expect_err("blank");
    assert!(err.to_string().contains("blank"), "{err}");
}

#[tokio::test]
async fn a_void_call_while_disconnected_fails_at_once() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = Worker::builder()
        .url(&fake.url)
        .name("wire-offline")
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_secs(30),
            ..ReconnectPolicy::default()
        })
        .connect()
        .await
        .expect("connect");
    fake.drop_connections();
    worker
        .wait_for_state(ConnectionState::Reconnecting, Duration::from_secs(5))
        .await
        .expect("noticed");
    let err = worker.invoke("x::y").void().await.expect_err("offline");
    assert!(matches!(err, Error::NotConnected { .. }), "{err}");
    let err = worker
        .call::<Value, _>("x::y", &json!({}))
        .await
        .expect_err("offline");
    assert!(matches!(err, Error::NotConnected { .. }), "{err}");
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
    assert_eq!(registered.invocation, Some(invocation));
    assert_eq!(registered.request_format, None);
    fake.push(r#"{"type":"invokefunction","invocation_id":"44444444-4444-4444-8444-444444444444","function_id":"ext::charge","data":{}}"#);
    let answer = fake.wait_result(0, "ext::charge").await;
    assert_eq!(answer.error.expect("error").code, "function_not_invokable");
}

#[tokio::test]
async fn flush_waits_for_the_engine_and_times_out_when_it_is_silent() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = Worker::builder()
        .url(&fake.url)
        .name("wire-flush")
        .connect()
        .await
        .expect("connect");
    worker
        .flush()
        .await
        .expect("a live engine answers the ping");

    let silent = FakeEngine::start(Mode::SilentAfterRegister).await;
    let worker = Worker::builder()
        .url(&silent.url)
        .name("wire-flush-silent")
        .default_timeout(Duration::from_millis(300))
        .connect()
        .await
        .expect("connect");
    let err = worker.flush().await.expect_err("no pong ever comes");
    assert!(
        matches!(err, Error::Flush(iii::FlushFailure::Timeout(_))),
        "{err}"
    );
    assert!(err.to_string().contains("300ms"), "{err}");
}

/// Both engines read a `null` result to an http fire as "the response is
/// streamed on the response channel"; with nothing streamed the client
/// gets 504 and an empty body when the HTTP timeout runs out (30 s on the
/// real engine; 300 ms on the embedded one here).
#[tokio::test]
async fn a_null_http_result_waits_for_a_stream_and_times_out_with_504() {
    let external = std::env::var("III_URL").is_ok();
    let embedded = if external {
        None
    } else {
        Some(
            iii_embedded::Engine::builder()
                .http_timeout(Duration::from_millis(300))
                .start()
                .await
                .expect("start"),
        )
    };
    let (ws_url, http_url, timeout) = match &embedded {
        Some(e) => (e.ws_url(), e.http_url(), Duration::from_millis(300)),
        None => {
            let e = engine().await;
            (e.ws_url, e.http_url, Duration::from_secs(30))
        }
    };
    let (mut ws, _, _) = raw_client(&ws_url).await;
    let id = fid("raw::null");
    let path = format!("/{}", unique("raw-null"));
    for frame in [
        json!({"type": "registerfunction", "id": id}),
        json!({"type": "registertrigger", "id": unique("t"), "trigger_type": "http", "function_id": id, "config": {"api_path": path, "http_method": "GET"}}),
        json!({"type": "invokefunction", "invocation_id": "11111111-1111-4111-8111-111111111111", "function_id": "engine::workers::register", "data": {"name": unique("raw-null"), "pid": 1}}),
    ] {
        ws.send(Frame::text(frame.to_string())).await.expect("send");
    }
    let answer_nulls = tokio::spawn(async move {
        while let Some(message) = next_message(&mut ws).await {
            if let Message::InvokeFunction(invoke) = message
                && let Some(invocation_id) = invoke.invocation_id
            {
                let reply = iii_protocol::InvocationResult::new(
                    invocation_id,
                    invoke.function_id,
                    Ok(Value::Null),
                );
                let text = protocol::encode(&Message::InvocationResult(reply)).expect("encode");
                if ws.send(Frame::text(text)).await.is_err() {
                    return;
                }
            }
        }
    });
    let url = format!("{http_url}{path}");
    let reply = iii_tests::eventually(Duration::from_secs(10), "the route to go live", || {
        let url = url.clone();
        async move {
            let started = std::time::Instant::now();
            let reply = iii_tests::http("GET", &url, &[], b"").await;
            (reply.status != 404).then_some((reply, started.elapsed()))
        }
    })
    .await;
    let (reply, waited) = reply;
    assert_eq!(reply.status, 504, "{}", reply.text());
    assert!(reply.body.is_empty(), "{:?}", reply.text());
    assert_eq!(
        reply.headers.get("access-control-allow-origin"),
        None,
        "the engine's timeout answers outside its CORS layer"
    );
    assert!(
        waited >= timeout,
        "answered after {waited:?}, before the {timeout:?} timeout"
    );
    answer_nulls.abort();
}

/// A `connect` whose caller gives up (here: a timeout, the engine never
/// answering the announcement) leaves no connection behind.
#[tokio::test]
async fn an_abandoned_connect_closes_its_connection() {
    let fake = FakeEngine::start(Mode::NoAnswerToRegister).await;
    let attempt = tokio::time::timeout(
        Duration::from_millis(300),
        Worker::builder()
            .url(&fake.url)
            .name("wire-abandoned")
            .connect(),
    )
    .await;
    assert!(attempt.is_err(), "connect was still waiting for the engine");
    iii_tests::eventually(
        Duration::from_secs(5),
        "the abandoned connection to close",
        || {
            let closed = fake.connections().first().is_some_and(|c| c.closed);
            async move { closed.then_some(()) }
        },
    )
    .await;
}

/// Shutting down while a reconnect is still opening its connection leaves
/// no connection behind, and shutdown does not wait out its timeout.
#[tokio::test]
async fn shutdown_during_a_reconnect_leaves_no_connection() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = reconnecting_worker(&fake, "wire-shutdown-reconnect").await;
    fake.delay_welcome(Duration::from_millis(500));
    fake.drop_connections();
    iii_tests::eventually(Duration::from_secs(5), "the reconnect to dial", || {
        let dialled = fake.connections().len() >= 2;
        async move { dialled.then_some(()) }
    })
    .await;
    let started = std::time::Instant::now();
    worker.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert_eq!(worker.connection_state(), ConnectionState::Disconnected);
    iii_tests::eventually(
        Duration::from_secs(5),
        "the reconnect's connection to close",
        || {
            let closed = fake.connections().get(1).is_some_and(|c| c.closed);
            async move { closed.then_some(()) }
        },
    )
    .await;
}

/// What the engine itself does with a `subscribe` binding's condition and
/// metadata (nothing: it never asks the condition and passes no metadata),
/// seen by a raw client, which the SDK does not make up for. iii-embedded
/// must do the same.
#[tokio::test]
async fn the_engine_ignores_a_subscribe_bindings_condition_and_metadata() {
    let engine = engine().await;
    let (mut ws, _, _) = raw_client(&engine.ws_url).await;
    let (handler, condition) = (fid("raw::on_news"), fid("raw::never"));
    let topic = unique("raw-news");
    for frame in [
        json!({"type": "registerfunction", "id": handler}),
        json!({"type": "registerfunction", "id": condition}),
        json!({"type": "registertrigger", "id": unique("t"), "trigger_type": "subscribe", "function_id": handler,
               "config": {"topic": topic, "condition_function_id": condition}, "metadata": {"m": 1}}),
        json!({"type": "invokefunction", "invocation_id": "11111111-1111-4111-8111-111111111112", "function_id": "engine::workers::register", "data": {"name": unique("raw-sub"), "pid": 1}}),
    ] {
        ws.send(Frame::text(frame.to_string())).await.expect("send");
    }
    let publisher = engine.connect("raw-publisher").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let fire = loop {
        assert!(std::time::Instant::now() < deadline, "no subscribe fire");
        publisher
            .publish(&topic, &json!({"n": 1}))
            .await
            .expect("publish");
        let next = tokio::time::timeout(Duration::from_millis(200), next_message(&mut ws)).await;
        match next {
            Ok(Some(Message::InvokeFunction(invoke))) => break invoke,
            Ok(Some(_)) | Err(_) => continue,
            Ok(None) => panic!("connection closed"),
        }
    };
    assert_eq!(
        fire.function_id, handler,
        "the handler, not the condition, was invoked first"
    );
    assert_eq!(
        fire.metadata, None,
        "no binding metadata on a subscribe fire"
    );
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
