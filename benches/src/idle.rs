//! Idle memory of a worker: connects one worker serving an echo function,
//! lets it settle, and prints its resident set size (VmRSS) and peak
//! (VmHWM). Against a real engine (`III_URL`) the figure is the worker's
//! alone; without one, iii-embedded runs in this process and is counted.
//!
//! RSS counts the pages of the binary and of libc that the process touched
//! (clean, mapped from files, shared with every other process running the
//! same file). The worker's own memory is the private dirty part (heap,
//! stacks, written data), printed beside it from `/proc/self/smaps_rollup`.
//!
//! Run: `III_URL=ws://127.0.0.1:49134 cargo run --release -p iii-benches --bin iii-idle`

use std::time::Duration;

use iii::{Error, Function, Worker};
use serde_json::Value;

fn status(field: &str) -> String {
    proc_field("/proc/self/status", field)
}

fn proc_field(file: &str, field: &str) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l[field.len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let before = status("VmRSS:");
    let (engine, url) = match std::env::var("III_URL") {
        Ok(url) if !url.is_empty() => (None, url),
        _ => {
            let engine = iii_embedded::Engine::start().await?;
            let url = engine.ws_url();
            (Some(engine), url)
        }
    };
    let worker = Worker::builder().url(&url).name("idle").connect().await?;
    worker.register_function(Function::new("idle::echo", |v: Value| async move {
        Ok::<_, Error>(v)
    }))?;
    worker.flush().await?;
    let _: Value = worker
        .call("idle::echo", &serde_json::json!({"n": 1}))
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "idle worker on {}: RSS {} (at main: {before}), peak {}; private dirty {}, file-backed pages (PSS) {}",
        if engine.is_some() {
            "iii-embedded, in this process"
        } else {
            url.as_str()
        },
        status("VmRSS:"),
        status("VmHWM:"),
        proc_field("/proc/self/smaps_rollup", "Private_Dirty:"),
        proc_field("/proc/self/smaps_rollup", "Pss_File:"),
    );
    worker.shutdown().await;
    if let Some(engine) = engine {
        engine.shutdown().await;
    }
    Ok(())
}
