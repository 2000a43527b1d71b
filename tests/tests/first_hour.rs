//! What a new user meets first (issue 18).

use std::time::{Duration, Instant};

use iii::{Error, Worker};
use iii_tests::engine;

/// `III_URL` pointing at the HTTP port instead of the worker socket fails
/// at once, saying where workers connect.
#[tokio::test]
async fn the_http_port_is_refused_at_once_naming_the_worker_socket() {
    let engine = engine().await;
    let wrong = engine.http_url.replacen("http://", "ws://", 1);
    let started = Instant::now();
    let error = Worker::builder()
        .url(&wrong)
        .name(iii_tests::unique("wrong-port"))
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
        .name(iii_tests::unique("sigterm-child"))
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
    let id = iii_tests::fid("drain::slow");
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_serves_until_a_signal",
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
