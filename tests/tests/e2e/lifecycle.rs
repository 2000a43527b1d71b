//! Connecting, announcing, connection state, reconnecting and shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use iii::{ConnectionState, Error, Function, ReconnectPolicy, Worker};
use iii_embedded::Engine;
use iii_tests::{engine, eventually, fid, serve, unique};
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[tokio::test]
async fn connect_announces_the_worker() {
    let engine = engine().await;
    let worker = engine
        .worker("announcer")
        .description("announces itself")
        .connect()
        .await
        .expect("connect");
    assert_eq!(worker.connection_state(), ConnectionState::Connected);
    let id = worker.worker_id().expect("the engine gave an id");
    let workers = worker.list_workers().await.expect("list");
    let me = workers
        .iter()
        .find(|w| w.id == id)
        .expect("listed (so the pid was sent)");
    assert_eq!(me.name.as_deref(), Some(worker.name()));
    assert_eq!(me.runtime.as_deref(), Some("rust"));
    assert_eq!(me.version.as_deref(), Some(iii::VERSION));
    assert_eq!(me.os.as_deref(), Some(std::env::consts::OS));
    assert_eq!(me.description.as_deref(), Some("announces itself"));
}

#[tokio::test]
async fn a_taken_worker_name_is_fatal_and_not_retried() {
    let engine = engine().await;
    let name = unique("twin");
    let first = iii::Worker::builder()
        .url(&engine.ws_url)
        .name(&name)
        .connect()
        .await
        .expect("first");
    let err = iii::Worker::builder()
        .url(&engine.ws_url)
        .name(&name)
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect_err("name taken");
    assert!(matches!(err, Error::Rejected(_)), "{err}");
    assert_eq!(err.code(), "WORKER_NAMESPACE_CONFLICT");
    assert!(err.to_string().contains(&name), "{err}");
    assert_eq!(
        first.connection_state(),
        ConnectionState::Connected,
        "the first keeps its name"
    );
}

#[tokio::test]
async fn function_conflicts_are_reported_on_the_handle() {
    let engine = engine().await;
    let (a, b) = (
        engine.connect("owner").await,
        engine.connect("intruder").await,
    );
    let id = fid("shared::fn");
    let ok = |_: Value| async move { Ok::<(), Error>(()) };
    let first = a.register_function(Function::new(&id, ok)).expect("first");
    // Two sockets race: make sure the engine has the first before the second.
    a.flush().await.expect("flush");
    let second = b.register_function(Function::new(&id, ok)).expect("sent");
    let rejection = tokio::time::timeout(Duration::from_secs(5), second.rejected())
        .await
        .expect("rejected");
    assert_eq!(rejection.code, "FUNCTION_NAMESPACE_CONFLICT");
    assert!(rejection.message.contains(&id), "{}", rejection.message);
    assert_eq!(first.rejection(), None);
    assert_eq!(
        b.connection_state(),
        ConnectionState::Connected,
        "not fatal"
    );
}

#[tokio::test]
async fn registration_mistakes_fail_before_sending() {
    let engine = engine().await;
    let worker = engine.connect("careful").await;
    let ok = |_: Value| async move { Ok::<(), Error>(()) };
    let e = worker
        .register_function(Function::new("", ok))
        .expect_err("empty id");
    assert!(e.to_string().contains("empty"), "{e}");
    let id = fid("dup::fn");
    worker
        .register_function(Function::new(&id, ok))
        .expect("first");
    let e = worker
        .register_function(Function::new(&id, ok))
        .expect_err("duplicate");
    assert!(e.to_string().contains("already registered"), "{e}");
    let e = worker
        .unregister_function("never::registered")
        .expect_err("unknown");
    assert!(e.to_string().contains("not registered"), "{e}");
}

#[tokio::test]
async fn unregistered_functions_are_gone() {
    let engine = engine().await;
    let (a, b) = (engine.connect("a").await, engine.connect("b").await);
    let id = fid("temp::fn");
    let handle = serve(
        &a,
        Function::new(&id, |x: u8| async move { Ok::<_, Error>(x) }),
    )
    .await;
    assert_eq!(b.call::<u8, _>(&id, &7).await.expect("call"), 7);
    handle.unregister().expect("unregister");
    let err = eventually(Duration::from_secs(5), "the function to disappear", || {
        let b = b.clone();
        let id = id.clone();
        async move { b.call::<u8, _>(&id, &7).await.err() }
    })
    .await;
    assert_eq!(err.code(), "function_not_found");
}

