//! Spans to the engine: OTLP/JSON `ExportTraceServiceRequest`s in binary
//! frames prefixed `OTLP`, on the engine's `/otel` socket (a connection
//! of its own, never a worker), as the official SDKs send them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{KeyValue, Value as OtelValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::worker::Worker;

/// Frames waiting for the socket, at most; an export finding the queue
/// full fails (the batch processor reports it) rather than grow it.
const QUEUE: usize = 256;

/// The engine's telemetry socket, on the worker port.
const PATH: &str = "/otel";

/// What the socket task is asked to do.
pub(crate) enum Command {
    /// A frame, shared by its retries.
    Send(bytes::Bytes),
    /// Answer once every frame queued before has been written (or given
    /// up on): `false` if any since the last flush was dropped.
    Flush(oneshot::Sender<bool>),
}

/// A [`SpanExporter`] that sends spans to a worker's engine.
#[derive(Debug)]
pub struct EngineExporter {
    commands: mpsc::Sender<Command>,
    resource: Vec<Value>,
}

impl EngineExporter {
    /// An exporter to `worker`'s engine. Its socket is served by a task
    /// on the current tokio runtime, which it must be called from.
    pub fn new(worker: &Worker) -> Result<EngineExporter, crate::Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            crate::Error::invalid(
                "OpenTelemetry exporter",
                "it serves its socket from a tokio runtime; create it inside one (the worker's)",
            )
        })?;
        let (commands, queued) = mpsc::channel(QUEUE);
        runtime.spawn(send_frames(worker.channel_endpoint(), queued));
        Ok(EngineExporter {
            commands,
            resource: Vec::new(),
        })
    }

    /// A handle that asks the socket task to flush.
    pub(crate) fn flusher(&self) -> mpsc::Sender<Command> {
        self.commands.clone()
    }
}

impl SpanExporter for EngineExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let mut frame = b"OTLP".to_vec();
        let request = request(&self.resource, batch);
        serde_json::to_writer(&mut frame, &request)
            .map_err(|e| OTelSdkError::InternalFailure(format!("encoding spans: {e}")))?;
        self.commands.try_send(Command::Send(frame.into())).map_err(|e| {
            warn_dropped(&format!(
                "spans not sent to the engine ({e}): its telemetry socket is {QUEUE} batches behind or gone"
            ));
            OTelSdkError::InternalFailure(e.to_string())
        })
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource
            .iter()
            .map(|(k, v)| key_value(k.as_str(), v))
            .collect();
    }
}

/// A warning for dropped spans: the first, then one per hundred.
fn warn_dropped(what: &str) {
    static DROPPED: AtomicU64 = AtomicU64::new(0);
    let n = DROPPED.fetch_add(1, Ordering::Relaxed);
    if n.is_multiple_of(100) {
        tracing::warn!(dropped = n + 1, "{what}");
    }
}

/// Serves the `/otel` socket: connects when there is a frame to send,
/// reads what the engine sends meanwhile (its Close, or an RBAC refusal)
/// so a dead socket is dropped before a frame is written into it, and
/// tries each frame on up to three connections, a second apart.
async fn send_frames(endpoint: crate::channel::Endpoint, mut queued: mpsc::Receiver<Command>) {
    let url = endpoint.url(PATH);
    let mut socket: Option<Socket> = None;
    let mut dropped_since_flush = false;
    loop {
        let command = tokio::select! {
            command = queued.recv() => command,
            incoming = async { socket.as_mut()?.next().await }, if socket.is_some() => {
                if let Some(why) = ended(incoming) {
                    tracing::debug!(url, "the engine's telemetry socket ended: {why}");
                    socket = None;
                }
                continue;
            }
        };
        let frame = match command {
            None => break,
            Some(Command::Flush(done)) => {
                let _ = done.send(!std::mem::take(&mut dropped_since_flush));
                continue;
            }
            Some(Command::Send(frame)) => frame,
        };
        let mut sent = false;
        for attempt in 0..3 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            if socket.is_none() {
                socket = connect(&endpoint).await;
            }
            let Some(open) = socket.as_mut() else {
                continue;
            };
            match open.send(Frame::binary(frame.clone())).await {
                Ok(()) => {
                    sent = true;
                    break;
                }
                Err(e) => {
                    tracing::debug!(attempt, "the engine's telemetry socket failed: {e}");
                    socket = None;
                }
            }
        }
        if !sent {
            dropped_since_flush = true;
            warn_dropped(&format!(
                "spans could not be sent to the engine at {url} after 3 attempts; dropped"
            ));
        }
    }
    if let Some(mut open) = socket {
        let _ = open.close(None).await;
    }
}

