//! HTTP-invoked functions: a function registered with a URL, which the
//! engine calls; run on both engines against a local HTTP server.
//!
//! The auth secrets are read from the engine's environment: the tests name
//! `HOME`, which the test and the engine share whether the engine runs in
//! process or beside it (tests/engine/run), so the signature can be
//! checked here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use iii::Function;
use iii::function::{HttpAuth, HttpInvocation};
use iii_tests::{TestEngine, engine, eventually, fid};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A request the server got: its method, path, headers (names lower-cased)
/// and body.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A local HTTP server that records each request and answers by its path:
/// `/ok` echoes the body under `echo`, `/fail` 418 with an `error`, `/plain`
/// 503 with text, `/html` 200 with text, `/empty` 204, `/slow` never.
async fn server() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let Some(request) = read_request(&mut stream).await else {
                    return;
                };
                record.lock().expect("lock").push(request.clone());
                let (status, body) = match request.path.as_str() {
                    "/ok" => {
                        let got: Value =
                            serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                        ("200 OK", json!({ "echo": got }).to_string())
                    }
                    "/fail" => (
                        "418 I'm a teapot",
                        json!({"error": {"code": "teapot", "message": "short and stout"}})
                            .to_string(),
                    ),
                    "/plain" => ("503 Service Unavailable", "busy".to_string()),
                    "/html" => ("200 OK", "<html>".to_string()),
                    "/empty" => ("204 No Content", String::new()),
                    _ => return std::future::pending().await,
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    (base, seen)
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

/// Registers `id` as an HTTP-invoked function on a worker of its own, and
/// waits until the engine lists it.
async fn register(engine: &TestEngine, id: &str, invocation: HttpInvocation) -> iii::Worker {
    let owner = engine.connect("http-fn-owner").await;
    owner
        .register_function(Function::http(id, invocation))
        .expect("register");
    owner.flush().await.expect("flush");
    owner
}

async fn listed(worker: &iii::Worker, id: &str) -> bool {
    let filter = iii::discovery::FunctionFilter::new().prefix(id);
    worker
        .list_functions_where(&filter)
        .await
        .is_ok_and(|l| l.iter().any(|f| f.function_id == id))
}

fn invocation(url: String) -> HttpInvocation {
    HttpInvocation {
        url,
        method: None,
        timeout_ms: None,
        headers: Default::default(),
        auth: None,
    }
}

#[tokio::test]
async fn an_http_function_is_called_at_its_url_with_the_engines_headers_and_signature() {
    let engine = engine().await;
    let (base, seen) = server().await;
    let id = fid("httpfn::echo");
    let mut config = invocation(format!("{base}/ok"));
    config.headers.insert("x-extra".into(), "1".into());
    config.auth = Some(HttpAuth::Hmac {
        secret_key: "HOME".into(),
    });
    let _owner = register(&engine, &id, config).await;
    let caller = engine.connect("http-fn-caller").await;
    eventually(Duration::from_secs(5), "the function listed", || async {
        listed(&caller, &id).await.then_some(())
    })
    .await;
    let out: Value = caller.call(&id, &json!({"n": 1})).await.expect("called");
    assert_eq!(out["echo"]["n"], 1, "{out}");

    let request = seen
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("a request");
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/ok")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-iii-function-path"), Some(id.as_str()));
    assert_eq!(request.header("x-extra"), Some("1"));
    assert!(
        request
            .header("x-iii-invocation-id")
            .is_some_and(|v| v.len() == 36)
    );
    let timestamp = request.header("x-iii-timestamp").expect("timestamp");
    assert!(timestamp.parse::<u64>().is_ok(), "{timestamp}");
    let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
    assert_eq!(body["n"], 1);
    assert!(
        body["_caller_worker_id"].is_string(),
        "the engine adds the caller: {body}"
    );
    let secret = std::env::var("HOME").expect("HOME");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    let signed = base64::engine::general_purpose::STANDARD.encode(&request.body);
    mac.update(format!("{timestamp}:{signed}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        request.header("x-iii-signature"),
        Some(format!("sha256={hex}").as_str())
    );
}

#[tokio::test]
async fn http_answers_map_to_results_and_errors_as_the_engines() {
    let engine = engine().await;
    let (base, _) = server().await;
    let caller = engine.connect("http-fn-errors").await;
    let mut owners = Vec::new();
    let id_of = |path: &str, timeout_ms: Option<u64>| {
        let id = fid(&format!("httpfn::{}", path.trim_start_matches('/')));
        let mut config = invocation(format!("{base}{path}"));
        config.timeout_ms = timeout_ms;
        (id, config)
    };
    let cases = [
        id_of("/fail", None),
        id_of("/plain", None),
        id_of("/html", None),
        id_of("/empty", None),
        id_of("/slow", Some(300)),
    ];
    for (id, config) in &cases {
        owners.push(register(&engine, id, config.clone()).await);
    }
    for (id, _) in &cases {
        eventually(Duration::from_secs(5), "the function listed", || async {
            listed(&caller, id).await.then_some(())
        })
        .await;
    }
    let outcome = |i: usize| {
        let (caller, id) = (caller.clone(), cases[i].0.clone());
        async move { caller.call::<Value, _>(&id, &json!({})).await }
    };
    let teapot = outcome(0).await.expect_err("418");
    assert_eq!(teapot.code(), "teapot", "{teapot}");
    assert!(teapot.to_string().contains("short and stout"), "{teapot}");
    let busy = outcome(1).await.expect_err("503");
    assert_eq!(busy.code(), "http_error");
    assert!(
        busy.to_string().contains("HTTP 503 Service Unavailable"),
        "{busy}"
    );
    let html = outcome(2).await.expect_err("not JSON");
    assert_eq!(html.code(), "invalid_response", "{html}");
    assert_eq!(outcome(3).await.expect("204"), Value::Null);
    let slow = outcome(4).await.expect_err("timed out");
    assert_eq!(slow.code(), "http_request_failed", "{slow}");
    assert!(slow.to_string().contains("timed out"), "{slow}");
}

#[tokio::test]
async fn an_http_function_refused_at_registration_or_gone_with_its_worker_is_not_found() {
    let engine = engine().await;
    let (base, _) = server().await;
    let caller = engine.connect("http-fn-gone").await;
    // A secret the engine's environment lacks: refused, and the worker is
    // not told.
    let refused = fid("httpfn::nosecret");
    let mut config = invocation(format!("{base}/ok"));
    config.auth = Some(HttpAuth::Bearer {
        token_key: fid("III_SURELY_UNSET"),
    });
    let _owner = register(&engine, &refused, config).await;
    // Registered after it on the same kind of worker: once this one is
    // listed, the refused one would have been.
    let kept = fid("httpfn::kept");
    let owner = register(&engine, &kept, invocation(format!("{base}/ok"))).await;
    eventually(
        Duration::from_secs(5),
        "the kept function listed",
        || async { listed(&caller, &kept).await.then_some(()) },
    )
    .await;
    let err = caller
        .call::<Value, _>(&refused, &json!({}))
        .await
        .expect_err("not registered");
    assert_eq!(err.code(), "function_not_found", "{err}");
    // The function goes with its worker.
    owner.shutdown().await;
    eventually(Duration::from_secs(10), "the function gone", || async {
        (!listed(&caller, &kept).await).then_some(())
    })
    .await;
    let err = caller
        .call::<Value, _>(&kept, &json!({}))
        .await
        .expect_err("gone");
    assert_eq!(err.code(), "function_not_found", "{err}");
}