#[tokio::test]
async fn shutdown_fails_pending_calls_at_once_and_then_refuses_calls() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("probe::hang");
    let (started_tx, mut started) = mpsc::unbounded_channel();
    callee
        .register_function(Function::new(&id, move |_: Value| {
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(());
                std::future::pending::<()>().await;
                Ok::<(), Error>(())
            }
        }))
        .expect("register");
    callee.flush().await.expect("flush");
    let pending = tokio::spawn({
        let caller = caller.clone();
        let id = id.clone();
        async move { caller.call::<Value, _>(&id, &json!({})).await }
    });
    tokio::time::timeout(Duration::from_secs(5), started.recv())
        .await
        .expect("started");
    let began = std::time::Instant::now();
    caller.shutdown().await;
    let err = pending.await.expect("join").expect_err("shut down");
    assert!(matches!(err, Error::Shutdown { .. }), "{err}");
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(caller.connection_state(), ConnectionState::Disconnected);
    let err = caller
        .call::<Value, _>(&id, &json!({}))
        .await
        .expect_err("after shutdown");
    assert!(matches!(err, Error::Shutdown { .. }), "{err}");
    caller
        .run()
        .await
        .expect("run returns at once after shutdown");
}

#[tokio::test]
async fn shutdown_lets_running_handlers_finish() {
    let engine = engine().await;
    let callee = engine.connect("callee").await;
    let caller = engine.connect("caller").await;
    let id = fid("probe::slowish");
    let (started_tx, mut started) = mpsc::unbounded_channel();
    callee
        .register_function(Function::new(&id, move |_: Value| {
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(());
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok::<_, Error>("done")
            }
        }))
        .expect("register");
    callee.flush().await.expect("flush");
    let call = tokio::spawn({
        let caller = caller.clone();
        async move { caller.call::<String, _>(&id, &json!({})).await }
    });
    tokio::time::timeout(Duration::from_secs(5), started.recv())
        .await
        .expect("started");
    callee.shutdown().await;
    assert_eq!(
        call.await.expect("join").expect("answered before close"),
        "done"
    );
}

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

#[tokio::test]
async fn reconnects_and_replays_registrations_after_the_engine_restarts() {
    let ws = free_addr();
    let first = Engine::builder().ws_addr(ws).start().await.expect("engine");
    let worker = iii::Worker::builder()
        .url(first.ws_url())
        .name(unique("phoenix"))
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            ..ReconnectPolicy::default()
        })
        .connect()
        .await
        .expect("connect");
    let id = fid("math::inc");
    serve(
        &worker,
        Function::new(&id, |x: i64| async move { Ok::<_, Error>(x + 1) }),
    )
    .await;
    let mut states = worker.watch_connection_state();

    // A call waiting when the link drops fails at once.
    let hang = fid("probe::hang");
    worker
        .register_function(Function::new(&hang, |_: Value| async move {
            std::future::pending::<()>().await;
            Ok::<(), Error>(())
        }))
        .expect("register");
    worker.flush().await.expect("flush");
    let pending = tokio::spawn({
        let worker = worker.clone();
        async move { worker.call::<Value, _>(&hang, &json!({})).await }
    });
    // Let the call reach the engine before pulling the plug.
    eventually(Duration::from_secs(5), "the call to be in flight", || {
        let w = worker.clone();
        async move {
            (w.list_workers()
                .await
                .ok()?
                .iter()
                .any(|i| i.extra["active_invocations"] == 1))
            .then_some(())
        }
    })
    .await;
    first.shutdown().await;
    let err = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .expect("failed at once")
        .expect("join")
        .expect_err("link lost");
    assert!(matches!(err, Error::ConnectionLost { .. }), "{err}");
    states
        .wait_for(|s| *s == ConnectionState::Reconnecting)
        .await
        .expect("reconnecting");

    let second = Engine::builder()
        .ws_addr(ws)
        .start()
        .await
        .expect("engine again");
    worker
        .wait_connected(Duration::from_secs(10))
        .await
        .expect("reconnected");
    let other = iii::Worker::builder()
        .url(second.ws_url())
        .name(unique("other"))
        .connect()
        .await
        .expect("other");
    let out: i64 = other
        .call(&id, &41)
        .await
        .expect("replayed function answers");
    assert_eq!(out, 42);
    second.shutdown().await;
}

#[tokio::test]
async fn gives_up_after_max_attempts_and_run_reports_it() {
    let ws = free_addr();
    let engine = Engine::builder().ws_addr(ws).start().await.expect("engine");
    let worker = iii::Worker::builder()
        .url(engine.ws_url())
        .name(unique("quitter"))
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            ..ReconnectPolicy::default().max_attempts(2)
        })
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .await
        .expect("connect");
    engine.shutdown().await;
    let err = tokio::time::timeout(Duration::from_secs(10), worker.run())
        .await
        .expect("run ends")
        .expect_err("failed for good");
    assert!(
        err.to_string()
            .contains("gave up after 2 reconnect attempts"),
        "{err}"
    );
    assert_eq!(worker.connection_state(), ConnectionState::Failed);
}

/// `III_URL` pointing at the HTTP port instead of the worker socket fails
/// at once, saying where workers connect.
#[tokio::test]
async fn the_http_port_is_refused_at_once_naming_the_worker_socket() {
    let engine = engine().await;
    let wrong = engine.http_url.replacen("http://", "ws://", 1);
    let started = Instant::now();
    let error = Worker::builder()
        .url(&wrong)
        .name(unique("wrong-port"))
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect_err("an HTTP listener is no worker socket");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not retried for the connect timeout: {:?}",
        started.elapsed()
    );
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    let text = error.to_string();
    for part in ["HTTP 404", "worker socket", "49134"] {
        assert!(text.contains(part), "`{part}` is not in: {text}");
    }
}

