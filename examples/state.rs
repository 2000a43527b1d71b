//! Engine state: writes, atomic updates, and a function that reacts to
//! every change of a scope.
//!
//! `cargo run --example state` runs it end to end and exits.

use std::time::Duration;

use iii::state::UpdateOp;
use serde_json::{Value, json};
use tokio::sync::mpsc;

static CHANGES: std::sync::OnceLock<mpsc::UnboundedSender<Value>> = std::sync::OnceLock::new();

/// Called by the engine on every change in the `carts` scope.
#[iii::function(id = "carts::on_change")]
#[iii::trigger(state, scope = "carts")]
async fn on_change(event: Value) {
    println!(
        "  {} {} -> {}",
        event["event_type"], event["key"], event["new_value"]
    );
    if let Some(tx) = CHANGES.get() {
        let _ = tx.send(event);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (tx, mut changes) = mpsc::unbounded_channel();
    let _ = CHANGES.set(tx);
    let (_engine, builder) = iii_examples::engine_or_env("state-example").await?;
    let worker = builder.connect().await?;
    let state = worker.state();

    println!("writing cart ada:");
    state
        .set("carts", "ada", &json!({"items": [], "total": 0}))
        .await?;
    state
        .update(
            "carts",
            "ada",
            vec![
                UpdateOp::Append {
                    path: Some("items".into()),
                    value: json!("book"),
                },
                UpdateOp::Increment {
                    path: "total".into(),
                    by: 12,
                },
            ],
        )
        .await?;
    let cart: Option<Value> = state.get("carts", "ada").await?;
    println!("cart ada is now {}", cart.unwrap_or_default());

    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(5), changes.recv())
            .await?
            .ok_or("no change event")?;
    }
    println!(
        "saw both change events; scopes: {:?}",
        state.list_groups().await?
    );
    worker.shutdown().await;
    Ok(())
}
