//! Opening a session: dial, read `workerregistered`, start the tasks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use iii_protocol::{Message, WorkerRegistered};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::{End, Fatal, Inbound, Keepalive, Session, Socket, inbound, outbound, preview};
use crate::error::Error;

/// Bytes read from the socket per read call. tungstenite zero-fills its
/// whole read window before every read (128 KiB by default); frames are
/// mostly under 1 KiB, so a smaller window saves that memset on each
/// wake-up. Larger frames still arrive whole: the buffer grows to the
/// frame's announced length.
const READ_BUFFER: usize = 16 * 1024;

/// The largest frame or message read from the engine: its own message
/// limit. The engine forwards a caller's payload with fields added, so a
/// frame just under its 16 MiB frame limit can reach us a little over it.
const MAX_INBOUND: usize = iii_protocol::channel::ENGINE_MAX_ITEM;

/// What opening a session needs.
#[derive(Debug, Clone)]
pub(crate) struct Settings<'a> {
    pub(crate) url: &'a str,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) connector: crate::tls::Connector,
    /// The rules of the frames sent.
    pub(crate) rules: super::Rules,
    pub(crate) keepalive: Keepalive,
}

/// Why opening a session failed.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Worth another attempt (refused, dropped, timed out).
    Retry(Error),
    /// The URL is unusable or the engine refused this worker; never retry.
    Fatal(Error),
}

/// A session whose socket is open and welcomed, but not read yet: the
/// caller sends its first frames (`reattach`, the replay) before
/// [`Opened::start`], so nothing the session answers on its own (a pong,
/// a keepalive ping) can go ahead of them.
pub(crate) struct Opened {
    pub(crate) session: Session,
    pub(crate) welcome: WorkerRegistered,
    stream: SplitStream<Socket>,
    keepalive: Keepalive,
}

impl Opened {
    /// Starts reading; the handle returns why the session ended.
    pub(crate) fn start(self, handler: Arc<dyn Inbound>) -> JoinHandle<End> {
        tokio::spawn(inbound::read_loop(
            self.stream,
            self.session,
            handler,
            self.keepalive,
        ))
    }
}

/// Dials the engine and reads its welcome. The session's writer runs; its
/// reader starts with [`Opened::start`].
pub(crate) async fn open(settings: Settings<'_>, timeout: Duration) -> Result<Opened, OpenError> {
    let started = Instant::now();
    let mut socket = dial(&settings, timeout).await?;
    let remaining = timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(100));
    let welcome = read_welcome(&mut socket, remaining, settings.url).await?;
    let (sink, stream) = socket.split();
    let session = Session::new(sink, settings.rules);
    tokio::spawn(outbound::background(session.clone()));
    tokio::spawn(super::deadlines::watch(session.clone()));
    Ok(Opened {
        session,
        welcome,
        stream,
        keepalive: settings.keepalive,
    })
}

async fn dial(settings: &Settings<'_>, timeout: Duration) -> Result<Socket, OpenError> {
    let url = settings.url;
    let mut request = url.into_client_request().map_err(|e| {
        OpenError::Fatal(Error::InvalidUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })
    })?;
    for (name, value) in settings.headers {
        let name = HeaderName::from_bytes(name.as_bytes());
        let value = HeaderValue::from_str(value);
        match (name, value) {
            (Ok(name), Ok(value)) => {
                request.headers_mut().append(name, value);
            }
            // The builder checks every header; this is only a safeguard.
            _ => {
                return Err(OpenError::Fatal(Error::invalid(
                    "handshake header",
                    "a header name or value cannot be sent",
                )));
            }
        }
    }
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_frame_size(Some(MAX_INBOUND))
        .max_message_size(Some(MAX_INBOUND));
    let dialled =
        tokio::time::timeout(timeout, settings.connector.connect(request, ws_config)).await;
    let retry = |reason: String| {
        OpenError::Retry(Error::Connect {
            url: url.to_string(),
            reason,
        })
    };
    match dialled {
        Ok(Ok((socket, _response))) => Ok(socket),
        // No retry makes an untrusted certificate trusted.
        Ok(Err(e)) if crate::tls::is_certificate_error(&e) => {
            Err(OpenError::Fatal(Error::Connect {
                url: url.to_string(),
                reason: format!(
                    "{e}; trust the engine's CA with `WorkerBuilder::tls_root_certificate` or III_TLS_CA_FILE"
                ),
            }))
        }
        Ok(Err(WsError::Http(response))) => match upgrade_refused(response.status().as_u16()) {
            Some(reason) => Err(OpenError::Fatal(Error::Connect {
                url: url.to_string(),
                reason,
            })),
            None => Err(retry(format!(
                "the upgrade was answered with HTTP {}",
                response.status()
            ))),
        },
        Ok(Err(e)) => Err(retry(e.to_string())),
        Err(_) => Err(retry(format!("no answer within {timeout:?}"))),
    }
}

/// Why an upgrade answered with HTTP `status` is worth no retry, if it
/// is not: a 4xx but for a timeout or throttling. The usual cause is an
/// address of the wrong listener.
fn upgrade_refused(status: u16) -> Option<String> {
    let says = format!("the server answered the WebSocket upgrade with HTTP {status}");
    match status {
        401 | 403 => Some(format!(
            "{says}: it refused this worker's credentials (`WorkerBuilder::bearer_token`, III_TOKEN or III_AUTH_TOKEN, III_HEADERS)"
        )),
        408 | 429 => None,
        400..=499 => Some(format!(
            "{says}, as an HTTP listener does (the engine's REST API for http triggers is one, on 3111 by default): workers connect to the engine's worker socket, ws://<host>:49134 by default (the `port` of its `iii-worker-manager`)"
        )),
        _ => None,
    }
}

/// Reads the engine's first frame, `workerregistered`.
async fn read_welcome(
    socket: &mut Socket,
    timeout: Duration,
    url: &str,
) -> Result<WorkerRegistered, OpenError> {
    let retry = |reason: String| {
        OpenError::Retry(Error::Connect {
            url: url.to_string(),
            reason,
        })
    };
    let closed = "the engine closed the socket before `workerregistered`";
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let frame = match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => {
                return Err(retry(format!(
                    "the socket opened, but no `workerregistered` frame came within {timeout:?} (on an RBAC worker socket, the engine waits for its auth function's answer first: is the worker that serves it connected, and does it answer?)"
                )));
            }
            Ok(None) => return Err(retry(closed.into())),
            Ok(Some(Err(e))) => return Err(retry(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let text = match &frame {
            Frame::Text(t) => t.as_str(),
            // The engine writes text; binary JSON is read as the reader does.
            Frame::Binary(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => continue,
            },
            Frame::Close(_) => return Err(retry(closed.into())),
            _ => continue,
        };
        match iii_protocol::decode(text) {
            Ok(Message::WorkerRegistered(welcome)) => return Ok(welcome),
            Ok(Message::Error(refused)) => {
                return Err(OpenError::Fatal(
                    Fatal::Refused(refused.error).to_error(url),
                ));
            }
            _ => tracing::debug!(
                "ignoring a frame before `workerregistered`: {}",
                preview(text)
            ),
        }
    }
}
