//! The engine under bad input, as a careless or hostile client gives it:
//! garbage from a worker, bad HTTP requests, slow clients, a worker that
//! stops reading (and `budgets`, what a worker or channel may hold). It answers what it can, drops what it must, and serves
//! everyone else meanwhile.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use iii::http::{ApiRequest, ApiResponse};
use iii::{Error, Function, Trigger, trigger::Http};
use iii_tests::{Socket, TestEngine, engine, eventually, fid, http, route_live, serve, unique};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as Frame;

/// A raw worker socket, welcomed.
pub(crate) async fn raw(url: &str) -> Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let _welcome = socket.next().await;
    socket
}

/// The first text frame on `socket` that `wanted` picks, within 10 s.
async fn frame_where(socket: &mut Socket, wanted: impl Fn(&Value) -> bool) -> Value {
    let read = async {
        while let Some(Ok(frame)) = socket.next().await {
            if let Frame::Text(text) = frame {
                let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                if wanted(&v) {
                    return v;
                }
            }
        }
        Value::Null
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the frame")
}

/// The answer to invocation `id` on `socket`.
async fn answer(socket: &mut Socket, id: &str) -> Value {
    frame_where(socket, |v| {
        v["type"] == "invocationresult" && v["invocation_id"] == id
    })
    .await
}

pub(crate) fn embedded_only(engine: &TestEngine, why: &str) -> bool {
    if engine.embedded.is_none() {
        eprintln!("skipped on an external engine: {why}");
        return false;
    }
    true
}

#[tokio::test]
async fn garbage_from_a_worker_leaves_the_engine_serving() {
    let engine = engine().await;
    let mut socket = raw(&engine.ws_url).await;
    for garbage in [
        Frame::text("not json"),
        Frame::text(r#"{"type":"nope"}"#),
        Frame::text(r#"{"type":"registerfunction"}"#),
        Frame::text(
            r#"{"type":"invocationresult","invocation_id":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","function_id":"x","result":1}"#,
        ),
        Frame::binary(vec![0xff, 0xfe, 0x00]),
        Frame::text(format!(
            r#"{{"type":"ping","pad":"{}"}}"#,
            "x".repeat(4 << 20)
        )),
    ] {
        socket.send(garbage).await.expect("send");
    }
    let id = "11111111-1111-4111-8111-111111111111";
    let call = json!({"type": "invokefunction", "invocation_id": id, "function_id": "engine::channels::create", "data": {}});
    socket
        .send(Frame::text(call.to_string()))
        .await
        .expect("send");
    let reply = answer(&mut socket, id).await;
    assert!(reply["result"]["writer"].is_object(), "{reply}");
}

#[tokio::test]
async fn a_worker_invocation_that_does_not_decode_is_answered() {
    let engine = engine().await;
    if !embedded_only(
        &engine,
        "the engine drops such frames without a reply (its caller waits for ever)",
    ) {
        return;
    }
    let mut socket = raw(&engine.ws_url).await;
    let deep_id = "22222222-2222-4222-8222-222222222222";
    let deep = format!(
        r#"{{"type":"invokefunction","invocation_id":"{deep_id}","function_id":"state::get","data":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    socket.send(Frame::text(deep)).await.expect("send");
    let reply = answer(&mut socket, deep_id).await;
    assert_eq!(reply["error"]["code"], "deserialization_error", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("deeper than 127 levels"),
        "{reply}"
    );
    let bare_id = "33333333-3333-4333-8333-333333333333";
    let bare =
        json!({"type": "invokefunction", "invocation_id": bare_id, "function_id": "state::get"});
    socket
        .send(Frame::text(bare.to_string()))
        .await
        .expect("send");
    let reply = answer(&mut socket, bare_id).await;
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("data"),
        "{reply}"
    );
}

/// A result the engine cannot read (nested past its limit) fails the call
/// it answers, at once, instead of leaving the caller to its timeout.
#[tokio::test]
async fn a_result_that_does_not_decode_fails_its_call() {
    let engine = engine().await;
    if !embedded_only(
        &engine,
        "the engine drops such frames without a reply (its caller waits for its timeout)",
    ) {
        return;
    }
    let mut callee = intruder(&engine).await;
    let id = fid("deep::raw");
    send_and_sync(
        &mut callee,
        &[json!({"type": "registerfunction", "id": id})],
    )
    .await;
    let caller = engine.connect("deep-caller").await;
    let call = {
        let (caller, id) = (caller.clone(), id.clone());
        tokio::spawn(async move {
            caller
                .invoke(&id)
                .payload(&json!({}))
                .timeout(Duration::from_secs(20))
                .call::<Value>()
                .await
        })
    };
    let invocation = frame_where(&mut callee, |v| {
        v["type"] == "invokefunction" && v["function_id"] == id.as_str()
    })
    .await;
    let invocation = invocation["invocation_id"].as_str().unwrap_or("");
    // `result` before the ids: they are found after it all the same.
    let deep = format!(
        r#"{{"type":"invocationresult","result":{}{},"function_id":"{id}","invocation_id":"{invocation}"}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let started = Instant::now();
    callee.send(Frame::text(deep)).await.expect("send");
    let err = call.await.expect("join").expect_err("an unreadable result");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.code(), "deserialization_error", "{err}");
    assert!(err.to_string().contains("deeper than 127 levels"), "{err}");
}

/// Settings a user may reach for to mean "no limit" or "none" are taken
/// or refused with the setting's name, never a panic.
#[tokio::test]
async fn extreme_engine_settings_are_taken_or_refused_by_name() {
    type Set = fn(iii_embedded::EngineBuilder) -> iii_embedded::EngineBuilder;
    let zeros: [(&str, Set); 6] = [
        ("max_queued_frames", |b| b.max_queued_frames(0)),
        ("max_queued_bytes", |b| b.max_queued_bytes(0)),
        ("max_channel_bytes", |b| b.max_channel_bytes(0)),
        ("max_channel_bytes_total", |b| b.max_channel_bytes_total(0)),
        ("max_json_bytes_in_flight", |b| {
            b.max_json_bytes_in_flight(0)
        }),
        ("max_http_connections_per_address", |b| {
            b.max_http_connections_per_address(0)
        }),
    ];
    for (setting, zero) in zeros {
        let Err(refused) = zero(iii_embedded::Engine::builder()).start().await else {
            panic!("{setting}(0) is refused");
        };
        assert!(
            refused.to_string().contains(&format!("{setting}(0)")),
            "{refused}"
        );
    }
    let engine = iii_embedded::Engine::builder()
        .http_header_timeout(Duration::MAX)
        .start()
        .await
        .expect("no header timeout in practice");
    let reply = http(
        "GET",
        &format!("{}/nothing/here", engine.http_url()),
        &[],
        b"",
    )
    .await;
    assert_eq!(reply.status, 404);
}

/// Serves POST `/<unique>/echo`, answering the request's body and path
/// params; returns the route's base URL.
async fn echo_route(engine: &TestEngine) -> (iii::Worker, String) {
    let worker = engine.connect("bad-http").await;
    let id = fid("bad::echo");
    serve(
        &worker,
        Function::new(&id, |req: ApiRequest| async move {
            Ok::<_, Error>(ApiResponse::ok(
                json!({"body": req.body, "params": req.path_params}),
            ))
        }),
    )
    .await;
    let path = format!("/{}", unique("bad"));
    worker
        .register_trigger(Trigger::new(&id, Http::post(format!("{path}/:name"))))
        .expect("bind");
    worker.flush().await.expect("flush");
    let base = format!("{}{path}", engine.http_url);
    route_live("POST", &format!("{base}/probe")).await;
    (worker, base)
}

#[tokio::test]
async fn bad_http_requests_get_4xx_or_a_null_body_and_never_break_the_listener() {
    let engine = engine().await;
    let (_worker, base) = echo_route(&engine).await;
    let json_type = [("content-type", "application/json")];
    // Malformed JSON: the handler runs with a null body, as in the engine.
    let reply = http("POST", &format!("{base}/x"), &json_type, b"{not json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["body"], Value::Null);
    // Percent-encoding that does not decode is passed on as it came.
    let reply = http("POST", &format!("{base}/a%zzb"), &[], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["params"]["name"], "a%zzb");
    // Headers larger than any server takes.
    let huge = "x".repeat(1 << 20);
    let reply = http("POST", &format!("{base}/x"), &[("x-huge", &huge)], b"").await;
    assert_eq!(reply.status, 431, "{}", reply.text());
    // Still serving.
    let reply = http("POST", &format!("{base}/after"), &json_type, b"{\"ok\":1}").await;
    assert_eq!(reply.json()["body"], json!({"ok": 1}));
}

#[tokio::test]
async fn oversize_json_bodies_and_slow_clients_are_cut_off() {
    let engine = engine().await;
    if !embedded_only(
        &engine,
        "the engine sets no JSON body limit and no header timeout",
    ) {
        return;
    }
    let engine = TestEngine::from_builder(
        iii_embedded::Engine::builder()
            .max_json_body(1 << 20)
            .http_header_timeout(Duration::from_millis(300)),
    )
    .await;
    let (_worker, base) = echo_route(&engine).await;
    let big = vec![b' '; 2 << 20];
    let reply = http(
        "POST",
        &format!("{base}/x"),
        &[("content-type", "application/json")],
        &big,
    )
    .await;
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], "PAYLOAD_TOO_LARGE");
    // Big bodies of other types stream, whatever their size.
    let reply = http(
        "POST",
        &format!("{base}/x"),
        &[("content-type", "text/plain")],
        &big,
    )
    .await;
    assert_eq!(reply.status, 200);

    // A client that never finishes its request head is disconnected, and
    // others are served meanwhile.
    let authority = engine.http_url.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&authority)
        .await
        .expect("connect");
    slow.write_all(b"POST /x HTTP/1.1\r\nhost: a\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let reply = http("POST", &format!("{base}/meanwhile"), &[], b"").await;
    assert_eq!(reply.status, 200, "served while a slow client waits");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the slow client is disconnected");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "not before its time"
    );
}

#[tokio::test]
async fn a_worker_cannot_answer_an_invocation_it_was_not_sent() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let engine = engine().await;
    if !embedded_only(
        &engine,
        "the engine takes an invocationresult from any worker that knows the invocation id",
    ) {
        return;
    }
    let callee = engine.connect("honest-callee").await;
    let release = Arc::new(tokio::sync::Notify::new());
    let started = Arc::new(AtomicBool::new(false));
    let (wait, begun) = (release.clone(), started.clone());
    let id = fid("honest::slow");
    serve(
        &callee,
        Function::new(&id, move |_: Value| {
            let (wait, begun) = (wait.clone(), begun.clone());
            async move {
                begun.store(true, Ordering::SeqCst);
                wait.notified().await;
                Ok::<_, Error>("from the callee")
            }
        }),
    )
    .await;
    // A raw caller picks the invocation id, so a forger can know it.
    let mut caller = raw(&engine.ws_url).await;
    let invocation = "55555555-5555-4555-8555-555555555555";
    let call = json!({"type": "invokefunction", "invocation_id": invocation, "function_id": id, "data": {}});
    caller
        .send(Frame::text(call.to_string()))
        .await
        .expect("send");
    eventually(
        Duration::from_secs(5),
        "the call running in the callee",
        || async { started.load(Ordering::SeqCst).then_some(()) },
    )
    .await;
    // Another worker answers it while the callee works; its pong proves
    // the engine read the forgery before the real answer.
    let mut forger = raw(&engine.ws_url).await;
    let forged = json!({"type": "invocationresult", "invocation_id": invocation, "function_id": id, "result": "forged"});
    send_and_sync(&mut forger, &[forged]).await;
    release.notify_waiters();
    let reply = answer(&mut caller, invocation).await;
    assert_eq!(reply["result"], "from the callee", "{reply}");
}

