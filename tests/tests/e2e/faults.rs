//! Faults: an engine that sends garbage, payloads nested past any parser's
//! limit, and more invocations than a worker takes. The worker refuses
//! what it must and keeps serving. (Engines cut and restarted under load
//! are in `restarts`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
