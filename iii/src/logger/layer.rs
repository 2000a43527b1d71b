//! A `tracing` layer: the events of handlers, to the engine's logs.

use std::cell::Cell;
use std::fmt::Debug;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level as TracingLevel, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::{Level, Logger};
use crate::scope::Scope;

thread_local! {
    /// Set while this thread sends a line, so that an event raised on the
    /// way (the SDK's own) is not sent again.
    static SENDING: Cell<bool> = const { Cell::new(false) };
}

/// The layer [`layer`] returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineLayer {
    _private: (),
}

/// A `tracing` layer that sends every event raised while a handler runs
/// to the engine's log functions, through the worker serving it and with
/// the invocation's trace and span ids, as a [`Logger`] line: the event's
/// message, and its other fields as the line's data (the record's
/// attributes). Install it once at start-up, beside the layers that print:
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
/// Events outside handlers (and the SDK's own, target `iii`) stay local;
/// in a task a handler spawns, wrap the future with
/// [`crate::Context::scoped`] for its events to count as the handler's.
/// Filter it as any layer (`layer().with_filter(LevelFilter::INFO)`).
pub fn layer() -> EngineLayer {
    EngineLayer::default()
}

impl<S: Subscriber> Layer<S> for EngineLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let target = event.metadata().target();
        if target == "iii" || target.starts_with("iii::") || SENDING.with(Cell::get) {
            return;
        }
        let Some(scope) = Scope::current() else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = match *event.metadata().level() {
            TracingLevel::TRACE => Level::Trace,
            TracingLevel::DEBUG => Level::Debug,
            TracingLevel::INFO => Level::Info,
            TracingLevel::WARN => Level::Warn,
            TracingLevel::ERROR => Level::Error,
        };
        fields
            .data
            .insert("target".into(), Value::String(target.to_string()));
        SENDING.with(|s| s.set(true));
        let logger = Logger::new(scope.worker, scope.trace.as_deref());
        // Not connected: the event already went to the other layers.
        let _ = logger.send(level, &fields.message, Some(&Value::Object(fields.data)));
        SENDING.with(|s| s.set(false));
    }
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
