//! A custom trigger type: one worker provides `ticker` (fire every N ms),
//! a function binds to it with `#[iii::trigger(custom = "ticker", ..)]`.
//!
//! `cargo run --example custom_trigger` runs it end to end and exits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iii::trigger_type::{Binding, TriggerTypeHandler};
use iii::{TriggerType, Worker};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The config of a `ticker` binding.
#[derive(Deserialize, schemars::JsonSchema)]
struct Every {
    /// Milliseconds between fires.
    every_ms: u64,
}

/// Fires each binding's function on its own timer.
struct Ticker {
    worker: Worker,
    timers: Arc<Mutex<HashMap<String, JoinHandle<()>>>>,
}

impl TriggerTypeHandler for Ticker {
    type Config = Every;

    async fn register(&self, binding: Binding<Every>) -> Result<(), iii::Error> {
        if binding.config.every_ms < 10 {
            return Err(iii::Error::new(
                "invalid_config",
                "`every_ms` must be at least 10",
            ));
        }
        let worker = self.worker.clone();
        let period = Duration::from_millis(binding.config.every_ms);
        let timer = tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                tokio::time::sleep(period).await;
                n += 1;
                let fire = worker
                    .invoke(&binding.function_id)
                    .payload(&json!({"tick": n}))
                    .metadata(binding.metadata.clone().unwrap_or(Value::Null));
                if fire.void().await.is_err() {
                    return;
                }
            }
        });
        self.timers
            .lock()
            .map_err(|_| iii::Error::msg("timer table poisoned"))?
            .insert(binding.id, timer);
        Ok(())
    }

    async fn unregister(&self, id: String) -> Result<(), iii::Error> {
        if let Some(timer) = self
            .timers
            .lock()
            .map_err(|_| iii::Error::msg("timer table poisoned"))?
            .remove(&id)
        {
            timer.abort();
        }
        Ok(())
    }
}

static TICKS: std::sync::OnceLock<mpsc::UnboundedSender<u64>> = std::sync::OnceLock::new();

/// Runs on every tick of its `ticker` binding.
#[iii::function(id = "clock::on_tick")]
#[iii::trigger(custom = "ticker", config = {"every_ms": 100}, metadata = {"source": "example"})]
async fn on_tick(tick: Value, ctx: iii::Context) {
    println!(
        "  tick {} (metadata {})",
        tick["tick"],
        ctx.metadata().cloned().unwrap_or_default()
    );
    if let (Some(tx), Some(n)) = (TICKS.get(), tick["tick"].as_u64()) {
        let _ = tx.send(n);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (tx, mut ticks) = mpsc::unbounded_channel();
    let _ = TICKS.set(tx);
    let builder = iii_examples::worker("ticker-example", false);
    // This worker both provides the type and serves the bound function; the
    // binding is replayed to the provider as soon as the type is registered.
    let worker = builder.connect().await?;
    worker.register_trigger_type(
        TriggerType::new("ticker", "Fires every `every_ms` milliseconds"),
        Ticker {
            worker: worker.clone(),
            timers: Arc::default(),
        },
    )?;
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(5), ticks.recv())
            .await?
            .ok_or("no tick")?;
    }
    println!("three ticks arrived");
    worker.shutdown().await;
    Ok(())
}
