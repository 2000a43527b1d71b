//! A worker's link to a scripted engine that goes silent, drops the
//! connection, answers late or never: keepalive, a handler outliving its
//! connection, calls while disconnected, flush, and connects and shutdowns
//! that leave no connection behind.

use std::time::Duration;

use iii::{ConnectionState, Error, Function, ReconnectPolicy, Worker};
use iii_tests::fake::{
    FakeEngine, Mode, cut_and_reconnect, fast_reconnect, kind, reconnecting_worker,
};
use serde_json::{Value, json};

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

/// The program's bindings are made once the first session is the worker's
/// (the engine reads the functions meanwhile). One the SDK refuses still
/// fails `connect`, and the session it was made on is closed before the
/// worker is announced: no binding is sent, and no half-registered worker
/// stays connected.
#[tokio::test]
async fn a_binding_refused_at_connect_closes_the_session_it_was_made_on() {
    use iii::trigger::{Cron, Trigger};
    let fake = FakeEngine::start(Mode::Normal).await;
    let ok = |_: Value| async move { Ok::<(), Error>(()) };
    let error = Worker::builder()
        .url(&fake.url)
        .name("late-refused")
        .linked(iii::linked::Linked::None)
        .connect_timeout(Duration::from_secs(5))
        .function(Function::new("late::tick", ok))
        .trigger(Trigger::new("late::tick", Cron::new("0 * * * * *")).id("late-b"))
        .trigger(Trigger::new("late::tick", Cron::new("0 0 * * * *")).id("late-b"))
        .connect()
        .await
        .expect_err("the second binding reuses the first's id");
    assert!(
        error.to_string().contains("already bound on this worker"),
        "{error}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !fake.inspect(0, |c| c.is_some_and(|c| c.closed)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the session stayed open: {:?}",
            fake.connections()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let connections = fake.connections();
    assert_eq!(connections.len(), 1, "not retried");
    let sent: Vec<String> = connections[0].frames.iter().flatten().map(kind).collect();
    assert!(sent.contains(&"registerfunction".to_string()), "{sent:?}");
    assert!(!sent.contains(&"registertrigger".to_string()), "{sent:?}");
    let announced = connections[0].frames.iter().flatten().any(|m| {
        matches!(m, iii_protocol::Message::InvokeFunction(i) if i.function_id == "engine::workers::register")
    });
    assert!(!announced, "announced: {sent:?}");
}

/// `n` cron bindings of one function, each with its own id.
fn with_bindings(builder: iii::WorkerBuilder, n: usize) -> iii::WorkerBuilder {
    use iii::trigger::{Cron, Trigger};
    let ok = |_: Value| async move { Ok::<(), Error>(()) };
    (0..n).fold(
        builder
            .linked(iii::linked::Linked::None)
            .function(Function::new("paced::tick", ok)),
        |builder, i| {
            builder.trigger(
                Trigger::new("paced::tick", Cron::new("0 * * * * *")).id(format!("paced-{i}")),
            )
        },
    )
}

/// The `registertrigger` frames the fake engine read on its first
/// connection.
fn bindings_received(fake: &FakeEngine) -> usize {
    fake.connections()[0]
        .frames
        .iter()
        .flatten()
        .filter(|m| kind(m) == "registertrigger")
        .count()
}

/// An engine that applies bindings slowly but steadily (iii 0.23 takes
/// seconds over a thousand HTTP routes) gets them all: `connect_timeout`
/// bounds the wait between two acknowledged batches, not the whole.
#[tokio::test]
async fn connect_waits_for_a_slow_engine_while_it_keeps_applying_bindings() {
    let fake = FakeEngine::start(Mode::Paced(Duration::from_millis(5))).await;
    let timeout = Duration::from_millis(400);
    let started = std::time::Instant::now();
    let worker = with_bindings(Worker::builder().url(&fake.url).name("paced"), 160)
        .connect_timeout(timeout)
        .connect()
        .await
        .expect("every batch was acknowledged within the connect timeout");
    // 160 bindings at 5 ms each: the engine needed twice the timeout.
    assert!(started.elapsed() > timeout, "{:?}", started.elapsed());
    assert_eq!(bindings_received(&fake), 160);
    worker.shutdown().await;
}

/// An engine that stops acknowledging bindings fails `connect` after
/// `connect_timeout` without progress, naming how far it got, and is not
/// sent the bindings again.
#[tokio::test]
async fn connect_fails_naming_how_far_a_stuck_engine_got_with_the_bindings() {
    let fake = FakeEngine::start(Mode::SilentAfterBindings(40)).await;
    let error = with_bindings(Worker::builder().url(&fake.url).name("stuck"), 100)
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .await
        .expect_err("the engine went quiet after 40 bindings");
    match &error {
        Error::BindingsStalled {
            applied,
            sent,
            waited,
            ..
        } => assert_eq!(
            (*applied, *sent, *waited),
            (32, 100, Duration::from_millis(300)),
            "{error}"
        ),
        other => panic!("expected BindingsStalled, got {other:?}"),
    }
    let text = error.to_string();
    assert!(
        text.contains("applied 32 of this worker's 100 trigger bindings")
            && text.contains("raise `connect_timeout`"),
        "{text}"
    );
    assert_eq!(fake.connections().len(), 1, "not retried");
}

/// Bindings made on a live worker: `flush` waits while a slow engine keeps
/// applying them (a ping follows every 32, and each pong restarts the
/// worker's `default_timeout`), and fails once it stops.
#[tokio::test]
async fn flush_waits_for_a_slow_engine_through_bindings_made_while_connected() {
    use iii::trigger::{Cron, Trigger};
    let bind = |worker: &Worker, n: usize| {
        let ok = |_: Value| async move { Ok::<(), Error>(()) };
        worker
            .register_function(Function::new("paced::tick", ok))
            .expect("function");
        for i in 0..n {
            let trigger =
                Trigger::new("paced::tick", Cron::new("0 * * * * *")).id(format!("live-{i}"));
            worker.register_trigger(trigger).expect("binding");
        }
    };
    let connect = |url: &str, timeout: Duration| {
        Worker::builder()
            .url(url)
            .name("live-bindings")
            .linked(iii::linked::Linked::None)
            .default_timeout(timeout)
            .connect()
    };

    let fake = FakeEngine::start(Mode::Paced(Duration::from_millis(5))).await;
    let timeout = Duration::from_millis(400);
    let worker = connect(&fake.url, timeout).await.expect("connect");
    let started = std::time::Instant::now();
    bind(&worker, 160);
    worker
        .flush()
        .await
        .expect("every batch was acknowledged within the timeout");
    // 160 bindings at 5 ms each: the engine needed twice the timeout.
    assert!(started.elapsed() > timeout, "{:?}", started.elapsed());
    assert_eq!(bindings_received(&fake), 160);
    worker.shutdown().await;

    let stuck = FakeEngine::start(Mode::SilentAfterBindings(40)).await;
    let worker = connect(&stuck.url, Duration::from_millis(300))
        .await
        .expect("connect");
    bind(&worker, 100);
    let started = std::time::Instant::now();
    let error = worker.flush().await.expect_err("the engine went quiet");
    assert!(
        matches!(error, Error::Flush(iii::FlushFailure::Timeout(t)) if t == Duration::from_millis(300)),
        "{error}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}
