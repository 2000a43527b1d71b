//! Enqueued calls: the caller gets a receipt at once, the function runs
//! later and is retried when it fails.
//!
//! `cargo run --example queue` runs it end to end on the in-process engine,
//! whose built-in queue retries three times. (The iii engine needs its
//! `queue` worker for `enqueue`.)

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
struct Email {
    to: String,
}

static ATTEMPTS: AtomicU32 = AtomicU32::new(0);
static SENT: std::sync::OnceLock<mpsc::UnboundedSender<String>> = std::sync::OnceLock::new();

/// Sends an email; the first attempt fails, as a flaky server would.
#[iii::function(id = "emails::send")]
async fn send(email: Email) -> Result<(), iii::Error> {
    let attempt = ATTEMPTS.fetch_add(1, Ordering::SeqCst) + 1;
    if attempt == 1 {
        println!("  attempt {attempt} for {}: smtp timeout", email.to);
        return Err(iii::Error::new(
            "smtp_timeout",
            "the mail server did not answer",
        ));
    }
    println!("  attempt {attempt} for {}: sent", email.to);
    if let Some(tx) = SENT.get() {
        let _ = tx.send(email.to);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (tx, mut sent) = mpsc::unbounded_channel();
    let _ = SENT.set(tx);
    let worker = iii_examples::worker("queue-example", false)
        .connect()
        .await?;

    let receipt = worker
        .invoke("emails::send")
        .payload(&Email {
            to: "ada@example.test".into(),
        })
        .enqueue("emails")
        .await?;
    println!("queued as {}", receipt.message_receipt_id);
    let to = tokio::time::timeout(Duration::from_secs(10), sent.recv())
        .await?
        .ok_or("never sent")?;
    println!(
        "delivered to {to} after {} attempts",
        ATTEMPTS.load(Ordering::SeqCst)
    );
    worker.shutdown().await;
    Ok(())
}