/// The worker `run()` serves in a child process, for the SIGTERM test:
/// one function that takes 1 s.
#[tokio::test]
#[ignore = "run by sigterm_drains_running_handlers_before_the_worker_exits"]
async fn child_serves_until_a_signal() {
    let (Ok(url), Ok(id)) = (
        std::env::var("III_CHILD_URL"),
        std::env::var("III_CHILD_FN"),
    ) else {
        return; // run on its own, not by the test below
    };
    let worker = Worker::builder()
        .url(url)
        .name(unique("sigterm-child"))
        .linked(iii::linked::Linked::None)
        .function(iii::Function::new(&id, |_: serde_json::Value| async move {
            println!("started");
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, Error>("done")
        }))
        .connect()
        .await
        .expect("connect");
    println!("ready");
    worker.run().await.expect("a clean stop");
}

/// Reads the child's lines until it says `word`, within 30 s.
#[cfg(unix)]
async fn until_said(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    word: &str,
) {
    let said = async {
        while let Some(line) = lines.next_line().await.expect("read") {
            if line.trim() == word {
                return;
            }
        }
        panic!("the child exited before it said {word}");
    };
    tokio::time::timeout(Duration::from_secs(30), said)
        .await
        .unwrap_or_else(|_| panic!("the child did not say {word} within 30 s"));
}

/// SIGTERM (how docker and Kubernetes stop a container) lets a running
/// handler finish and answer, as ctrl-c does, and the process exits 0.
#[cfg(unix)]
#[tokio::test]
async fn sigterm_drains_running_handlers_before_the_worker_exits() {
    use tokio::io::AsyncBufReadExt;
    let engine = engine().await;
    let id = fid("drain::slow");
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "lifecycle::child_serves_until_a_signal",
            "--ignored",
            "--nocapture",
            "--quiet",
        ])
        .env("III_CHILD_URL", &engine.ws_url)
        .env("III_CHILD_FN", &id)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the child");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    until_said(&mut lines, "ready").await;
    let caller = engine.connect("sigterm-caller").await;
    let call = tokio::spawn({
        let (caller, id) = (caller.clone(), id.clone());
        async move { caller.call::<String, _>(&id, &serde_json::json!({})).await }
    });
    until_said(&mut lines, "started").await;
    let pid = child.id().expect("pid").to_string();
    let sent = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(sent.success());
    let answer = tokio::time::timeout(Duration::from_secs(15), call)
        .await
        .expect("answered within 15 s")
        .expect("join");
    assert_eq!(
        answer.expect("the running handler finished").as_str(),
        "done"
    );
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the child exits")
        .expect("wait");
    assert!(status.success(), "{status}");
}

/// `embedded_engine` starts an in-process engine only when no engine URL
/// is given, and the worker keeps it running: a call through it answers.
#[tokio::test]
async fn the_embedded_engine_starts_only_without_an_engine_url() {
    let id = fid("embedded::echo");
    let echo = Function::new(&id, |v: Value| async move { Ok::<_, Error>(v) });
    let worker = Worker::builder()
        .name(unique("standalone"))
        .embedded_engine(Engine::builder())
        .function(echo)
        .connect()
        .await
        .expect("connect to the engine it started");
    let started = worker.embedded_engine().expect("started one");
    assert_eq!(worker.url(), started.ws_url());
    assert_ne!(worker.url(), iii::worker::DEFAULT_URL);
    worker.flush().await.expect("flush");
    let echoed: Value = worker.call(&id, &json!({"n": 1})).await.expect("call");
    assert_eq!(echoed, json!({"n": 1}));

    // With a URL (as III_URL gives one), that engine is used and none is
    // started; this runs on whichever engine the suite runs against.
    let suite = engine().await;
    let joined = Worker::builder()
        .url(&suite.ws_url)
        .name(unique("joined"))
        .embedded_engine(Engine::builder())
        .connect()
        .await
        .expect("connect");
    assert!(joined.embedded_engine().is_none());
    assert_eq!(joined.url(), suite.ws_url);
}

/// A port in use fails `connect` with the address, what it was for and
/// the setting that moves it.
#[tokio::test]
async fn a_taken_port_for_the_embedded_engine_names_the_address_and_the_setting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let err = Worker::builder()
        .name(unique("clash"))
        .embedded_engine(Engine::builder().http_port(port))
        .connect()
        .await
        .expect_err("the port is taken");
    assert!(matches!(err, Error::EngineStart { .. }), "{err:?}");
    let text = err.to_string();
    for part in [
        format!("127.0.0.1:{port}"),
        "HTTP triggers".to_string(),
        "EngineBuilder::http_port".to_string(),
    ] {
        assert!(text.contains(&part), "{text} should name {part}");
    }
}
