//! Helpers shared by the examples (`cargo run --example NAME`).

use std::net::SocketAddr;

use iii::WorkerBuilder;
use iii_embedded::{Engine, EngineBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Started = Result<(Option<Engine>, WorkerBuilder), Box<dyn std::error::Error>>;

/// A worker builder for the engine named by `III_URL`, or, when it is unset,
/// for a fresh in-process engine (returned so it lives as long as needed).
pub async fn engine_or_env(name: &str) -> Started {
    start(name, Engine::builder()).await
}

/// Like [`engine_or_env`], with the in-process engine's HTTP triggers on
/// 127.0.0.1:3111 (the iii engine's default REST port), for examples to curl.
pub async fn engine_on_3111_or_env(name: &str) -> Started {
    start(
        name,
        Engine::builder().http_addr(SocketAddr::from(([127, 0, 0, 1], 3111))),
    )
    .await
}

async fn start(name: &str, engine: EngineBuilder) -> Started {
    let builder = iii::Worker::from_env().name(name);
    if std::env::var("III_URL").is_ok() {
        return Ok((None, builder));
    }
    let engine = engine.start().await?;
    let builder = builder.url(engine.ws_url());
    Ok((Some(engine), builder))
}

/// An example that drives itself, or serves for curl: the worker builder,
/// the engine to keep alive, and the base URL of its HTTP triggers. With
/// `serve`, the in-process engine answers on 127.0.0.1:3111; with `III_URL`
/// set, the engine is that one and its triggers are at `III_HTTP_URL`.
pub async fn demo_or_serve(
    name: &str,
    serve: bool,
) -> Result<(Option<Engine>, WorkerBuilder, String), Box<dyn std::error::Error>> {
    let (engine, builder) = if serve {
        engine_on_3111_or_env(name).await?
    } else {
        engine_or_env(name).await?
    };
    let http_url = match &engine {
        Some(engine) => engine.http_url(),
        None => std::env::var("III_HTTP_URL").unwrap_or_else(|_| "http://127.0.0.1:3111".into()),
    };
    Ok((engine, builder, http_url))
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
