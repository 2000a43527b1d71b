//! A cron trigger: a function on a schedule (UTC; 6 or 7 fields, seconds
//! first, so `*/1 * * * * *` is every second).
//!
//! `cargo run --example cron` waits for three fires and exits.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

static FIRES: std::sync::OnceLock<mpsc::UnboundedSender<Value>> = std::sync::OnceLock::new();

/// Runs every second.
#[iii::function(id = "reports::every_second")]
#[iii::trigger(cron, expression = "*/1 * * * * *", metadata = {"report": "heartbeat"})]
async fn every_second(fire: Value, ctx: iii::Context) {
    println!(
        "  fired for {} (scheduled {}, metadata {})",
        fire["job_id"],
        fire["scheduled_time"],
        ctx.metadata().cloned().unwrap_or_default()
    );
    if let Some(tx) = FIRES.get() {
        let _ = tx.send(fire);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (tx, mut fires) = mpsc::unbounded_channel();
    let _ = FIRES.set(tx);
    let (_engine, builder) = iii_examples::engine_or_env("cron-example").await?;
    let worker = builder.connect().await?;
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(5), fires.recv())
            .await?
            .ok_or("no fire")?;
    }
    println!("three fires arrived");
    worker.shutdown().await;
    Ok(())
}
