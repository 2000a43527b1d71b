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
    // Each change is its own invocation, and invocations run side by side:
    // two changes made back to back may reach the function in either order.
    // So wait for this one before making the next.
    expect_change(&mut changes, StateEventKind::Created, Some((0, 0))).await?;
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
    expect_change(&mut changes, StateEventKind::Updated, Some((1, 12))).await?;
    let cart: Option<Value> = state.get("carts", &key).await?;
    println!("cart {key} is now {}", cart.unwrap_or_default());

    println!(
        "saw both change events; scopes: {:?}",
        state.list_groups().await?
    );
    worker.shutdown().await;
    Ok(())
}

/// Waits up to 5 s for the next change event and checks its kind and the
/// new cart's (item count, total).
async fn expect_change(
    changes: &mut mpsc::UnboundedReceiver<StateEvent<Cart>>,
    kind: StateEventKind,
    cart: Option<(usize, i64)>,
) -> Result<(), Box<dyn std::error::Error>> {
    let event = tokio::time::timeout(Duration::from_secs(5), changes.recv())
        .await
        .map_err(|_| format!("no {kind:?} event within 5 s"))?
        .ok_or("the change channel closed")?;
    let seen = (
        event.kind,
        event.new_value.map(|c| (c.items.len(), c.total)),
    );
    if seen != (kind, cart) {
        return Err(format!("change event {seen:?}, expected {:?}", (kind, cart)).into());
    }
    Ok(())
}
