//! Engine state: writes, atomic updates, and a function that reacts to
//! every change of a scope.
//!
//! `cargo run --example state` runs it end to end and exits.

use std::time::Duration;

use iii::state::{StateEvent, StateEventKind, UpdateOp};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A cart as stored in the `carts` scope.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct Cart {
    items: Vec<String>,
    total: i64,
}

static CHANGES: std::sync::OnceLock<mpsc::UnboundedSender<StateEvent<Cart>>> =
    std::sync::OnceLock::new();

/// Called by the engine on every change in the `carts` scope.
#[iii::function(id = "carts::on_change")]
#[iii::trigger(state, scope = "carts")]
async fn on_change(event: StateEvent<Cart>) {
    println!("  {:?} {} -> {:?}", event.kind, event.key, event.new_value);
    if let Some(tx) = CHANGES.get() {
        let _ = tx.send(event);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (tx, mut changes) = mpsc::unbounded_channel();
    let _ = CHANGES.set(tx);
    let worker = iii_examples::worker("state-example", false)
        .connect()
        .await?;
    let state = worker.state();

    // A key of this run's own, so that its first write is a creation.
    let key = format!("ada-{}", std::process::id());
    println!("writing cart {key}:");
    state
        .set("carts", &key, &json!({"items": [], "total": 0}))
        .await?;
    state
        .update(
            "carts",
            &key,
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
    let cart: Option<Value> = state.get("carts", &key).await?;
    println!("cart {key} is now {}", cart.unwrap_or_default());

    let mut seen = Vec::new();
    for _ in 0..2 {
        let event = tokio::time::timeout(Duration::from_secs(5), changes.recv())
            .await?
            .ok_or("no change event")?;
        seen.push((
            event.kind,
            event.new_value.map(|c| (c.items.len(), c.total)),
        ));
    }
    let expected = [
        (StateEventKind::Created, Some((0, 0))),
        (StateEventKind::Updated, Some((1, 12))),
    ];
    if seen != expected {
        return Err(format!("change events {seen:?}, expected {expected:?}").into());
    }
    println!(
        "saw both change events; scopes: {:?}",
        state.list_groups().await?
    );
    worker.shutdown().await;
    Ok(())
}
