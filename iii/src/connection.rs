//! The socket: opening a session, reading and writing frames, keepalive,
//! and reconnecting with backoff.
//!
//! A session is one WebSocket connection. Opening one: dial, read
//! `workerregistered`, send `reattach` (after a reconnect), replay every
//! registration, then call `engine::workers::register` and wait for its
//! answer. The reader task owns the session's end: it detaches the outbound
//! queue and fails every pending call, so no call is left waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::Error;
use crate::outbound::Outbound;
use crate::worker::{ConnectionState, Failure, Inner, Worker, encode_frame, lock};
use iii_protocol::{self as protocol, Message, Reattach};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why opening a session failed.
pub(crate) enum OpenError {
    /// Worth another attempt (refused, dropped, timed out).
    Retry(Error),
    /// The engine refused this worker; never retry.
    Fatal(Error),
}

/// Why a session ended.
pub(crate) enum End {
    Lost(String),
    Fatal(Fatal),
}

/// A reason never to reconnect.
#[derive(Debug, Clone)]
pub(crate) enum Fatal {
    /// `registrationrejected` with a worker-level code.
    Rejected(protocol::RegistrationRejected),
    /// `{"type":"error"}`: the engine refused the connection.
    Refused(protocol::ErrorBody),
}

impl Fatal {
    fn to_error(&self, url: &str) -> Error {
        match self {
            Fatal::Rejected(r) => Error::Rejected(r.clone()),
            Fatal::Refused(body) => Error::Connect {
                url: url.to_string(),
                reason: format!(
                    "the engine refused the connection ({body}); check the credentials sent with `.header(..)`"
                ),
            },
        }
    }
}

/// Fails every pending call with the error `make` builds for its function.
pub(crate) fn fail_pending(inner: &Inner, make: impl Fn() -> Failure) {
    let drained: Vec<_> = lock(&inner.pending).drain().collect();
    for (_, pending) in drained {
        let _ = pending.reply.send(Err(make()));
    }
}

/// Opens the first session, retrying until the connect timeout.
pub(crate) async fn connect_first(worker: &Worker) -> Result<JoinHandle<End>, Error> {
    let config = &worker.inner.config;
    let deadline = Instant::now() + config.connect_timeout;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let error = match open_session(worker, remaining).await {
            Ok(reader) => {
                worker.inner.state.send_replace(ConnectionState::Connected);
                return Ok(reader);
            }
            Err(OpenError::Fatal(error)) => return Err(error),
            Err(OpenError::Retry(error)) => error,
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            let reason = match error {
                Error::Connect { reason, .. } => reason,
                other => other.to_string(),
            };
            return Err(Error::Connect {
                url: config.url.clone(),
                reason: format!(
                    "{reason} (gave up after {attempt} attempts in {:?})",
                    config.connect_timeout
                ),
            });
        }
        tokio::time::sleep(config.reconnect.delay(attempt).min(remaining)).await;
    }
}

/// Watches the session and reconnects until shutdown or a fatal error.
pub(crate) async fn supervise(worker: Worker, mut reader: JoinHandle<End>) {
    let inner = &worker.inner;
    let policy = inner.config.reconnect.clone();
    loop {
        let end = reader
            .await
            .unwrap_or_else(|e| End::Lost(format!("reader task ended: {e}")));
        if worker.is_shutting_down() {
            return;
        }
        let reason = match end {
            End::Fatal(fatal) => return fail(inner, fatal.to_error(&inner.config.url).to_string()),
            End::Lost(reason) => reason,
        };
        tracing::warn!(url = %inner.config.url, "connection to the engine lost: {reason}; reconnecting");
        inner.state.send_replace(ConnectionState::Reconnecting);
        let mut attempt = 0u32;
        reader = loop {
            if policy.max_attempts.is_some_and(|max| attempt >= max) {
                return fail(
                    inner,
                    format!("{reason}; gave up after {attempt} reconnect attempts"),
                );
            }
            attempt += 1;
            let mut shutdown = inner.shutdown.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(policy.delay(attempt)) => {}
                _ = crate::worker::until(&mut shutdown, |s| *s) => return,
            }
            match open_session(&worker, inner.config.connect_timeout).await {
                Ok(reader) => {
                    tracing::info!(url = %inner.config.url, attempt, "reconnected to the engine");
                    inner.state.send_replace(ConnectionState::Connected);
                    break reader;
                }
                Err(OpenError::Fatal(error)) => return fail(inner, error.to_string()),
                Err(OpenError::Retry(error)) => {
                    tracing::debug!(attempt, "reconnect failed: {error}");
                }
            }
        };
    }
}

