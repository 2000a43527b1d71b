//! Faults: an engine that sends garbage, payloads nested past any parser's
//! limit, more invocations than a worker takes, and an engine cut and
//! restarted while calls are in flight. Nothing is lost, nothing answered
//! twice, and the worker keeps serving.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iii::{Error, Function, Worker};
use iii_protocol::Message;
use iii_tests::fake::{FakeEngine, Mode};
use iii_tests::{eventually, fid, serve};
use serde_json::{Value, json};
use tokio::sync::Notify;

const ID_A: &str = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const ID_B: &str = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
const ID_C: &str = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";

/// The error the worker answered invocation `id` with.
async fn refusal(fake: &FakeEngine, id: &str) -> iii_protocol::ErrorBody {
    let id = uuid::Uuid::parse_str(id).expect("uuid");
    let answer = fake
        .wait_frame(
            0,
            "the refusal",
            |m| matches!(m, Message::InvocationResult(r) if r.invocation_id == id),
        )
        .await;
    match answer {
        Message::InvocationResult(r) => r.error.expect("an error, not a result"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn garbage_from_the_engine_is_refused_or_dropped_and_the_worker_serves_on() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = Worker::builder()
        .url(&fake.url)
        .name("faults-garbage")
        .connect()
        .await
        .expect("connect");
    worker
        .register_function(Function::new("f::echo", |v: Value| async move {
            Ok::<_, Error>(v)
        }))
        .expect("register");
    worker.flush().await.expect("flush");

    let deep = format!(
        r#"{{"type":"invokefunction","invocation_id":"{ID_A}","function_id":"f::echo","data":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    for garbage in [
        "not json at all".to_string(),
        "{}".into(),
        r#"{"type":"nope"}"#.into(),
        r#"{"type":"invocationresult","invocation_id":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","function_id":"x","result":1}"#.into(),
        format!(r#"{{"type":"invokefunction","invocation_id":"{ID_B}","function_id":"f::echo"}}"#),
        deep,
        format!(r#"{{"type":"invokefunction","invocation_id":"{ID_C}","function_id":"f::echo","data":{}}}"#, "x".repeat(20 << 20)),
    ] {
        fake.push(garbage);
    }
    // An invocation whose data nests 100,000 levels deep is an error for
    // its caller, not a stack overflow; so is one with no data.
    let deep = refusal(&fake, ID_A).await;
    assert_eq!(deep.code, "deserialization_error");
    assert!(
        deep.message.contains("deeper than 127 levels"),
        "{}",
        deep.message
    );
    let missing = refusal(&fake, ID_B).await;
    assert!(missing.message.contains("data"), "{}", missing.message);
    // 20 MiB that is not JSON, with the id before it.
    let huge = refusal(&fake, ID_C).await;
    assert_eq!(huge.code, "deserialization_error");

    // And it serves on, on the same connection.
    fake.push(r#"{"type":"invokefunction","invocation_id":"eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee","function_id":"f::echo","data":{"still":"here"}}"#);
    let served = fake
        .wait_frame(
            0,
            "the answer",
            |m| matches!(m, Message::InvocationResult(r) if r.error.is_none()),
        )
        .await;
    let Message::InvocationResult(served) = served else {
        unreachable!()
    };
    assert_eq!(served.result, Some(json!({"still": "here"})));
    assert_eq!(fake.connections().len(), 1, "the connection stayed up");
}

#[tokio::test]
async fn invocations_past_the_limit_are_refused_at_once() {
    let engine = iii_tests::engine().await;
    let busy = engine
        .worker("faults-busy")
        .max_concurrent_invocations(2)
        .connect()
        .await
        .expect("connect");
    let caller = engine.connect("faults-caller").await;
    let running = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let id = fid("busy::slow");
    let (r, n) = (running.clone(), release.clone());
    serve(
        &busy,
        Function::new(&id, move |_: Value| {
            let (running, release) = (r.clone(), n.clone());
            async move {
                running.fetch_add(1, Ordering::SeqCst);
                release.notified().await;
                Ok::<_, Error>("done")
            }
        }),
    )
    .await;
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let (caller, id) = (caller.clone(), id.clone());
            tokio::spawn(async move { caller.call::<String, _>(&id, &json!({})).await })
        })
        .collect();
    eventually(Duration::from_secs(5), "two running", || async {
        (running.load(Ordering::SeqCst) == 2).then_some(())
    })
    .await;
    let refused = caller.call::<String, _>(&id, &json!({})).await.unwrap_err();
    assert_eq!(refused.code(), "too_many_invocations", "{refused}");
    assert!(
        refused.to_string().contains("max_concurrent_invocations"),
        "{refused}"
    );
    release.notify_waiters();
    for call in calls {
        assert_eq!(call.await.expect("join").expect("call"), "done");
    }
    // Room again.
    let next = tokio::spawn({
        let (caller, id) = (caller.clone(), id.clone());
        async move { caller.call::<String, _>(&id, &json!({})).await }
    });
    eventually(Duration::from_secs(5), "a third running", || async {
        (running.load(Ordering::SeqCst) == 3).then_some(())
    })
    .await;
    release.notify_waiters();
    assert_eq!(next.await.expect("join").expect("call"), "done");
}

/// What a callee saw: how many times each request ran.
type Runs = Arc<Mutex<HashMap<u64, u32>>>;

#[tokio::test]
async fn calls_survive_an_engine_cut_and_restarted_again_and_again() {
    // Fixed ports, so the restarted engine is the same address.
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
    };
    let start = |ws, http| {
        iii_embedded::Engine::builder()
            .ws_addr(ws)
            .http_addr(http)
            .start()
    };
    // A port found free may be taken by another test before the engine
    // binds it: try other ports then.
    let mut attempt = 0;
    let (mut engine, ws, http) = loop {
        let (ws, http) = (free(), free());
        match start(ws, http).await {
            Ok(engine) => break (engine, ws, http),
            Err(e) if attempt < 5 => {
                attempt += 1;
                eprintln!("ports {ws}, {http}: {e}; trying others");
            }
            Err(e) => panic!("engine: {e}"),
        }
    };
    let fast = iii::ReconnectPolicy {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..iii::ReconnectPolicy::default()
    };
    let connect = |name: &'static str| {
        Worker::builder()
            .url(format!("ws://{ws}"))
            .name(name)
            .reconnect(fast.clone())
            .default_timeout(Duration::from_secs(3))
            .connect()
    };
    let callee = connect("faults-callee").await.expect("callee");
    let caller = connect("faults-caller").await.expect("caller");
    let runs: Runs = Arc::default();
    let seen = runs.clone();
    serve(
        &callee,
        Function::new("cut::work", move |n: u64| {
            let seen = seen.clone();
            async move {
                *seen.lock().expect("lock").entry(n).or_default() += 1;
                // Even ones answer at once; odd ones are still running
                // when the engine goes.
                if n % 2 == 1 {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
                Ok::<_, Error>(n * 2)
            }
        }),
    )
    .await;
    serve(
        &callee,
        Function::new("cut::http", |req: iii::http::ApiRequest| async move {
            Ok::<_, Error>(iii::http::ApiResponse::ok(req.body))
        }),
    )
    .await;
    callee
        .register_trigger(iii::Trigger::new(
            "cut::http",
            iii::trigger::Http::post("/cut/work"),
        ))
        .expect("bind");
    callee.flush().await.expect("flush");

    let mut outcomes: Vec<Result<u64, Error>> = Vec::new();
    let mut next = 0u64;
    // Probes take a fresh even number each attempt: a retried probe that
    // ran before its answer was lost must not count as a call run twice.
    let probe = AtomicU64::new(1_000_000);
    let probe_n = || probe.fetch_add(2, Ordering::SeqCst);
    for _round in 0..4 {
        // Served again (after a restart the callee re-registers).
        eventually(Duration::from_secs(10), "the function served", || async {
            caller.call::<u64, _>("cut::work", &probe_n()).await.ok()
        })
        .await;
        let answered_now = Arc::new(AtomicUsize::new(0));
        let first = next + 1;
        let calls: Vec<_> = (0..50)
            .map(|_| {
                next += 1;
                let (caller, n, answered) = (caller.clone(), next, answered_now.clone());
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    let out = caller.call::<u64, _>("cut::work", &n).await;
                    if out.is_ok() {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    // Answered or failed within the call's 3 s timeout (and
                    // 2 s for a loaded machine to run the task).
                    assert!(started.elapsed() < Duration::from_secs(5), "{out:?}");
                    (n, out)
                })
            })
            .collect();
        // The cut comes with the 25 even calls answered and the 25 odd ones
        // running in the callee.
        eventually(
            Duration::from_secs(5),
            "half answered, half running",
            || async {
                let running = runs
                    .lock()
                    .expect("lock")
                    .keys()
                    .filter(|n| (first..first + 50).contains(*n) && *n % 2 == 1)
                    .count();
                (answered_now.load(Ordering::SeqCst) == 25 && running == 25).then_some(())
            },
        )
        .await;
        engine.shutdown().await;
        engine = start(ws, http).await.expect("restart");
        for call in calls {
            let (n, out) = call.await.expect("join");
            if let Ok(v) = &out {
                assert_eq!(*v, n * 2, "an answer is the answer to its own call");
            }
            outcomes.push(out);
        }
        // Both workers come back with their registrations.
        caller
            .wait_connected(Duration::from_secs(5))
            .await
            .expect("the caller reconnects");
        callee
            .wait_connected(Duration::from_secs(5))
            .await
            .expect("the callee reconnects");
    }
    for out in &outcomes {
        if let Err(e) = out {
            assert!(
                matches!(
                    e,
                    Error::ConnectionLost { .. }
                        | Error::NotConnected { .. }
                        | Error::Timeout { .. }
                ) || e.code() == "invocation_stopped"
                    || e.code() == "function_not_found",
                "a clear error: {e}"
            );
        }
    }
    let answered = outcomes.iter().filter(|o| o.is_ok()).count();
    assert!(
        runs.lock().expect("lock").values().all(|n| *n == 1),
        "no call ran twice"
    );
    assert_eq!(answered, 100, "the even calls, answered before each cut");
    // The function and its route are back: a call and a request succeed.
    let back: (u64, u64) = eventually(Duration::from_secs(10), "the function back", || async {
        let n = probe_n();
        caller
            .call::<u64, _>("cut::work", &n)
            .await
            .ok()
            .map(|v| (n, v))
    })
    .await;
    assert_eq!(back.1, back.0 * 2);
    let reply = eventually(Duration::from_secs(10), "the route back", || async {
        let reply = iii_tests::http(
            "POST",
            &format!("http://{http}/cut/work"),
            &[("content-type", "application/json")],
            br#"{"n":21}"#,
        )
        .await;
        (reply.status == 200).then_some(reply)
    })
    .await;
    assert_eq!(reply.json(), json!({"n": 21}));
    eprintln!(
        "{} calls across 4 engine restarts: {answered} answered, {} failed with a clear error",
        outcomes.len(),
        outcomes.len() - answered
    );
    engine.shutdown().await;
}
