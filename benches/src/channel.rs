//! Channel throughput on iii-embedded: bytes from a writer to a reader
//! through the engine, printing figures.
//!
//! For each way of writing (the SDK's `send_bytes` with 1 MiB buffers, its
//! `AsyncWrite` with 8 KiB writes) and each channel buffer (64 items, the
//! default, and 1,024), one run moves the whole amount and reports MiB/s,
//! the process's CPU time per GiB (writer, engine and reader together),
//! and the process's peak resident memory during the run (the engine holds
//! up to a buffer of 64 KiB items). The floor is a bare WebSocket client on
//! both ends, writing the same 64 KiB items. The matrix runs twice, so the
//! spread of each figure shows.
//!
//! Run: `cargo run --release -p iii-benches --bin iii-channel-bench [-- MIB]`
//! (default 1024: 1 GiB per run).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use iii::Worker;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message as Frame;

const CHUNK: usize = 64 * 1024;

mod cpu;

#[derive(Clone, Copy)]
enum Writer {
    SendBytes,
    AsyncWrite,
    Bare,
}

struct Run {
    seconds: f64,
    cpu: Duration,
}

async fn run(worker: &Worker, how: Writer, buffer: usize, total: usize) -> Run {
    let created: Value = worker
        .call("engine::channels::create", &json!({"buffer_size": buffer}))
        .await
        .expect("create");
    cpu::reset_peak_rss();
    let cpu_before = cpu::cpu_time();
    let started = Instant::now();
    let received = match how {
        Writer::Bare => bare(worker.url(), &created, total).await,
        Writer::SendBytes | Writer::AsyncWrite => sdk(worker, &created, how, total).await,
    };
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(received, total, "every byte arrives");
    Run {
        seconds,
        cpu: cpu::cpu_time() - cpu_before,
    }
}

async fn sdk(worker: &Worker, created: &Value, how: Writer, total: usize) -> usize {
    let writer_ref = serde_json::from_value(created["writer"].clone()).expect("ref");
    let reader_ref = serde_json::from_value(created["reader"].clone()).expect("ref");
    let mut writer = worker.open_writer(&writer_ref).expect("writer");
    let mut reader = worker.open_reader(&reader_ref).expect("reader");
    let write = tokio::spawn(async move {
        match how {
            Writer::SendBytes => {
                let block = bytes::Bytes::from(vec![7u8; 1 << 20]);
                for _ in 0..total / block.len() {
                    writer.send_bytes(block.clone()).await.expect("send");
                }
            }
            _ => {
                let block = [7u8; 8192];
                for _ in 0..total / block.len() {
                    writer.write_all(&block).await.expect("write");
                }
            }
        }
        writer.close().await.expect("close");
    });
    let mut received = 0;
    while let Some(chunk) = reader.next().await {
        received += chunk.expect("read").len();
    }
    write.await.expect("writer");
    received
}

async fn bare(url: &str, created: &Value, total: usize) -> usize {
    let attach = |end: &Value, dir: &str| {
        format!(
            "{url}/ws/channels/{}?key={}&dir={dir}",
            end["channel_id"].as_str().unwrap_or_default(),
            end["access_key"].as_str().unwrap_or_default()
        )
    };
    let (mut writer, _) = tokio_tungstenite::connect_async(attach(&created["writer"], "write"))
        .await
        .expect("writer");
    let (mut reader, _) = tokio_tungstenite::connect_async(attach(&created["reader"], "read"))
        .await
        .expect("reader");
    let write = tokio::spawn(async move {
        let chunk = bytes::Bytes::from(vec![7u8; CHUNK]);
        for _ in 0..total / CHUNK {
            writer
                .feed(Frame::Binary(chunk.clone()))
                .await
                .expect("send");
        }
        writer.close(None).await.expect("close");
    });
    let mut received = 0;
    while let Some(Ok(frame)) = reader.next().await {
        match frame {
            Frame::Binary(b) => received += b.len(),
            Frame::Close(_) => break,
            _ => {}
        }
    }
    write.await.expect("writer");
    received
}

#[tokio::main]
async fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1024);
    let total = mib << 20;
    let engine = iii_embedded::Engine::start().await.expect("engine");
    let worker = Worker::builder()
        .url(engine.ws_url())
        .name("channel-bench")
        .connect()
        .await
        .expect("connect");
    println!(
        "iii channel benchmark on iii-embedded: {mib} MiB per run, writer and reader in one process; resident before: {} MiB",
        cpu::peak_rss_mib()
    );
    println!(
        "{:<36} {:>8} {:>10} {:>12} {:>14}",
        "writer", "buffer", "MiB/s", "CPU s/GiB", "peak RSS MiB"
    );
    let matrix = [
        ("bare WebSocket, 64 KiB items (floor)", Writer::Bare),
        ("send_bytes, 1 MiB buffers", Writer::SendBytes),
        ("AsyncWrite, 8 KiB writes", Writer::AsyncWrite),
    ];
    for (name, how) in matrix.into_iter().chain(matrix) {
        for buffer in [64, 1024] {
            let r = run(&worker, how, buffer, total).await;
            let gib = total as f64 / f64::from(1u32 << 30);
            println!(
                "{name:<36} {buffer:>8} {:>10.0} {:>12.2} {:>14}",
                mib as f64 / r.seconds,
                r.cpu.as_secs_f64() / gib,
                cpu::peak_rss_mib()
            );
        }
    }
    worker.shutdown().await;
    engine.shutdown().await;
}