fn fail(inner: &Inner, reason: String) {
    tracing::error!(url = %inner.config.url, "worker stopped for good: {reason}");
    *lock(&inner.failure) = Some(reason);
    inner.state.send_replace(ConnectionState::Failed);
}

async fn dial(worker: &Worker, timeout: Duration) -> Result<Socket, OpenError> {
    let config = &worker.inner.config;
    let connect_error = |reason: String| {
        OpenError::Retry(Error::Connect {
            url: config.url.clone(),
            reason,
        })
    };
    let mut request = config.url.as_str().into_client_request().map_err(|e| {
        OpenError::Fatal(Error::InvalidUrl {
            url: config.url.clone(),
            reason: e.to_string(),
        })
    })?;
    for (name, value) in &config.headers {
        // Both were validated when the worker was built.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            request.headers_mut().append(name, value);
        }
    }
    // tungstenite zero-fills `read_buffer_size` bytes before every socket
    // read (128 KiB by default); frames are mostly under 1 KiB, so a smaller
    // window saves that memset on each wake-up. Larger frames still arrive
    // whole: the buffer grows to the frame's announced length.
    let ws_config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let dialled = tokio::time::timeout(
        timeout,
        tokio_tungstenite::connect_async_with_config(request, Some(ws_config), true),
    )
    .await;
    match dialled {
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(e)) => Err(connect_error(e.to_string())),
        Err(_) => Err(connect_error(format!("no answer within {timeout:?}"))),
    }
}

/// Bytes read from the socket per read call.
const READ_BUFFER: usize = 16 * 1024;

/// Reads the engine's first frame, `workerregistered`.
async fn read_welcome(
    socket: &mut Socket,
    timeout: Duration,
    url: &str,
) -> Result<protocol::WorkerRegistered, OpenError> {
    let retry = |reason: String| {
        OpenError::Retry(Error::Connect {
            url: url.to_string(),
            reason,
        })
    };
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let frame = match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => {
                return Err(retry(format!(
                    "no `workerregistered` frame within {timeout:?}"
                )));
            }
            Ok(None) => {
                return Err(retry(
                    "the engine closed the socket before `workerregistered`".into(),
                ));
            }
            Ok(Some(Err(e))) => return Err(retry(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let text = match &frame {
            Frame::Text(t) => t.as_str(),
            Frame::Close(_) => {
                return Err(retry(
                    "the engine closed the socket before `workerregistered`".into(),
                ));
            }
            _ => continue,
        };
        match protocol::decode(text) {
            Ok(Message::WorkerRegistered(welcome)) => return Ok(welcome),
            Ok(Message::Error(refused)) => {
                return Err(OpenError::Fatal(
                    Fatal::Refused(refused.error).to_error(url),
                ));
            }
            _ => tracing::debug!("ignoring a frame before `workerregistered`: {text}"),
        }
    }
}

/// Opens one session: dial, welcome, reattach, replay, announce.
async fn open_session(worker: &Worker, timeout: Duration) -> Result<JoinHandle<End>, OpenError> {
    let inner = &worker.inner;
    let started = Instant::now();
    let mut socket = dial(worker, timeout).await?;
    let remaining = timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(100));
    let welcome = read_welcome(&mut socket, remaining, &inner.config.url).await?;

    let previous = std::mem::replace(
        &mut *lock(&inner.identity),
        crate::worker::Identity {
            worker_id: Some(welcome.worker_id.clone()),
            reattach_token: welcome.reattach_token.clone(),
        },
    );
    let (sink, stream) = socket.split();
    let kill = Arc::new(Notify::new());
    let tx = Outbound::new(sink, kill.clone());
    let last_seen = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();

    let session = {
        let mut link = lock(&inner.link);
        link.session += 1;
        link.pings_sent = 0;
        inner.pongs.send_replace((link.session, 0));
        // Reattach must be the first frame, then the replay.
        if let (Some(previous_worker_id), Some(token)) =
            (previous.worker_id, previous.reattach_token)
        {
            let reattach = Message::Reattach(Reattach {
                previous_worker_id,
                reattach_token: Some(token),
            });
            if let Ok(frame) = encode_frame(&reattach) {
                let _ = tx.send(frame);
            }
        }
        for message in link.registry.replay() {
            match encode_frame(&message) {
                Ok(frame) => {
                    let _ = tx.send(frame);
                }
                Err(e) => tracing::error!("could not replay a registration: {e}"),
            }
        }
        link.tx = Some(tx.clone());
        link.session
    };

    tokio::spawn(tx.clone().background());
    tx.write().await;
    let keepalive = tokio::spawn(keepalive(
        worker.clone(),
        session,
        kill.clone(),
        last_seen.clone(),
        epoch,
    ));
    let reader = tokio::spawn(read_loop(
        worker.clone(),
        stream,
        session,
        kill.clone(),
        last_seen,
        epoch,
        keepalive,
    ));

    match announce(worker, remaining).await {
        Ok(_) => Ok(reader),
        Err(error) => {
            // End the session; the reader's teardown fails anything pending.
            {
                let mut link = lock(&inner.link);
                if link.session == session {
                    link.detach();
                }
            }
            kill.notify_one();
            let end = tokio::time::timeout(Duration::from_secs(5), reader).await;
            match (end, error) {
                (Ok(Ok(End::Fatal(fatal))), _) => {
                    Err(OpenError::Fatal(fatal.to_error(&inner.config.url)))
                }
                (_, error @ Error::Rejected(_)) => Err(OpenError::Fatal(error)),
                (_, other) => Err(OpenError::Retry(other)),
            }
        }
    }
}