/// Why a frame from the engine ends the socket (all do: the engine sends
/// nothing on `/otel` but its Close, or a refusal before it).
fn ended(incoming: Option<Result<Frame, tokio_tungstenite::tungstenite::Error>>) -> Option<String> {
    match incoming {
        Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => None,
        Some(Ok(Frame::Text(text))) => {
            tracing::warn!("the engine refused the telemetry socket: {}", text.as_str());
            Some("refused".into())
        }
        Some(Ok(other)) => Some(format!("{other:?}")),
        Some(Err(e)) => Some(e.to_string()),
        None => Some("closed".into()),
    }
}

use crate::tls::Socket;

/// The engine's telemetry socket, or `None` (warned about) if it cannot
/// be opened.
async fn connect(endpoint: &crate::channel::Endpoint) -> Option<Socket> {
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    match endpoint.dial(PATH, config).await {
        Some(Ok(socket)) => Some(socket),
        Some(Err(e)) => {
            warn_dropped(&format!(
                "could not open the engine's telemetry socket at {}: {e}",
                endpoint.url(PATH)
            ));
            None
        }
        None => None,
    }
}

fn nanos(time: SystemTime) -> String {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
        .to_string()
}

fn any_value(value: &OtelValue) -> Value {
    match value {
        OtelValue::Bool(b) => json!({"boolValue": b}),
        OtelValue::I64(i) => json!({"intValue": i.to_string()}),
        OtelValue::F64(f) => json!({"doubleValue": f}),
        OtelValue::String(s) => json!({"stringValue": s.as_str()}),
        OtelValue::Array(a) => json!({"stringValue": a.to_string()}),
        other => json!({"stringValue": other.to_string()}),
    }
}

fn key_value(key: &str, value: &OtelValue) -> Value {
    json!({"key": key, "value": any_value(value)})
}

fn attributes(attributes: &[KeyValue]) -> Vec<Value> {
    attributes
        .iter()
        .map(|kv| key_value(kv.key.as_str(), &kv.value))
        .collect()
}

/// OTLP's span kind numbers.
fn kind(kind: &SpanKind) -> u8 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn span(span: &SpanData) -> Value {
    let parent = span.parent_span_id;
    let status = match &span.status {
        Status::Unset => json!({"code": 0}),
        Status::Ok => json!({"code": 1}),
        Status::Error { description } => json!({"code": 2, "message": description}),
    };
    let events: Vec<Value> = span
        .events
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "timeUnixNano": nanos(e.timestamp),
                "attributes": attributes(&e.attributes),
            })
        })
        .collect();
    json!({
        "traceId": span.span_context.trace_id().to_string(),
        "spanId": span.span_context.span_id().to_string(),
        "parentSpanId": if parent == opentelemetry::trace::SpanId::INVALID { String::new() } else { parent.to_string() },
        "flags": span.span_context.trace_flags().to_u8(),
        "name": span.name,
        "kind": kind(&span.span_kind),
        "startTimeUnixNano": nanos(span.start_time),
        "endTimeUnixNano": nanos(span.end_time),
        "attributes": attributes(&span.attributes),
        "events": events,
        "status": status,
    })
}

/// One `ExportTraceServiceRequest`, the spans grouped by their scope.
fn request(resource: &[Value], batch: Vec<SpanData>) -> Value {
    let mut scopes: Vec<(String, Option<String>, Vec<Value>)> = Vec::new();
    for data in &batch {
        let name = data.instrumentation_scope.name().to_string();
        let version = data.instrumentation_scope.version().map(|v| v.to_string());
        match scopes
            .iter_mut()
            .find(|(n, v, _)| *n == name && *v == version)
        {
            Some((_, _, spans)) => spans.push(span(data)),
            None => scopes.push((name, version, vec![span(data)])),
        }
    }
    let scope_spans: Vec<Value> = scopes
        .into_iter()
        .map(|(name, version, spans)| {
            let scope = match version {
                Some(version) => json!({"name": name, "version": version}),
                None => json!({"name": name}),
            };
            json!({"scope": scope, "spans": spans})
        })
        .collect();
    json!({
        "resourceSpans": [{
            "resource": {"attributes": resource},
            "scopeSpans": scope_spans,
        }]
    })
}
