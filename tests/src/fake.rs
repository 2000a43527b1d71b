//! A scripted engine for wire-level tests: it records every frame a worker
//! sends and answers only what the test tells it to.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use iii_protocol::{self as protocol, InvocationResult, Message, WorkerRegistered};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answer `engine::workers::register` and pings, like the engine.
    Normal,
    /// Answer the register call, then never send anything again.
    SilentAfterRegister,
    /// Never answer the register call (so `connect` never completes).
    NoAnswerToRegister,
    /// Like `Normal`, but reading each `registertrigger` holds the
    /// connection for this long, as an engine that applies bindings one
    /// at a time and slowly (iii 0.23 with many HTTP routes).
    Paced(Duration),
    /// Like `Normal` until it has read this many `registertrigger`s, then
    /// silent, as an engine stuck applying one.
    SilentAfterBindings(usize),
}

/// What one connection did.
#[derive(Debug, Default, Clone)]
pub struct Connection {
    /// The upgrade request's path and query.
    pub path: String,
    /// Upgrade request headers, names lowercased.
    pub headers: BTreeMap<String, String>,
    /// Every frame received, decoded (undecodable ones as `None`).
    pub frames: Vec<Option<Message>>,
    /// When each frame of `frames` arrived.
    pub arrived: Vec<Instant>,
    /// The worker closed or dropped the socket.
    pub closed: bool,
}

/// The fake engine.
pub struct FakeEngine {
    /// `ws://127.0.0.1:port`.
    pub url: String,
    connections: Arc<Mutex<Vec<Connection>>>,
    /// Frames to push to the newest connection.
    push: mpsc::UnboundedSender<Frame>,
    /// Bump to drop every live connection without a Close frame.
    drop_all: watch::Sender<u32>,
    /// How long to wait before welcoming the next connections.
    welcome_delay: Arc<Mutex<Duration>>,
    /// The feature tokens the next connections are welcomed with.
    features: Arc<Mutex<Vec<String>>>,
}

