//! What a careless or hostile client can make iii-embedded hold, in the
//! process's peak resident memory: issue 21's probes, for anyone to rerun.
//!
//! - `queue`: a worker that serves a function and never reads its socket
//!   is sent 100 fire-and-forget invocations of 4 MiB.
//! - `channel`: a channel with no reader is written 1,024 items of 1 MiB.
//!
//! Each scenario runs in a process of its own (peak memory is per process):
//! `cargo run --release -p iii-benches --bin iii-hold -- SCENARIO [unlimited]`.
//! `unlimited` lifts the engine's byte budgets, for the figure without them.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use iii::Worker;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;

mod cpu;

const MIB: usize = 1 << 20;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_default();
    let unlimited = args.next().as_deref() == Some("unlimited");
    let mut builder = iii_embedded::Engine::builder();
    if unlimited {
        builder = builder
            .max_queued_bytes(usize::MAX)
            .max_channel_bytes(usize::MAX)
            .max_channel_bytes_total(usize::MAX);
    }
    let engine = builder.start().await.expect("engine");
    let worker = Worker::builder()
        .url(engine.ws_url())
        .name("hold-probe")
        .connect()
        .await
        .expect("connect");
    let before = cpu::peak_rss_mib();
    let outcome = match scenario.as_str() {
        "queue" => queue(&worker).await,
        "channel" => channel(&worker).await,
        other => {
            eprintln!("unknown scenario {other:?}: give `queue` or `channel`");
            std::process::exit(2);
        }
    };
    println!(
        "{scenario}{}: peak RSS {before} MiB before, {} MiB after; {outcome}",
        if unlimited { " (unlimited)" } else { "" },
        cpu::peak_rss_mib()
    );
}

/// A raw worker socket on the engine, its welcome read.
async fn raw(url: &str) -> Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let _welcome = socket.next().await;
    socket
}

/// Whether `engine::functions::list` shows `id`.
async fn listed(worker: &Worker, id: &str) -> bool {
    let listed: Value = worker
        .call("engine::functions::list", &json!({}))
        .await
        .expect("list");
    listed["functions"]
        .as_array()
        .is_some_and(|fs| fs.iter().any(|f| f["function_id"] == json!(id)))
}

async fn queue(worker: &Worker) -> String {
    let id = "hold::deaf";
    let mut deaf = raw(worker.url()).await;
    deaf.send(Frame::text(
        json!({"type": "registerfunction", "id": id}).to_string(),
    ))
    .await
    .expect("register");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !listed(worker, id).await {
        assert!(
            Instant::now() < deadline,
            "the deaf function is never listed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A raw caller that sends one frame at a time, so that the process's
    // memory is the engine's and not a sender's queue.
    let mut caller = raw(worker.url()).await;
    let frame = json!({"type": "invokefunction", "function_id": id, "action": {"type": "void"}, "data": {"pad": "x".repeat(4 * MIB)}}).to_string();
    for _ in 0..100 {
        caller.send(Frame::text(frame.clone())).await.expect("send");
    }
    // Give the engine 5 s to take every frame in, then say whether it
    // dropped the worker.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && listed(worker, id).await {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dropped = !listed(worker, id).await;
    drop(deaf);
    format!(
        "100 x 4 MiB to a worker that does not read; it was {}dropped",
        if dropped { "" } else { "not " }
    )
}

async fn channel(worker: &Worker) -> String {
    let created: Value = worker
        .call("engine::channels::create", &json!({"buffer_size": 1024}))
        .await
        .expect("create");
    let end = &created["writer"];
    let url = format!(
        "{}/ws/channels/{}?key={}&dir=write",
        worker.url(),
        end["channel_id"].as_str().unwrap_or_default(),
        end["access_key"].as_str().unwrap_or_default()
    );
    let (mut writer, _) = tokio_tungstenite::connect_async(url).await.expect("attach");
    let item = bytes::Bytes::from(vec![7u8; MIB]);
    let mut sent = 0;
    // An item the engine does not take within 2 s means it stopped reading.
    for _ in 0..1024 {
        let send = writer.send(Frame::Binary(item.clone()));
        match tokio::time::timeout(Duration::from_secs(2), send).await {
            Ok(Ok(())) => sent += 1,
            _ => break,
        }
    }
    format!("{sent} of 1,024 items of 1 MiB written to a channel with no reader")
}
