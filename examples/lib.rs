//! Helpers shared by the examples (`cargo run --example NAME`).

use iii::WorkerBuilder;
use iii_embedded::Engine;

/// A worker builder for the engine named by `III_URL`, or, when it is unset,
/// for a fresh in-process engine (returned so it lives as long as needed).
pub async fn engine_or_env(
    name: &str,
) -> Result<(Option<Engine>, WorkerBuilder), Box<dyn std::error::Error>> {
    let builder = iii::Worker::from_env().name(name);
    if std::env::var("III_URL").is_ok() {
        return Ok((None, builder));
    }
    let engine = Engine::start().await?;
    let builder = builder.url(engine.ws_url());
    Ok((Some(engine), builder))
}
