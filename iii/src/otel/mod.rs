//! OpenTelemetry spans for invocations and calls (cargo feature `otel`),
//! exported to the engine, which shows them in its traces
//! (`engine::traces::list`, `engine::traces::tree`, its console).
//!
//! With the feature on, every invocation runs in a span `execute <id>`
//! (kind server), a child of the span the engine or the caller sent it
//! with; every call runs in a span `call <id>` (kind client), a child of
//! the current span, and carries that span as the callee's parent. The
//! invocation's [`crate::trace::TraceContext`] and its log lines name the
//! same span. The spans go to the global tracer provider:
//! [`init`] makes one that exports to the engine; any other (say, an
//! OTLP exporter to a collector) works the same.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let worker = iii::Worker::from_env().name("checkout").connect().await?;
//! let telemetry = iii::otel::init(&worker)?;
//! // ... serve ...
//! telemetry.flush().await?; // before the process ends
//! # Ok(()) }
//! ```
//!
//! Inside a handler, spans a user opens with the OpenTelemetry API are
//! children of the invocation's (the handler runs with its context), and
//! so are those of a future wrapped with [`crate::Context::scoped`].

mod exporter;

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _,
};
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

pub use exporter::EngineExporter;

use crate::trace::TraceContext;
use crate::worker::Worker;

/// The instrumentation scope of the SDK's spans.
const SCOPE: &str = "iii-rs";

/// Spans exported to the engine: the tracer provider [`init`] set as the
/// global one, and a way to know they were written.
#[derive(Debug, Clone)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    flusher: tokio::sync::mpsc::Sender<exporter::Command>,
}

impl Telemetry {
    /// The tracer provider (to add processors, or to shut down).
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Exports every span ended so far and waits until it is written to
    /// the engine's socket; an error if the batch processor failed or a
    /// batch was dropped (the engine unreachable) since the last flush.
    pub async fn flush(&self) -> Result<(), crate::Error> {
        let provider = self.provider.clone();
        // The SDK's flush blocks until its worker thread has exported.
        tokio::task::spawn_blocking(move || provider.force_flush())
            .await
            .map_err(|e| crate::Error::msg(format!("the span flush failed: {e}")))?
            .map_err(|e| crate::Error::msg(format!("the span flush failed: {e}")))?;
        let (done, written) = tokio::sync::oneshot::channel();
        self.flusher
            .send(exporter::Command::Flush(done))
            .await
            .map_err(|_| crate::Error::msg("the engine exporter's socket task has stopped"))?;
        match written.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(crate::Error::msg(
                "spans were dropped since the last flush: the engine's telemetry socket could not be written",
            )),
            Err(_) => Err(crate::Error::msg(
                "the engine exporter's socket task has stopped",
            )),
        }
    }
}

/// A tracer provider that exports to `worker`'s engine (batched, on the
/// engine's `/otel` socket), with `service.name` the worker's name, set as
/// the global one (so every worker of the process uses it). Call it from
/// the worker's tokio runtime; flush before the process ends.
pub fn init(worker: &Worker) -> Result<Telemetry, crate::Error> {
    let exporter = EngineExporter::new(worker)?;
    let flusher = exporter.flusher();
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name(worker.name().to_string())
                .with_attribute(KeyValue::new("service.version", crate::VERSION))
                .build(),
        )
        .with_batch_exporter(exporter)
        .build();
    global::set_tracer_provider(provider.clone());
    Ok(Telemetry { provider, flusher })
}

/// A context whose span is the remote one these ids name.
fn remote(trace_id: [u8; 16], span_id: [u8; 8], flags: u8) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_bytes(trace_id),
        SpanId::from_bytes(span_id),
        TraceFlags::new(flags),
        true,
        TraceState::default(),
    ))
}

/// The span of one invocation, open while the handler runs.
pub(crate) struct InvocationSpan {
    cx: Context,
}

