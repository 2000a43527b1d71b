//! Functions and calls between workers, end to end over real sockets.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use iii::{Context, Error, Function};
use iii_tests::{engine, eventually, fid, serve};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
struct Greet {
    name: String,
    age: u32,
}

#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema, PartialEq)]
struct Greeting {
    message: String,
}

async fn greet(input: Greet) -> Result<Greeting, Error> {
    Ok(Greeting {
        message: format!("Hello, {} ({})!", input.name, input.age),
    })
}

#[tokio::test]
async fn typed_call_between_two_workers() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("greetings::greet");
    serve(&callee, Function::new(&id, greet)).await;
    let out: Greeting = caller
        .call(&id, &json!({"name": "Ada", "age": 36}))
        .await
        .expect("call");
    assert_eq!(out.message, "Hello, Ada (36)!");
}

#[tokio::test]
async fn handler_sees_the_caller_and_not_the_injected_field() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("probe::whoami");
    let f = Function::new(&id, |input: Value, ctx: Context| async move {
        Ok::<_, Error>(
            json!({"input": input, "caller": ctx.caller_worker_id(), "fn": ctx.function_id()}),
        )
    });
    serve(&callee, f).await;
    let out: Value = caller.call(&id, &json!({"x": 1})).await.expect("call");
    assert_eq!(
        out["input"],
        json!({"x": 1}),
        "`_caller_worker_id` is removed from the input"
    );
    assert_eq!(out["caller"], json!(caller.worker_id().expect("id")));
    assert_eq!(out["fn"], json!(id));
}

#[tokio::test]
async fn bad_input_names_the_field_and_the_expected_type() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("greetings::greet");
    serve(&callee, Function::new(&id, greet)).await;
    let err = caller
        .call::<Greeting, _>(&id, &json!({"name": "Ada", "age": "old"}))
        .await
        .expect_err("age is not a number");
    let body = err.remote_body().expect("remote error").clone();
    assert_eq!(body.code, "deserialization_error");
    assert!(body.message.contains("`age`"), "{}", body.message);
    assert!(body.message.contains("expected u32"), "{}", body.message);
}

/// A panic in a handler's future, or in its call before any future exists
/// (the SDK calls it apart from the await, decoding the input there), is
/// answered `invocation_failed` naming the function, and the worker keeps
/// serving.
#[tokio::test]
async fn a_panicking_handler_answers_invocation_failed() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let in_future = fid("probe::panics");
    let f = Function::new(&in_future, |_: Value| async move {
        if true {
            panic!("the disk is on fire");
        }
        Ok::<(), Error>(())
    });
    serve(&callee, f).await;
    let in_call = fid("probe::panics_early");
    let f = Function::new(&in_call, |_: Value| {
        if true {
            panic!("no future today");
        }
        async move { Ok::<(), Error>(()) }
    });
    serve(&callee, f).await;
    for (id, message) in [
        (&in_future, "the disk is on fire"),
        (&in_call, "no future today"),
    ] {
        let started = std::time::Instant::now();
        let err = caller
            .call::<Value, _>(id, &json!({}))
            .await
            .expect_err("panicked");
        let body = err.remote_body().expect("remote error");
        assert_eq!(body.code, "invocation_failed");
        assert!(body.message.contains(message), "{}", body.message);
        assert!(body.message.contains(id.as_str()), "{}", body.message);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "answered, not timed out"
        );
    }
    // The worker keeps serving after a panic.
    let ok = fid("probe::ok");
    serve(
        &callee,
        Function::new(&ok, |x: u8| async move { Ok::<_, Error>(x) }),
    )
    .await;
    let answer: u8 = caller.call(&ok, &7).await.expect("served");
    assert_eq!(answer, 7);
}

#[tokio::test]
async fn handler_errors_keep_their_code_and_message() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("payments::charge");
    let f = Function::new(&id, |_: Value| async move {
        Err::<Value, _>(Error::new("card_declined", "insufficient funds"))
    });
    serve(&callee, f).await;
    let err = caller
        .call::<Value, _>(&id, &json!({}))
        .await
        .expect_err("declined");
    assert_eq!(err.code(), "card_declined");
    assert!(
        err.to_string().contains("insufficient funds") && err.to_string().contains(&id),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_function_is_function_not_found_with_the_namespace() {
    let engine = engine().await;
    let caller = engine.connect("caller").await;
    let err = caller
        .call::<Value, _>("nobody::home", &json!({}))
        .await
        .expect_err("missing");
    let body = err.remote_body().expect("remote error");
    assert_eq!(body.code, "function_not_found");
    assert!(
        body.message.contains("nobody::home") && body.message.contains("namespace default"),
        "{}",
        body.message
    );
}

#[tokio::test]
async fn timeout_names_the_function_and_the_duration() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("probe::slow");
    let f = Function::new(&id, |_: Value| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok::<(), Error>(())
    });
    serve(&callee, f).await;
    let err = caller
        .invoke(&id)
        .timeout(Duration::from_millis(300))
        .call::<Value>()
        .await
        .expect_err("too slow");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(err.code(), "TIMEOUT");
    let text = err.to_string();
    assert!(
        text.contains("no answer came") && text.contains(&id) && text.contains("300ms"),
        "{text}"
    );
}

