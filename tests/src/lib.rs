//! Shared helpers of the end-to-end tests.
//!
//! Every test gets an engine from [`engine`]: a fresh `iii-embedded` engine,
//! or, when `III_URL` and `III_HTTP_URL` are set, the external engine they
//! name (worker names are then made unique per run).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use iii::Worker;
use iii_embedded::Engine;

pub mod cluster;
pub mod fake;
pub mod peer;

/// The engine a test runs against.
pub struct TestEngine {
    /// The in-process engine, unless an external one is used.
    pub embedded: Option<Engine>,
    /// Worker socket URL.
    pub ws_url: String,
    /// Base URL of HTTP triggers.
    pub http_url: String,
}

/// Starts an embedded engine, or points at `III_URL`/`III_HTTP_URL`.
pub async fn engine() -> TestEngine {
    match (std::env::var("III_URL"), std::env::var("III_HTTP_URL")) {
        (Ok(ws_url), Ok(http_url)) => TestEngine {
            embedded: None,
            ws_url,
            http_url,
        },
        _ => {
            let engine = Engine::start().await.expect("start the embedded engine");
            TestEngine {
                ws_url: engine.ws_url(),
                http_url: engine.http_url(),
                embedded: Some(engine),
            }
        }
    }
}

impl TestEngine {
    /// A fresh embedded engine with these settings (for tests of
    /// iii-embedded's own limits).
    pub async fn from_builder(builder: iii_embedded::EngineBuilder) -> TestEngine {
        let engine = builder.start().await.expect("start the embedded engine");
        TestEngine {
            ws_url: engine.ws_url(),
            http_url: engine.http_url(),
            embedded: Some(engine),
        }
    }
}

/// A worker name unique within this test process and run.
pub fn unique(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A function id unique within this run (for external engines, where ids
/// from other runs may still be live).
pub fn fid(id: &str) -> String {
    unique(id).replace('-', "_")
}

impl TestEngine {
    /// A builder for a worker on this engine with test-friendly timeouts.
    pub fn worker(&self, name: &str) -> iii::WorkerBuilder {
        Worker::builder()
            .url(&self.ws_url)
            .name(unique(name))
            .default_timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
    }

    /// A connected worker.
    pub async fn connect(&self, name: &str) -> Worker {
        self.worker(name).connect().await.expect("connect")
    }

    /// Two connected workers: a callee and a caller.
    pub async fn pair(&self) -> (Worker, Worker) {
        (self.connect("callee").await, self.connect("caller").await)
    }
}

/// Registers `function` on `worker` and waits until the engine has it, so
/// any worker can call it next.
pub async fn serve(worker: &Worker, function: iii::Function) -> iii::FunctionHandle {
    let handle = worker.register_function(function).expect("register");
    worker.flush().await.expect("flush");
    handle
}

/// Polls `check` until it returns `Some`, failing the test after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `method url` stops answering 404 (the route is live).
pub async fn route_live(method: &str, url: &str) {
    eventually(
        Duration::from_secs(5),
        "the route to go live",
        || async move {
            let reply = http(method, url, &[], b"").await;
            (reply.status != 404).then_some(())
        },
    )
    .await;
}

/// A raw WebSocket client's socket (to the worker socket or a channel).
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A trigger-type provider that takes every binding and does nothing.
pub struct NoopProvider;

impl iii::trigger_type::TriggerTypeHandler for NoopProvider {
    type Config = serde_json::Value;
    async fn register(
        &self,
        _: iii::trigger_type::Binding<serde_json::Value>,
    ) -> Result<(), iii::Error> {
        Ok(())
    }
    async fn unregister(&self, _: String) -> Result<(), iii::Error> {
        Ok(())
    }
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: BTreeMap<String, String>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpReply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one HTTP/1.1 request (the test kit's client) and reads the whole
/// response.
pub async fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpReply {
    let mut request = iii::testing::request(method, url).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    HttpReply {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().to_vec(),
    }
}

/// Sends one HTTP/1.1 request and returns the response as it starts, its
/// body still to read frame by frame.
pub async fn http_open(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> hyper::Response<hyper::body::Incoming> {
    let uri: hyper::Uri = url.parse().expect("url");
    let authority = uri.authority().expect("authority").to_string();
    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .expect("connect to the http listener");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("http handshake");
    tokio::spawn(conn);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .header("host", &authority);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(Full::new(body)).expect("request");
    sender.send_request(request).await.expect("http response")
}

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;

/// `len` bytes of the test pattern starting at `offset`: byte `i` of a
/// stream is `i % 251`, so a chunk lost, doubled or reordered shows.
pub fn pattern(offset: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| ((offset + i) % 251) as u8)
        .collect()
}

/// Where `data` first departs from the pattern, if it does.
pub fn pattern_mismatch(data: &[u8]) -> Option<usize> {
    data.iter()
        .enumerate()
        .find(|(i, b)| **b != (*i as u64 % 251) as u8)
        .map(|(i, _)| i)
}

/// Serves a pair of functions that report their trace contexts: `inner`
/// answers what it arrived with and its own ids, `outer` calls `inner`
/// and answers its own ids with `inner`'s answer. Returns their ids.
pub async fn serve_trace_pair(outer: &Worker, inner: &Worker) -> (String, String) {
    use iii::{Context, Error, Function};
    use serde_json::{Value, json};
    let (outer_id, inner_id) = (fid("trace::outer"), fid("trace::inner"));
    let report = |ctx: &Context| {
        json!({
            "arrived_with": ctx.traceparent(),
            "trace": ctx.trace().trace_id(),
            "span": ctx.trace().span_id(),
            "parent": ctx.trace().parent_span_id(),
            "baggage": ctx.baggage(),
        })
    };
    serve(
        inner,
        Function::new(&inner_id, move |_: Value, ctx: Context| async move {
            Ok::<_, Error>(report(&ctx))
        }),
    )
    .await;
    let target = inner_id.clone();
    serve(
        outer,
        Function::new(&outer_id, move |_: Value, ctx: Context| {
            let target = target.clone();
            async move {
                let inner: Value = ctx.worker().call(&target, &json!({})).await?;
                let mut own = report(&ctx);
                own["inner"] = inner;
                Ok::<_, Error>(own)
            }
        }),
    )
    .await;
    (outer_id, inner_id)
}
