//! The floor: a bare protocol client, one task per socket, no locks, no
//! spawns, ids without system calls, the SDK's socket settings (no Nagle,
//! 16 KiB reads), and frames queued while more are ready and flushed
//! together. Shared by the benchmarks that compare the SDK with it.

use futures_util::{FutureExt, SinkExt, StreamExt};
use iii_protocol::{self as protocol, InvocationResult, InvokeFunction, Message};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use uuid::Uuid;

/// A bare client's socket.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects, reads `workerregistered`, sends `registrations`, announces the
/// worker as `name`, and returns once the engine has answered that.
pub async fn bare_connect(url: &str, name: &str, registrations: Vec<Message>) -> Socket {
    let frames = registrations
        .iter()
        .map(|m| protocol::encode(m).expect("encode"))
        .collect();
    bare_connect_frames(url, name, frames).await
}

/// [`bare_connect`] with the registrations already encoded. They and the
/// announcement are written with one flush.
pub async fn bare_connect_frames(url: &str, name: &str, frames: Vec<String>) -> Socket {
    // The same socket settings as the SDK: no Nagle, 16 KiB reads.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .expect("connect");
    let _welcome = socket.next().await.expect("welcome").expect("frame");
    let id = Uuid::new_v4();
    let announce = Message::InvokeFunction(InvokeFunction::new(
        Some(id),
        "engine::workers::register",
        json!({"name": name, "pid": std::process::id()}),
    ));
    let announce = protocol::encode(&announce).expect("encode");
    for frame in frames.into_iter().chain([announce]) {
        socket.feed(Frame::text(frame)).await.expect("send");
    }
    socket.flush().await.expect("send");
    // Wait for the register answer.
    while let Some(Ok(frame)) = socket.next().await {
        if let Frame::Text(text) = frame
            && let Ok(Message::InvocationResult(r)) = protocol::decode(&text)
            && r.invocation_id == id
        {
            break;
        }
    }
    socket
}

/// The bare callee: answers every invocation inline with its own input,
/// until the socket closes. Answers to frames already read are queued, and
/// flushed once no more frames are ready.
pub async fn bare_callee(mut socket: Socket) {
    while let Some(Ok(frame)) = socket.next().await {
        let mut next = Some(frame);
        while let Some(frame) = next.take() {
            if let Some(reply) = bare_answer(frame)
                && socket.feed(reply).await.is_err()
            {
                return;
            }
            if let Some(Some(Ok(frame))) = socket.next().now_or_never() {
                next = Some(frame);
            }
        }
        if socket.flush().await.is_err() {
            return;
        }
    }
}

/// The echo reply to one invocation frame, if it asks for one.
pub fn bare_answer(frame: Frame) -> Option<Frame> {
    let Frame::Text(text) = frame else {
        return None;
    };
    let Ok(Message::InvokeFunction(invoke)) = protocol::decode(&text) else {
        return None;
    };
    let id = invoke.invocation_id?;
    let mut data = invoke.data;
    if let Value::Object(map) = &mut data {
        map.remove(iii_protocol::CALLER_WORKER_ID);
    }
    let reply = Message::InvocationResult(InvocationResult::new(id, invoke.function_id, Ok(data)));
    Some(Frame::text(protocol::encode(&reply).expect("encode")))
}

/// A fresh invocation id without a system call: a random base plus a counter
/// (the SDK draws its ids the same way).
pub fn next_id() -> Uuid {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static BASE: OnceLock<u128> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(|| Uuid::new_v4().as_u128());
    Uuid::from_u128(base ^ u128::from(COUNTER.fetch_add(1, Ordering::Relaxed)))
}

/// An `invokefunction` frame calling `function` with `data`, answered.
pub fn invoke_frame(id: Uuid, function: &str, data: &Value) -> Frame {
    Frame::text(
        protocol::encode(&Message::InvokeFunction(InvokeFunction::new(
            Some(id),
            function,
            data.clone(),
        )))
        .expect("encode"),
    )
}
