//! Logs from a handler, arriving at the `log` trigger of another worker.
//!
//! The `shop` worker's checkout logs through its context's logger and
//! through `tracing` (with `iii::logger::layer()` installed); the `ops`
//! worker watches warnings with a `log` trigger. Both lines carry the
//! checkout's trace, and the call it makes carries the trace on, so its
//! callee's lines join it.
//!
//! `cargo run --example logging` runs it end to end and exits (with
//! `III_URL`, on that engine).

use std::time::Duration;

use iii::logger::LogRecord;
use iii::{Context, Error, Linked};
use serde_json::json;
use tokio::sync::mpsc;
use tracing_subscriber::prelude::*;

/// Takes an order; its card needs a second try.
#[iii::function(id = "shop::checkout")]
async fn checkout(order: serde_json::Value, ctx: Context) -> Result<String, Error> {
    ctx.logger()
        .info_with("checkout started", &json!({"order": order["id"]}));
    tracing::warn!(order = %order["id"], attempt = 2, "card retried");
    ctx.worker().call::<(), _>("shop::notify", &order).await?;
    Ok(ctx.trace().trace_id())
}

/// Tells the customer; its line joins the checkout's trace.
#[iii::function(id = "shop::notify")]
async fn notify(order: serde_json::Value, ctx: Context) -> Result<(), Error> {
    ctx.logger()
        .warn_with("email bounced", &json!({"order": order["id"]}));
    Ok(())
}

static WARNINGS: std::sync::OnceLock<mpsc::UnboundedSender<LogRecord>> = std::sync::OnceLock::new();

/// Receives every warning the engine stores (engine 0.23 matches the
/// level exactly: `warn` gets warnings, not errors).
#[iii::function(id = "ops::warnings")]
#[iii::trigger(log, level = "warn")]
async fn warnings(record: LogRecord) {
    if let Some(tx) = WARNINGS.get() {
        let _ = tx.send(record);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::registry()
        .with(iii::logger::layer())
        .init();
    let (tx, mut seen) = mpsc::unbounded_channel();
    let _ = WARNINGS.set(tx);
    let shop = iii_examples::worker("shop", false)
        .linked(Linked::Only(vec![
            "shop::checkout".into(),
            "shop::notify".into(),
        ]))
        .connect()
        .await?;
    let ops = iii::Worker::from_env()
        .url(shop.url())
        .name("ops")
        .linked(Linked::Only(vec!["ops::warnings".into()]))
        .connect()
        .await?;
    shop.flush().await?;
    ops.flush().await?;

    let trace: String = shop.call("shop::checkout", &json!({"id": 7})).await?;
    println!("checkout ran in trace {trace}");
    let mut lines = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), async {
        while lines.len() < 2 {
            let Some(record) = seen.recv().await else {
                return;
            };
            // The engine also stores its own copy of each line, without ids.
            if record.trace_id.as_deref() == Some(trace.as_str()) {
                println!(
                    "  ops saw {} from {}: {} {}",
                    record.severity_text,
                    record.service_name,
                    record.body,
                    serde_json::Value::Object(record.attributes.clone())
                );
                lines.push(record.body);
            }
        }
    })
    .await?;
    lines.sort();
    assert_eq!(lines, ["card retried", "email bounced"]);
    println!("both warnings reached the ops worker's log trigger, in the checkout's trace");
    shop.shutdown().await;
    ops.shutdown().await;
    Ok(())
}
