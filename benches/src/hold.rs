//! What a careless or hostile client can make iii-embedded hold, in the
//! process's peak resident memory: issue 21's probes, for anyone to rerun.
//!
//! - `queue`: a worker that serves a function and never reads its socket
//!   is sent 100 fire-and-forget invocations of 4 MiB.
//! - `channel`: a channel with no reader is written 1,024 items of 1 MiB.
//! - `json`: an `http` route is sent a 63 MiB JSON body (one string), its
//!   handler a raw worker in a child process, so that the peak is the
//!   engine's alone; `json3` sends three at once.
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
    if scenario == "serve" {
        return serve(&args.next().expect("the engine's url")).await;
    }
    let unlimited = args.next().as_deref() == Some("unlimited");
    let mut builder = iii_embedded::Engine::builder();
    if unlimited {
        builder = builder
            .max_queued_bytes(usize::MAX)
            .max_channel_bytes(usize::MAX)
            .max_channel_bytes_total(usize::MAX)
            .max_json_bytes_in_flight(usize::MAX);
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
        "json" => json_body(&worker, engine.http_url(), 1).await,
        "json3" => json_body(&worker, engine.http_url(), 3).await,
        other => {
            eprintln!("unknown scenario {other:?}: give `queue`, `channel`, `json` or `json3`");
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

/// The child process of `json`: a raw worker serving `hold::echo_len` on
/// `POST /hold`, answering each call with the length of its body's `s`.
async fn serve(url: &str) {
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
    let config = WebSocketConfig::default()
        .max_frame_size(None)
        .max_message_size(None);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .expect("connect");
    for frame in [
        json!({"type": "registerfunction", "id": "hold::echo_len"}),
        json!({"type": "registertrigger", "id": "hold-route", "trigger_type": "http", "function_id": "hold::echo_len", "config": {"api_path": "hold", "http_method": "POST"}}),
    ] {
        socket
            .send(Frame::text(frame.to_string()))
            .await
            .expect("register");
    }
    while let Some(Ok(frame)) = socket.next().await {
        let Frame::Text(text) = frame else { continue };
        let Ok(call) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        if call["type"] != "invokefunction" {
            continue;
        }
        let len = call["data"]["body"]["s"].as_str().map_or(0, str::len);
        let result = json!({"type": "invocationresult", "invocation_id": call["invocation_id"], "function_id": call["function_id"], "result": {"status_code": 200, "body": {"len": len}}});
        socket
            .send(Frame::text(result.to_string()))
            .await
            .expect("answer");
    }
}

async fn json_body(worker: &Worker, http_url: String, at_once: usize) -> String {
    let exe = std::env::current_exe().expect("own path");
    let mut child = tokio::process::Command::new(exe)
        .args(["serve", worker.url()])
        .kill_on_drop(true)
        .spawn()
        .expect("the worker process");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !listed(worker, "hold::echo_len").await {
        assert!(
            Instant::now() < deadline,
            "the route's worker never registered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Give the route a moment past the function: wait for its binding.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let bound: Value = worker
            .call("engine::registered-triggers::list", &json!({}))
            .await
            .expect("list");
        let found = bound["registered_triggers"]
            .as_array()
            .is_some_and(|b| b.iter().any(|t| t["function_id"] == "hold::echo_len"));
        if found {
            break;
        }
        assert!(Instant::now() < deadline, "the route is never bound");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let addr = http_url.trim_start_matches("http://").to_string();
    let posts: Vec<_> = (0..at_once)
        .map(|_| tokio::spawn(post_big_json(addr.clone())))
        .collect();
    let mut replies = Vec::new();
    for post in posts {
        replies.push(post.await.expect("post"));
    }
    let _ = child.kill().await;
    format!(
        "{at_once} JSON bodies of 63 MiB at once: {}",
        replies.join("; ")
    )
}

/// POSTs a 63 MiB JSON body, written 1 MiB at a time so that the client
/// holds none of it; the reply's status line and body.
async fn post_big_json(addr: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let len = 63 * MIB;
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.expect("http");
    let head = format!(
        "POST /hold HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        len + 9
    );
    tcp.write_all(head.as_bytes()).await.expect("head");
    // A 503 comes before the body is read: writing may then fail.
    let _ = tcp.write_all(b"{\"s\": \"").await;
    let block = vec![b'x'; MIB];
    for _ in 0..63 {
        if tcp.write_all(&block).await.is_err() {
            break;
        }
    }
    let _ = tcp.write_all(b"\"}").await;
    let mut reply = Vec::new();
    let _ = tcp.read_to_end(&mut reply).await;
    let reply = String::from_utf8_lossy(&reply);
    let status = reply.lines().next().unwrap_or_default().to_string();
    let body: String = reply
        .rsplit("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .chars()
        .take(60)
        .collect();
    format!("{status} {body}")
}
