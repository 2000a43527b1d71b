//! A `tracing` layer: the events of handlers, to the engine's logs.
//!
//! `on_event` only queues a line: sending it (which locks the worker and
//! writes the socket, and raises events of its own) happens in a task
//! that serves no invocation, so its events are never forwarded again,
//! and an event raised while the SDK holds a lock cannot deadlock it.

use std::fmt::Debug;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level as TracingLevel, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::{Level, Logger};
use crate::scope::Scope;

/// Lines waiting to be sent, at most; more are dropped (and counted).
const QUEUE: usize = 4096;

/// Targets never forwarded: the SDK's own events, and its transport's
/// (tungstenite logs every frame it writes).
const OWN_TARGETS: [&str; 3] = ["iii", "tungstenite", "tokio_tungstenite"];

/// The layer [`layer`] returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineLayer {
    _private: (),
}

/// A `tracing` layer that sends every event raised while a handler runs
/// to the engine's log functions, through the worker serving it and with
/// the invocation's trace and span ids, as a [`Logger`] line: the event's
/// message, and its other fields as the line's data (the record's
/// attributes, with `target` the event's target). Install it once at
/// start-up, beside the layers that print:
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
///
/// tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer())
///     .with(iii::logger::layer())
///     .init();
/// ```
///
/// Events outside handlers (and the SDK's own, and those of its WebSocket
/// library) stay local; in a task a handler spawns, wrap the future with
/// [`crate::Context::scoped`] for its events to count as the handler's.
/// Lines are queued and sent in order by a task of their own; past 4,096
/// waiting (an engine that does not keep up), new ones are dropped with a
/// warning. Filter it as any layer (`layer().with_filter(..)`).
pub fn layer() -> EngineLayer {
    EngineLayer::default()
}

/// One queued line.
struct Line {
    logger: Logger,
    level: Level,
    message: String,
    data: Value,
}

/// Queues a line for the task that sends them, started (again, if the
/// runtime it ran on has gone) on the runtime of the handler that logged.
/// `false` if it was dropped: the queue is full, or there is no runtime.
fn enqueue(line: Line) -> bool {
    static QUEUE_TX: Mutex<Option<mpsc::Sender<Line>>> = Mutex::new(None);
    let mut queue = crate::sync::lock(&QUEUE_TX);
    let line = match queue.as_ref() {
        Some(tx) => match tx.try_send(line) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Full(_)) => return false,
            Err(mpsc::error::TrySendError::Closed(line)) => line,
        },
        None => line,
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return false;
    };
    let (tx, mut rx) = mpsc::channel::<Line>(QUEUE);
    runtime.spawn(async move {
        while let Some(line) = rx.recv().await {
            // Not connected: the event went to the other layers already.
            let _ = line
                .logger
                .send(line.level, &line.message, Some(&line.data));
        }
    });
    let queued = tx.try_send(line).is_ok();
    *queue = Some(tx);
    queued
}

impl<S: Subscriber> Layer<S> for EngineLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if is_own(event.metadata().target()) {
            return;
        }
        // Only while an invocation is served (not while a call's result
        // is decoded elsewhere).
        let Some(scope) = Scope::current().filter(|s| s.trace.is_some()) else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        // A record bridged from the `log` crate names its real target in
        // a field (its event's target is `log`).
        let target = match fields.data.remove("log.target") {
            Some(Value::String(target)) => target,
            _ => event.metadata().target().to_string(),
        };
        if is_own(&target) {
            return;
        }
        for bridged in ["log.module_path", "log.file", "log.line"] {
            fields.data.remove(bridged);
        }
        let level = match *event.metadata().level() {
            TracingLevel::TRACE => Level::Trace,
            TracingLevel::DEBUG => Level::Debug,
            TracingLevel::INFO => Level::Info,
            TracingLevel::WARN => Level::Warn,
            TracingLevel::ERROR => Level::Error,
        };
        fields
            .data
            .entry("target")
            .or_insert_with(|| Value::String(target));
        let line = Line {
            logger: Logger::new(scope.worker, scope.trace.as_deref()),
            level,
            message: fields.message,
            data: Value::Object(fields.data),
        };
        if !enqueue(line) {
            static DROPPED: AtomicU64 = AtomicU64::new(0);
            let dropped = DROPPED.fetch_add(1, Ordering::Relaxed);
            if dropped.is_multiple_of(1000) {
                // Target `iii`: not forwarded.
                tracing::warn!(
                    dropped = dropped + 1,
                    "log lines for the engine are dropped: {QUEUE} are waiting to be sent"
                );
            }
        }
    }
}

/// Whether events of `target` are the SDK's or its transport's.
fn is_own(target: &str) -> bool {
    OWN_TARGETS.iter().any(|own| {
        target == *own
            || target
                .strip_prefix(own)
                .is_some_and(|rest| rest.starts_with("::"))
    })
}

/// An event's message and its other fields.
#[derive(Default)]
struct Fields {
    message: String,
    data: Map<String, Value>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
        } else {
            self.data.insert(field.name().to_string(), value);
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}