#[tokio::test]
async fn void_calls_run_without_an_answer() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("audit::record");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let f = Function::new(&id, move |event: String| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event);
            Ok::<(), Error>(())
        }
    });
    serve(&callee, f).await;
    caller
        .invoke(&id)
        .payload("login")
        .void()
        .await
        .expect("sent");
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("delivered");
    assert_eq!(got.as_deref(), Some("login"));
}

#[tokio::test]
async fn enqueue_returns_a_receipt_and_retries_until_success() {
    let engine = engine().await;
    if engine.embedded.is_none() {
        // Engine 0.23 retries only in its external `queue` worker;
        // `enqueue_hands_the_job_to_the_queue_provider` runs there.
        eprintln!("skipped: the iii engine has no built-in enqueue provider");
        return;
    }
    let (callee, caller) = engine.pair().await;
    let id = fid("emails::send");
    let attempts = Arc::new(AtomicU32::new(0));
    let seen = attempts.clone();
    let f = Function::new(&id, move |to: String| {
        let seen = seen.clone();
        async move {
            if seen.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(Error::new("smtp_down", "try later"));
            }
            assert_eq!(to, "ada@example.test");
            Ok(())
        }
    });
    serve(&callee, f).await;
    let receipt = caller
        .invoke(&id)
        .payload("ada@example.test")
        .enqueue("emails")
        .await
        .expect("queued");
    assert_eq!(receipt.message_receipt_id.len(), 36, "{receipt:?}");
    eventually(Duration::from_secs(5), "the third delivery", || {
        let n = attempts.load(Ordering::SeqCst);
        async move { (n >= 3).then_some(()) }
    })
    .await;
}

/// What a worker providing `engine::queue::enqueue` receives: the engine
/// names the queue, the target and its input, and makes the receipt id.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct Job {
    queue: String,
    function_id: String,
    data: Value,
    #[serde(rename = "messageReceiptId")]
    message_receipt_id: String,
}

