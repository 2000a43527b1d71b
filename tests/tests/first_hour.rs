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

mod http_answers {
    use iii::http::{ApiRequest, ApiResponse};
    use iii::trigger::Http;
    use iii::{Error, Function, Trigger};
    use iii_tests::{engine, fid, http, serve, unique};
    use serde_json::{Value, json};

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct Order {
        #[allow(dead_code)] // decoded: its type is what is tested
        amount: u64,
    }

    #[derive(serde::Serialize, schemars::JsonSchema)]
    struct Receipt {
        id: u64,
        total: u64,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Page {
        page: u32,
        size: Option<u32>,
    }

    /// Binds `f` to `method path` and returns the route's URL.
    async fn route(worker: &iii::Worker, base: &str, method: &str, f: Function) -> String {
        let id = f.id().to_string();
        serve(worker, f).await;
        let path = format!("/{}", unique("answers"));
        let http = match method {
            "POST" => Http::post(&path),
            _ => Http::get(&path),
        };
        worker
            .register_trigger(Trigger::new(&id, http))
            .expect("bind");
        worker.flush().await.expect("flush");
        format!("{base}{path}")
    }

    #[tokio::test]
    async fn failures_answer_the_status_the_handler_chose_and_accidents_hide_their_text() {
        let engine = engine().await;
        let worker = engine.connect("answers").await;
        let base = &engine.http_url;

        // Input that does not decode: 400, naming the field.
        let typed = Function::new(fid("answers::typed"), |req: ApiRequest<Order>| async move {
            let _ = req.body;
            Ok::<_, Error>(ApiResponse::ok(json!({"paid": true})))
        });
        let url = route(&worker, base, "POST", typed).await;
        let reply = http(
            "POST",
            &url,
            &[("content-type", "application/json")],
            br#"{"amount":"ten"}"#,
        )
        .await;
        assert_eq!(reply.status, 400, "{}", reply.text());
        assert_eq!(reply.json()["error"]["code"], "deserialization_error");
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains("amount"), "{message}");

        // A status the handler chose, by `Error::http` or by its code.
        let missing = Function::new(fid("answers::missing"), |_: ApiRequest| async move {
            Err::<ApiResponse, _>(Error::http(404, "no user 7"))
        });
        let url = route(&worker, base, "GET", missing).await;
        let reply = http("GET", &url, &[], b"").await;
        assert_eq!(
            (reply.status, reply.json()),
            (
                404,
                json!({"error": {"code": "not_found", "message": "no user 7"}})
            )
        );
        let taken = Function::new(fid("answers::taken"), |_: ApiRequest| async move {
            Err::<ApiResponse, _>(Error::new("conflict", "the name is taken"))
        });
        let url = route(&worker, base, "GET", taken).await;
        assert_eq!(http("GET", &url, &[], b"").await.status, 409);

        // A panic: 500 with an error id, and not a word of its text.
        let panics = Function::new(fid("answers::panics"), |_: ApiRequest| async move {
            if true {
                panic!("the secret key is hunter2");
            }
            Ok::<_, Error>(ApiResponse::ok(json!({})))
        });
        let url = route(&worker, base, "GET", panics).await;
        let reply = http("GET", &url, &[], b"").await;
        assert_eq!(reply.status, 500);
        assert!(!reply.text().contains("hunter2"), "{}", reply.text());
        let error_id = reply.json()["error"]["error_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(error_id.len(), 12, "{}", reply.text());

        // An internal failure (a call inside the handler) is hidden too.
        let calls = Function::new(
            fid("answers::calls"),
            |_: ApiRequest, ctx: iii::Context| async move {
                ctx.worker()
                    .call::<Value, _>("nowhere::at_all", &json!({}))
                    .await?;
                Ok::<_, Error>(ApiResponse::ok(json!({})))
            },
        );
        let url = route(&worker, base, "GET", calls).await;
        let reply = http("GET", &url, &[], b"").await;
        assert_eq!(reply.status, 500);
        assert!(!reply.text().contains("nowhere"), "{}", reply.text());
    }

    #[tokio::test]
    async fn a_plain_value_is_the_body_of_a_200_and_parameters_decode_into_types() {
        let engine = engine().await;
        let worker = engine.connect("plain").await;
        let base = &engine.http_url;
        let plain = Function::new(fid("answers::plain"), |_: ApiRequest| async move {
            Ok::<_, Error>(Receipt { id: 7, total: 30 })
        });
        let url = route(&worker, base, "GET", plain).await;
        let reply = http("GET", &url, &[], b"").await;
        assert_eq!(
            (reply.status, reply.json()),
            (200, json!({"id": 7, "total": 30}))
        );

        let paged = Function::new(fid("answers::paged"), |req: ApiRequest| async move {
            let page: Page = req.query()?;
            Ok::<_, Error>(ApiResponse::ok(
                json!({"page": page.page, "size": page.size}),
            ))
        });
        let url = route(&worker, base, "GET", paged).await;
        let reply = http("GET", &format!("{url}?page=3"), &[], b"").await;
        assert_eq!(
            (reply.status, reply.json()),
            (200, json!({"page": 3, "size": null}))
        );
        let reply = http("GET", &format!("{url}?size=9"), &[], b"").await;
        assert_eq!(reply.status, 400, "{}", reply.text());
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains("page"), "{message}");
        let reply = http("GET", &format!("{url}?page=three"), &[], b"").await;
        assert_eq!(reply.status, 400, "{}", reply.text());
    }
}

/// A binding the engine refuses fails `connect`, named by the function
/// the user bound and its trigger, instead of a WARN about an alias.
#[tokio::test]
async fn connect_fails_naming_a_binding_the_engine_refused() {
    use iii::trigger::{Cron, Trigger};
    let engine = engine().await;
    let id = iii_tests::fid("refused::tick");
    let error = engine
        .worker("refused")
        .linked(iii::linked::Linked::None)
        .function(iii::Function::new(&id, |_: serde_json::Value| async move {
            Ok::<_, Error>(())
        }))
        // Minute 61: the shape passes the SDK's check, the engine refuses.
        .trigger(Trigger::new(&id, Cron::new("0 61 * * * *")))
        .connect()
        .await
        .expect_err("the engine refuses minute 61");
    assert!(matches!(error, Error::BindingsRefused { .. }), "{error:?}");
    let text = error.to_string();
    let named = format!("the `cron` trigger of `{id}`");
    assert!(text.contains(&named) && text.contains("61"), "{text}");
    assert!(!text.contains(":trigger:"), "no alias in: {text}");
}
