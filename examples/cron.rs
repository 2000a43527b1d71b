//! A cron trigger: a function on a schedule (UTC; 6 or 7 fields, seconds
//! first, so `*/1 * * * * *` is every second).
//!
//! `cargo run --example cron` waits for three fires and exits.

use std::time::Duration;

use iii::trigger::CronFire;
use tokio::sync::mpsc;

static FIRES: std::sync::OnceLock<mpsc::UnboundedSender<CronFire>> = std::sync::OnceLock::new();

/// Runs every second.
#[iii::function(id = "reports::every_second")]
#[iii::trigger(cron, expression = "*/1 * * * * *", metadata = {"report": "heartbeat"})]
async fn every_second(fire: CronFire, ctx: iii::Context) {
    println!(
        "  fired for {} (scheduled {}, metadata {})",
        fire.job_id,
        fire.scheduled_time,
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
    let worker = iii_examples::worker("cron-example", false)
        .connect()
        .await?;
    let mut ticks = Vec::new();
    for _ in 0..3 {
        let fire = tokio::time::timeout(Duration::from_secs(5), fires.recv())
            .await?
            .ok_or("no fire")?;
        ticks.push(fire.scheduled_time);
    }
    ticks.dedup();
    if ticks.len() != 3 {
        return Err(format!("three fires for fewer ticks: {ticks:?}").into());
    }
    println!("three fires arrived");
    worker.shutdown().await;
    Ok(())
}