#[tokio::test]
async fn enqueue_hands_the_job_to_the_queue_provider() {
    let engine = engine().await;
    // Any worker in `default` may be the queue: this one takes each job,
    // refuses the queue "closed", and runs the others' targets itself.
    let provider = engine.connect("queue-provider").await;
    let (jobs_tx, mut jobs) = mpsc::unbounded_channel();
    let runner = provider.clone();
    let provide = Function::new("engine::queue::enqueue", move |job: Job| {
        let (jobs_tx, runner) = (jobs_tx.clone(), runner.clone());
        async move {
            if job.queue == "closed" {
                return Err(Error::new(
                    "queue_closed",
                    "the queue `closed` takes no jobs",
                ));
            }
            let (target, data) = (job.function_id.clone(), job.data.clone());
            let _ = jobs_tx.send(job);
            tokio::spawn(async move { runner.call::<Value, _>(&target, &data).await });
            Ok::<_, Error>(json!({"accepted": true}))
        }
    });
    serve(&provider, provide).await;
    let (callee, caller) = engine.pair().await;
    let id = fid("emails::send");
    let (sent_tx, mut sent) = mpsc::unbounded_channel();
    let send = Function::new(&id, move |to: String| {
        let sent_tx = sent_tx.clone();
        async move {
            let _ = sent_tx.send(to);
            Ok::<_, Error>(())
        }
    });
    serve(&callee, send).await;

    let receipt = caller
        .invoke(&id)
        .payload("ada@example.test")
        .enqueue("emails")
        .await
        .expect("queued");
    let job = tokio::time::timeout(Duration::from_secs(5), jobs.recv())
        .await
        .expect("the provider got the job")
        .expect("a job");
    assert_eq!(
        (job.queue.as_str(), job.function_id.as_str(), &job.data),
        ("emails", id.as_str(), &json!("ada@example.test"))
    );
    assert_eq!(job.message_receipt_id, receipt.message_receipt_id);
    let to = tokio::time::timeout(Duration::from_secs(5), sent.recv())
        .await
        .expect("the provider ran the target");
    assert_eq!(to.as_deref(), Some("ada@example.test"));

    // A provider's refusal reaches the caller as `enqueue_error`.
    let refused = caller
        .invoke(&id)
        .payload("bob@example.test")
        .enqueue("closed")
        .await;
    match refused {
        Err(Error::Remote { body, .. }) => {
            assert_eq!(body.code, "enqueue_error", "{body:?}");
            assert!(body.message.contains("takes no jobs"), "{body:?}");
        }
        other => panic!("expected enqueue_error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_worker_can_call_its_own_functions_through_the_engine() {
    let id = fid("math::double");
    let app = iii::testing::Harness::builder()
        .name("solo")
        .linked(iii::Linked::None)
        .function(Function::new(
            &id,
            |x: i64| async move { Ok::<_, Error>(x * 2) },
        ))
        .start()
        .await
        .expect("the harness");
    let out: i64 = app.worker().call(&id, &21).await.expect("call");
    assert_eq!(out, 42);
    app.shutdown().await;
}

#[tokio::test]
async fn nested_calls_from_a_handler_through_its_context() {
    let engine = engine().await;
    let (a, b) = (engine.connect("a").await, engine.connect("b").await);
    let (inner, outer) = (fid("math::double"), fid("math::quadruple"));
    serve(
        &a,
        Function::new(&inner, |x: i64| async move { Ok::<_, Error>(x * 2) }),
    )
    .await;
    let inner_id = inner.clone();
    let quad = Function::new(&outer, move |x: i64, ctx: Context| {
        let inner_id = inner_id.clone();
        async move {
            let once: i64 = ctx.call(&inner_id, &x).await?;
            ctx.call::<i64, _>(&inner_id, &once).await
        }
    });
    serve(&b, quad).await;
    let out: i64 = a.call(&outer, &5).await.expect("call");
    assert_eq!(out, 20);
}

/// `Context::call` keeps the invocation's trace, also where the call is
/// awaited in a task the handler spawned (where a call through
/// `ctx.worker()` starts a trace of its own).
#[tokio::test]
async fn context_calls_carry_the_trace_into_spawned_tasks() {
    let engine = engine().await;
    let (a, b) = (engine.connect("a").await, engine.connect("b").await);
    let (inner, outer) = (fid("trace::inner"), fid("trace::outer"));
    serve(
        &a,
        Function::new(&inner, |_: Value, ctx: Context| async move {
            Ok::<_, Error>(ctx.trace().trace_id())
        }),
    )
    .await;
    let inner_id = inner.clone();
    let spawner = Function::new(&outer, move |_: Value, ctx: Context| {
        let inner_id = inner_id.clone();
        async move {
            let own = ctx.trace().trace_id();
            let scoped = {
                let (ctx, id) = (ctx.clone(), inner_id.clone());
                tokio::spawn(async move { ctx.call::<String, _>(&id, &()).await })
            };
            let unscoped = {
                let (worker, id) = (ctx.worker().clone(), inner_id.clone());
                tokio::spawn(async move { worker.call::<String, _>(&id, &()).await })
            };
            let scoped = scoped.await.map_err(Error::other)??;
            let unscoped = unscoped.await.map_err(Error::other)??;
            Ok::<_, Error>(json!({"own": own, "scoped": scoped, "unscoped": unscoped}))
        }
    });
    serve(&b, spawner).await;
    let out: Value = a.call(&outer, &()).await.expect("call");
    assert_eq!(out["scoped"], out["own"], "{out}");
    assert_ne!(out["unscoped"], out["own"], "a control: {out}");
}

#[tokio::test]
async fn callee_disconnect_stops_the_call() {
    let engine = engine().await;
    let callee = engine
        .worker("callee")
        .shutdown_timeout(Duration::from_millis(200))
        .connect()
        .await
        .expect("connect");
    let caller = engine.connect("caller").await;
    let id = fid("probe::hang");
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let f = Function::new(&id, move |_: Value| {
        let started_tx = started_tx.clone();
        async move {
            let _ = started_tx.send(());
            std::future::pending::<()>().await;
            Ok::<(), Error>(())
        }
    });
    serve(&callee, f).await;
    let call = tokio::spawn({
        let caller = caller.clone();
        async move { caller.call::<Value, _>(&id, &json!({})).await }
    });
    tokio::time::timeout(Duration::from_secs(5), started.recv())
        .await
        .expect("handler started");
    let shutdown = tokio::spawn(async move {
        // A short grace period: the hung handler will not finish.
        callee.shutdown().await;
    });
    let err = tokio::time::timeout(Duration::from_secs(15), call)
        .await
        .expect("the caller is answered")
        .expect("join")
        .expect_err("stopped");
    assert_eq!(err.code(), "invocation_stopped", "{err}");
    shutdown.await.expect("shutdown");
}

#[tokio::test]
async fn a_payload_that_cannot_be_encoded_fails_its_call_by_name_and_reaches_nobody() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("probe::never");
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let f = Function::new(&id, move |_: Value| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Error>(Value::Null) }
    });
    serve(&callee, f).await;
    // JSON object keys are strings: a map keyed by pairs has no JSON form.
    let unencodable: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
    for outcome in [
        caller
            .invoke(&id)
            .payload(&unencodable)
            .call::<Value>()
            .await
            .map(drop),
        caller.invoke(&id).payload(&unencodable).void().await,
    ] {
        match outcome {
            Err(Error::Invalid { what, reason }) => {
                assert_eq!(what, format!("payload for `{id}`"));
                assert!(
                    reason.starts_with(&format!(
                        "could not encode the payload for `{id}` as JSON: "
                    )) && reason.contains("key must be a string"),
                    "{reason}"
                );
            }
            other => panic!("expected Error::Invalid, got {other:?}"),
        }
    }
    // The same call with a payload that encodes runs once: nothing went
    // out before.
    let _: Value = caller.invoke(&id).payload(&1).call().await.expect("call");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
