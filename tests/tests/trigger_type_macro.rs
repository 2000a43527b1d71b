//! `#[iii::trigger_type]`: a provider registered at connect, fed bindings
//! made with `#[iii::trigger(custom = ..)]`, firing them with the worker the
//! binding carries.
//!
//! A test binary of its own: its provider and binding are linked, so every
//! worker of a shared binary connecting with the default `Linked::All`
//! would register them (two at once on one real engine).

use std::time::Duration;

use iii::trigger_type::{Binding, TriggerTypeHandler};
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Once {
    greeting: String,
}

/// Fires each binding once, with its configured greeting.
#[iii::trigger_type(id = "macro-once")]
#[derive(Default)]
struct FireOnce;

impl TriggerTypeHandler for FireOnce {
    type Config = Once;
    async fn register(&self, binding: Binding<Once>) -> Result<(), iii::Error> {
        let worker = binding.worker.clone();
        worker
            .invoke(&binding.function_id)
            .payload(&json!({"greeting": binding.config.greeting}))
            .void()
            .await
    }
    async fn unregister(&self, _id: String) -> Result<(), iii::Error> {
        Ok(())
    }
}

static SEEN: std::sync::OnceLock<mpsc::UnboundedSender<Value>> = std::sync::OnceLock::new();

#[iii::function(id = "macro::on_once")]
#[iii::trigger(custom = "macro-once", config = {"greeting": "hello"})]
async fn on_once(event: Value) {
    if let Some(tx) = SEEN.get() {
        let _ = tx.send(event);
    }
}

#[tokio::test]
async fn a_macro_provider_serves_a_macro_binding() {
    let (tx, mut seen) = mpsc::unbounded_channel();
    let _ = SEEN.set(tx);
    let engine = iii_tests::engine().await;
    let worker = engine
        .worker("macro-provider")
        .connect()
        .await
        .expect("connect");
    let event = tokio::time::timeout(Duration::from_secs(5), seen.recv())
        .await
        .expect("fired")
        .expect("event");
    assert_eq!(event, json!({"greeting": "hello"}));
    let types = worker.list_trigger_types(false).await.expect("types");
    let mine = types
        .iter()
        .find(|t| t.id == "macro-once")
        .expect("registered");
    assert_eq!(
        mine.description.as_deref(),
        Some("Fires each binding once, with its configured greeting.")
    );
    worker.shutdown().await;
}