/// Opens the span of an invocation of `function_id` that arrived with
/// `incoming` (its trace context, parent included) and returns the trace
/// context naming the span; `None` for the span when the global provider
/// records nothing (the context is then `incoming`'s).
pub(crate) fn start_invocation(
    function_id: &str,
    worker: &Worker,
    incoming: TraceContext,
) -> (TraceContext, Option<InvocationSpan>) {
    let parent = match incoming.parent_ids() {
        Some((trace_id, span_id, flags)) => remote(trace_id, span_id, flags),
        None => Context::new(),
    };
    let mut attributes = vec![
        KeyValue::new("iii.function.id", function_id.to_string()),
        KeyValue::new("iii.worker.name", worker.name().to_string()),
    ];
    // Baggage entries as attributes, as the official SDKs put them (the
    // engine's console groups spans by `iii.function.id`).
    for entry in incoming.baggage().unwrap_or_default().split(',') {
        if let Some((key, value)) = entry.split_once('=')
            && key.trim() != "iii.function.id"
        {
            attributes.push(KeyValue::new(
                key.trim().to_string(),
                value.trim().to_string(),
            ));
        }
    }
    let tracer = global::tracer(SCOPE);
    let span = tracer
        .span_builder(format!("execute {function_id}"))
        .with_kind(SpanKind::Server)
        .with_attributes(attributes)
        .start_with_context(&tracer, &parent);
    let recorded = span.span_context().clone();
    // A no-op provider hands back the parent's context.
    if !recorded.is_valid() || recorded.is_remote() {
        return (incoming, None);
    }
    let trace = incoming.with_ids(
        recorded.trace_id().to_bytes(),
        recorded.span_id().to_bytes(),
    );
    (
        trace,
        Some(InvocationSpan {
            cx: parent.with_span(span),
        }),
    )
}

impl InvocationSpan {
    /// The context the handler runs with.
    pub(crate) fn context(&self) -> Context {
        self.cx.clone()
    }

    /// Ends the span with the invocation's outcome.
    pub(crate) fn end(self, failure: Option<&iii_protocol::ErrorBody>) {
        let span = self.cx.span();
        match failure {
            Some(error) => {
                span.set_status(Status::error(format!("{}: {}", error.code, error.message)))
            }
            None => span.set_status(Status::Ok),
        }
        span.end();
    }
}

/// The span of one outgoing call.
pub(crate) struct CallSpan {
    span: global::BoxedSpan,
}

/// Opens the span of a call to `function_id` (`action`: call, void or
/// enqueue), a child of the current span, or of `trace`'s invocation span
/// when no span is current (a task the handler spawned); `None` when the
/// global provider records nothing.
pub(crate) fn start_call(
    function_id: &str,
    action: &'static str,
    trace: Option<&TraceContext>,
) -> Option<CallSpan> {
    let current = Context::current();
    let parent = match trace {
        Some(trace) if !current.has_active_span() => {
            let (trace_id, span_id, _, flags) = trace.ids();
            remote(trace_id, span_id, flags)
        }
        _ => current,
    };
    let tracer = global::tracer(SCOPE);
    let span = tracer
        .span_builder(format!("call {function_id}"))
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("iii.function.id", function_id.to_string()),
            KeyValue::new("iii.call.action", action),
        ])
        .start_with_context(&tracer, &parent);
    let recorded = span.span_context();
    (recorded.is_valid() && !recorded.is_remote()).then_some(CallSpan { span })
}

impl CallSpan {
    /// The `traceparent` the call carries: this span as the parent.
    pub(crate) fn traceparent(&self) -> String {
        let sc = self.span.span_context();
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    }

    /// Ends the span with the call's outcome.
    pub(crate) fn end(mut self, failure: Option<&crate::Error>) {
        match failure {
            Some(error) => self.span.set_status(Status::error(error.to_string())),
            None => self.span.set_status(Status::Ok),
        }
        self.span.end();
    }
}
