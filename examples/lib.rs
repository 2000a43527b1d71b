//! Helpers shared by the examples (`cargo run --example NAME`).

use iii::embedded::Engine;
use iii::{Worker, WorkerBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A worker builder for the engine named by `III_URL`, or, when it is
/// unset, for an in-process engine that it starts at `connect`: on
/// ephemeral ports, or with `serve` on 127.0.0.1:3111 (the iii engine's
/// default REST port), for curl.
pub fn worker(name: &str, serve: bool) -> WorkerBuilder {
    let port = if serve { 3111 } else { 0 };
    Worker::from_env()
        .name(name)
        .embedded_engine(Engine::builder().http_port(port))
}

/// Where `worker`'s `http` triggers answer: its in-process engine, or
/// `III_HTTP_URL` (default `http://127.0.0.1:3111`).
pub fn http_url(worker: &Worker) -> String {
    match worker.embedded_engine() {
        Some(engine) => engine.http_url(),
        None => std::env::var("III_HTTP_URL").unwrap_or_else(|_| "http://127.0.0.1:3111".into()),
    }
}

/// A minimal HTTP/1.1 POST of a JSON body: the status and the body.
pub async fn post(
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let authority = base
        .strip_prefix("http://")
        .ok_or("III_HTTP_URL must start with http://")?;
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status line")?;
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Ok((status, body))
}
