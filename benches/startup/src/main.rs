//! Prints the time from `main` to every linked function registered (the
//! engine acknowledged the worker's announcement, which it processes after
//! the registrations) with 1,000 `#[iii::function]`s on iii-embedded.

use std::time::Instant;

include!(concat!(env!("OUT_DIR"), "/functions.rs"));

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let engine = iii_embedded::Engine::start().await?;
    let engine_up = started.elapsed();
    let worker = iii::Worker::builder().url(engine.ws_url()).name("startup").connect().await?;
    let registered = started.elapsed();
    let listed = worker.list_functions().await?.len();
    println!(
        "{} linked functions; engine up after {engine_up:?}; all registered and announced after {registered:?}; engine lists {listed}",
        iii::linked::functions().count()
    );
    worker.shutdown().await;
    engine.shutdown().await;
    Ok(())
}