/// Sends `frames` from a raw socket, then waits for the pong to a ping sent
/// after them: the engine has read them all.
async fn send_and_sync(socket: &mut Socket, frames: &[Value]) {
    for frame in frames {
        socket
            .send(Frame::text(frame.to_string()))
            .await
            .expect("send");
    }
    socket
        .send(Frame::text(r#"{"type":"ping"}"#))
        .await
        .expect("send");
    let pong = frame_where(socket, |v| v["type"] == "pong").await;
    assert_eq!(pong["type"], "pong", "the engine answers the ping");
}

/// Serves `owned::fn` at POST `/<unique>` from a worker named "owner".
async fn owned_route(engine: &TestEngine) -> (iii::Worker, String, iii::TriggerHandle, String) {
    let owner = engine.connect("owner").await;
    let id = fid("owned::fn");
    serve(
        &owner,
        Function::new(&id, |_: Value| async move { Ok::<_, Error>("owned") }),
    )
    .await;
    let path = format!("/{}", unique("owned"));
    let trigger = owner
        .register_trigger(Trigger::new(&id, Http::post(&path)))
        .expect("bind");
    owner.flush().await.expect("flush");
    let url = format!("{}{path}", engine.http_url);
    eventually(Duration::from_secs(5), "the route", || {
        let url = url.clone();
        async move { (http("POST", &url, &[], b"").await.status == 200).then_some(()) }
    })
    .await;
    (owner, id, trigger, url)
}

/// A raw worker that has announced itself: until then the engines hold its
/// registrations back.
async fn intruder(engine: &TestEngine) -> Socket {
    let mut socket = raw(&engine.ws_url).await;
    let announce = json!({"type": "invokefunction", "function_id": "engine::workers::register",
                          "data": {"name": unique("intruder")}});
    send_and_sync(&mut socket, &[announce]).await;
    socket
}

#[tokio::test]
async fn a_worker_cannot_remove_another_workers_function() {
    let engine = engine().await;
    let (_owner, id, _trigger, url) = owned_route(&engine).await;
    let mut intruder = intruder(&engine).await;
    send_and_sync(
        &mut intruder,
        &[json!({"type": "unregisterfunction", "id": id})],
    )
    .await;
    let reply = http("POST", &url, &[], b"").await;
    assert_eq!(reply.status, 200, "the route still runs: {}", reply.text());
    let caller = engine.connect("after-intruder").await;
    let result: Value = caller
        .call(&id, &json!({}))
        .await
        .expect("the function survives");
    assert_eq!(result, "owned");
}

#[tokio::test]
async fn a_worker_cannot_remove_another_workers_trigger() {
    let engine = engine().await;
    if !embedded_only(
        &engine,
        "the engine removes any binding whose id a worker sends in unregistertrigger",
    ) {
        return;
    }
    let (_owner, _id, trigger, url) = owned_route(&engine).await;
    let mut intruder = intruder(&engine).await;
    let frame = json!({"type": "unregistertrigger", "id": trigger.id(), "trigger_type": "http"});
    send_and_sync(&mut intruder, &[frame]).await;
    let reply = http("POST", &url, &[], b"").await;
    assert_eq!(reply.status, 200, "the route survives: {}", reply.text());
}

/// The built-in `engine::unregister_trigger` follows the frame's owner
/// rule: another worker's route stays (the binding ids are no secret:
/// `engine::registered-triggers::list` gives them to every worker), while
/// the owner removes its own.
#[tokio::test]
async fn the_unregister_built_in_removes_only_the_callers_own_bindings() {
    let engine = engine().await;
    if !embedded_only(
        &engine,
        "engine 0.23's engine::unregister_trigger removes any binding, for any worker",
    ) {
        return;
    }
    let (owner, _id, trigger, url) = owned_route(&engine).await;
    let stranger = engine.connect("stranger").await;
    let unregister = |worker: &iii::Worker| {
        worker
            .invoke("engine::unregister_trigger")
            .payload(&json!({"id": trigger.id(), "trigger_type": "http"}))
            .call::<Value>()
    };
    let answer = unregister(&stranger).await.expect("answered");
    assert_eq!(answer, json!({"removed": false}));
    // A forged caller id is overwritten by the engine.
    let forged: Value = stranger
        .invoke("engine::unregister_trigger")
        .payload(&json!({"id": trigger.id(), "_caller_worker_id": owner.worker_id()}))
        .call()
        .await
        .expect("answered");
    assert_eq!(forged, json!({"removed": false}));
    let reply = http("POST", &url, &[], b"").await;
    assert_eq!(reply.status, 200, "the route survives: {}", reply.text());

    let answer = unregister(&owner).await.expect("answered");
    assert_eq!(answer, json!({"removed": true}));
    eventually(Duration::from_secs(5), "the route to go", || {
        let url = url.clone();
        async move { (http("POST", &url, &[], b"").await.status == 404).then_some(()) }
    })
    .await;
}

#[test]
fn the_embedded_engine_listens_on_loopback_unless_told_otherwise() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let engine = iii_embedded::Engine::start().await.expect("engine");
        assert!(
            engine.ws_url().starts_with("ws://127.0.0.1:"),
            "{}",
            engine.ws_url()
        );
        assert!(
            engine.http_url().starts_with("http://127.0.0.1:"),
            "{}",
            engine.http_url()
        );
        engine.shutdown().await;
    });
}
