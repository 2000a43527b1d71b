//! Observability, as the engine's observability module serves it: logs
//! ([`logs`]: `engine::log::*`, `engine::logs::list`, `log` triggers),
//! spans ([`spans`]: `engine::traces::{list,tree}`), and the telemetry
//! workers send ([`otlp`]), on the `/otel` socket or on their own socket.

mod logs;
mod otlp;
mod spans;

use std::sync::Arc;

use futures_util::StreamExt;
use iii_protocol::TriggerKind;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::core::{Core, EngineModule, Function, Refusal, Socket, SocketTask, TriggerType};
use logs::{LEVELS, LogStore};
use spans::SpanStore;

/// The telemetry socket's path on the worker port.
const OTEL_PATH: &str = "/otel";

/// The observability module: the stored log records and spans.
#[derive(Default)]
pub(crate) struct Observability {
    logs: LogStore,
    spans: SpanStore,
}

impl EngineModule for Observability {
    fn name(&self) -> &'static str {
        "iii-observability"
    }

    fn functions(self: Arc<Self>) -> Vec<Function> {
        let levels = LEVELS.map(|level| {
            Function::now(level.function_id, &self, move |o, core, line| {
                o.logs.log(core, level, line)
            })
        });
        let lists = [
            Function::now("engine::logs::list", &self, |o, _, query| {
                o.logs.list(query)
            }),
            Function::now("engine::traces::list", &self, |o, _, query| {
                o.spans.list(query)
            }),
            Function::now("engine::traces::tree", &self, |o, _, id| o.spans.tree(id)),
            Function::now("engine::health::check", &self, |o, _, _: NoInput| {
                Ok(o.health())
            }),
        ];
        levels.into_iter().chain(lists).collect()
    }

    fn trigger_types(self: Arc<Self>) -> Vec<TriggerType> {
        vec![TriggerType::new(TriggerKind::Log)]
    }

    fn socket(self: Arc<Self>, path: &str, _query: &str) -> Option<Result<SocketTask, Refusal>> {
        if path != OTEL_PATH {
            return None;
        }
        Some(Ok(Box::new(move |core, socket| {
            Box::pin(self.serve_telemetry(core, socket))
        })))
    }

    fn worker_frame(&self, core: &Arc<Core>, frame: &[u8]) -> bool {
        otlp::ingest(&self.logs, &self.spans, core, frame)
    }
}

/// The input of a function that takes none: any object (`null` fails, as
/// in the engine).
#[derive(Deserialize)]
struct NoInput {}

impl Observability {
    /// `engine::health::check`, in the engine's shape: telemetry on, kept
    /// in memory; logs and spans stored; no metrics (iii-embedded keeps
    /// none).
    fn health(&self) -> Value {
        let healthy = |details: Value| json!({"status": "healthy", "details": details});
        json!({
            "status": "healthy",
            "components": {
                "otel": healthy(json!({"enabled": true, "exporter": "Some(Memory)", "service_name": "iii-embedded"})),
                "metrics": {"status": "disabled", "details": null},
                "logs": healthy(json!({"stored_logs": self.logs.len()})),
                "spans": healthy(json!({"stored_spans": self.spans.len()})),
            },
            "timestamp": crate::clock::now_ms(),
            "version": env!("CARGO_PKG_VERSION"),
        })
    }

    /// Serves a `/otel` socket: telemetry frames until it closes.
    async fn serve_telemetry(self: Arc<Self>, core: Arc<Core>, mut socket: Socket) {
        while let Some(Ok(frame)) = socket.next().await {
            match frame {
                Frame::Binary(bytes) if !otlp::ingest(&self.logs, &self.spans, &core, &bytes) => {
                    tracing::warn!("dropping a binary frame on /otel that is not telemetry");
                }
                Frame::Close(_) => return,
                _ => {}
            }
        }
    }
}
