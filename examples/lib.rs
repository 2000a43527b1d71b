//! Helpers shared by the examples (`cargo run --example NAME`).

use std::net::SocketAddr;

use iii::WorkerBuilder;
use iii_embedded::{Engine, EngineBuilder};

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