/// Calls `engine::workers::register` with who this worker is.
async fn announce(worker: &Worker, timeout: Duration) -> Result<Value, Error> {
    let config = &worker.inner.config;
    let mut data = json!({
        "name": config.name,
        "runtime": "rust",
        "version": crate::VERSION,
        "os": std::env::consts::OS,
        "pid": std::process::id(),
        "telemetry": {"language": "rust"},
    });
    if let Some(ns) = &config.namespace {
        data["namespace"] = json!(ns);
    }
    if let Some(description) = &config.description {
        data["description"] = json!(description);
    }
    worker
        .invoke("engine::workers::register")
        .data(data)
        .timeout(timeout)
        .call::<Value>()
        .await
}

async fn keepalive(
    worker: Worker,
    session: u64,
    kill: Arc<Notify>,
    last_seen: Arc<AtomicU64>,
    epoch: Instant,
) {
    let config = &worker.inner.config;
    let mut ticker = tokio::time::interval(config.ping_interval.max(Duration::from_millis(10)));
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let seen = Duration::from_millis(last_seen.load(Ordering::Relaxed));
        let silent = epoch.elapsed().saturating_sub(seen);
        if silent >= config.idle_timeout {
            tracing::warn!("no frame from the engine for {silent:?}; dropping the connection");
            kill.notify_one();
            return;
        }
        let mut link = lock(&worker.inner.link);
        match &link.tx {
            Some(tx) if link.session == session => {
                if tx.send(String::from(crate::worker::PING)).is_ok() {
                    link.pings_sent += 1;
                }
            }
            _ => return,
        }
    }
}

async fn read_loop(
    worker: Worker,
    mut stream: futures_util::stream::SplitStream<Socket>,
    session: u64,
    kill: Arc<Notify>,
    last_seen: Arc<AtomicU64>,
    epoch: Instant,
    keepalive: JoinHandle<()>,
) -> End {
    let end = loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = kill.notified() => break End::Lost("the link went silent or could not be written".into()),
        };
        last_seen.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        let frame = match frame {
            None => break End::Lost("the engine closed the connection".into()),
            Some(Err(e)) => break End::Lost(e.to_string()),
            Some(Ok(frame)) => frame,
        };
        let text = match &frame {
            Frame::Text(text) => text.as_str(),
            Frame::Binary(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => continue,
            },
            Frame::Close(_) => break End::Lost("the engine closed the connection".into()),
            _ => continue,
        };
        if let Some(fatal) = crate::dispatch::handle_frame(&worker, session, text) {
            break End::Fatal(fatal);
        }
    };
    keepalive.abort();
    // Detach the outbound queue so nothing more is sent on this session.
    {
        let mut link = lock(&worker.inner.link);
        if link.session == session {
            link.detach();
        }
    }
    match &end {
        End::Fatal(fatal) => {
            let url = &worker.inner.config.url;
            fail_pending(&worker.inner, || Failure::Fatal(fatal.to_error(url)));
        }
        End::Lost(_) => fail_pending(&worker.inner, || Failure::Lost),
    }
    end
}