impl FakeEngine {
    /// Starts listening on an ephemeral loopback port.
    pub async fn start(mode: Mode) -> FakeEngine {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("ws://{}", listener.local_addr().expect("addr"));
        let connections: Arc<Mutex<Vec<Connection>>> = Arc::default();
        let (push, push_rx) = mpsc::unbounded_channel::<Frame>();
        let push_rx = Arc::new(tokio::sync::Mutex::new(push_rx));
        let (drop_all, _) = watch::channel(0u32);
        let dropper = drop_all.clone();
        let conns = connections.clone();
        let welcome_delay: Arc<Mutex<Duration>> = Arc::default();
        let delay = welcome_delay.clone();
        let features: Arc<Mutex<Vec<String>>> = Arc::default();
        let announced = features.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while let Ok((stream, _)) = listener.accept().await {
                n += 1;
                let conns = conns.clone();
                let push_rx = push_rx.clone();
                let mut dropped = dropper.subscribe();
                let delay = *delay.lock().expect("lock");
                let features = announced.lock().expect("lock").clone();
                tokio::spawn(async move {
                    let headers = Arc::new(Mutex::new(BTreeMap::new()));
                    let seen = headers.clone();
                    let path = Arc::new(Mutex::new(String::new()));
                    let seen_path = path.clone();
                    // The callback's type is fixed by tungstenite.
                    #[allow(clippy::result_large_err)]
                    let record = move |req: &Request, res: Response| {
                        *seen_path.lock().expect("lock") = req.uri().to_string();
                        let mut h = seen.lock().expect("lock");
                        for (k, v) in req.headers() {
                            h.insert(
                                k.as_str().to_string(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            );
                        }
                        Ok(res)
                    };
                    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, record).await
                    else {
                        return;
                    };
                    let index = {
                        let mut all = conns.lock().expect("lock");
                        all.push(Connection {
                            path: path.lock().expect("lock").clone(),
                            headers: headers.lock().expect("lock").clone(),
                            frames: Vec::new(),
                            arrived: Vec::new(),
                            closed: false,
                        });
                        all.len() - 1
                    };
                    tokio::time::sleep(delay).await;
                    let welcome = Message::WorkerRegistered(WorkerRegistered {
                        worker_id: format!("w-{n}"),
                        reattach_token: Some(format!("t-{n}")),
                        features,
                    });
                    let _ = ws
                        .send(Frame::text(protocol::encode(&welcome).expect("encode")))
                        .await;
                    let mut silent = false;
                    let mut bindings = 0;
                    loop {
                        tokio::select! {
                            frame = ws.next() => {
                                let Some(Ok(frame)) = frame else {
                                    conns.lock().expect("lock")[index].closed = true;
                                    return;
                                };
                                let Frame::Text(text) = frame else { continue };
                                let message = protocol::decode(&text).ok();
                                {
                                    let mut all = conns.lock().expect("lock");
                                    all[index].frames.push(message.clone());
                                    all[index].arrived.push(Instant::now());
                                }
                                if matches!(message, Some(Message::RegisterTrigger(_))) {
                                    bindings += 1;
                                    silent |= mode == Mode::SilentAfterBindings(bindings);
                                }
                                if silent { continue; }
                                if let (Mode::Paced(pace), Some(Message::RegisterTrigger(_))) = (mode, &message) {
                                    tokio::time::sleep(pace).await;
                                }
                                let reply = match message {
                                    Some(Message::Ping) => Some(Message::Pong),
                                    Some(Message::InvokeFunction(i)) if i.function_id == "engine::workers::register" && mode != Mode::NoAnswerToRegister => {
                                        if mode == Mode::SilentAfterRegister {
                                            silent = true;
                                        }
                                        i.invocation_id.map(|id| {
                                            Message::InvocationResult(InvocationResult::new(
                                                id,
                                                i.function_id.clone(),
                                                Ok(json!({"success": true})),
                                            ))
                                        })
                                    }
                                    _ => None,
                                };
                                if let Some(reply) = reply {
                                    let _ = ws.send(Frame::text(protocol::encode(&reply).expect("encode"))).await;
                                }
                            }
                            pushed = async { push_rx.lock().await.recv().await } => {
                                let Some(frame) = pushed else { return };
                                let _ = ws.send(frame).await;
                            }
                            _ = dropped.changed() => return,
                        }
                    }
                });
            }
        });
        FakeEngine {
            url,
            connections,
            push,
            drop_all,
            welcome_delay,
            features,
        }
    }

    /// What every connection so far did.
    pub fn connections(&self) -> Vec<Connection> {
        self.connections.lock().expect("lock").clone()
    }

    /// Runs `f` on connection `index` (if there is one) without copying it.
    pub fn inspect<R>(&self, index: usize, f: impl FnOnce(Option<&Connection>) -> R) -> R {
        f(self.connections.lock().expect("lock").get(index))
    }

    /// Sends a raw text frame to the newest live connection.
    pub fn push(&self, text: impl Into<String>) {
        let _ = self.push.send(Frame::text(text.into()));
    }

    /// Sends WebSocket frames as given (fragments of one message, say) to
    /// the newest live connection, in order.
    pub fn push_frames(&self, frames: impl IntoIterator<Item = Frame>) {
        for frame in frames {
            let _ = self.push.send(frame);
        }
    }

    /// Welcomes connections accepted from now on with these feature
    /// tokens, as engines from 0.25 do.
    pub fn announce(&self, features: &[&str]) {
        *self.features.lock().expect("lock") = features.iter().map(|f| f.to_string()).collect();
    }

    /// Welcomes connections accepted from now on only after `delay`.
    pub fn delay_welcome(&self, delay: Duration) {
        *self.welcome_delay.lock().expect("lock") = delay;
    }

    /// Drops every live connection abruptly (no Close frame).
    pub fn drop_connections(&self) {
        self.drop_all.send_modify(|n| *n += 1);
    }

    /// Waits until connection `index` has recorded a frame matching `pred`.
    pub async fn wait_frame(
        &self,
        index: usize,
        what: &str,
        pred: impl Fn(&Message) -> bool,
    ) -> Message {
        crate::eventually(Duration::from_secs(5), what, || {
            let found = self
                .connections()
                .get(index)
                .and_then(|c| c.frames.iter().flatten().find(|m| pred(m)).cloned());
            async move { found }
        })
        .await
    }
}

impl FakeEngine {
    /// Waits until connection `index` has answered an invocation of
    /// `function_id`, and returns that answer.
    pub async fn wait_result(
        &self,
        index: usize,
        function_id: &str,
    ) -> iii_protocol::InvocationResult {
        let what = format!("an answer for `{function_id}`");
        let found = self
            .wait_frame(
                index,
                &what,
                |m| matches!(m, Message::InvocationResult(r) if r.function_id == function_id),
            )
            .await;
        match found {
            Message::InvocationResult(result) => result,
            other => panic!("expected an invocationresult, got {other:?}"),
        }
    }
}

/// A reconnect policy that retries within milliseconds.
pub fn fast_reconnect() -> iii::ReconnectPolicy {
    iii::ReconnectPolicy {
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..iii::ReconnectPolicy::default()
    }
}

/// Drops the worker's connection and waits until it has noticed and
/// connected again.
pub async fn cut_and_reconnect(fake: &FakeEngine, worker: &iii::Worker) {
    use iii::ConnectionState;
    fake.drop_connections();
    worker
        .wait_for_state(ConnectionState::Reconnecting, Duration::from_secs(5))
        .await
        .expect("noticed");
    worker
        .wait_connected(Duration::from_secs(5))
        .await
        .expect("reconnected");
}

/// The `type` tag of a message, for comparing frame sequences.
pub fn kind(message: &Message) -> String {
    let value: Value = serde_json::to_value(message).expect("json");
    value["type"].as_str().unwrap_or_default().to_string()
}

/// A worker on `fake` that reconnects quickly.
pub async fn reconnecting_worker(fake: &FakeEngine, name: &str) -> iii::Worker {
    iii::Worker::builder()
        .url(&fake.url)
        .name(name)
        .reconnect(fast_reconnect())
        .connect()
        .await
        .expect("connect")
}
