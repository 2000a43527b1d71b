//! W3C trace context: which trace an invocation belongs to, and which span
//! is its own.
//!
//! The engine sends a `traceparent` with every invocation it starts (an
//! HTTP request, a cron tick) and passes a caller's on to the callee. The
//! SDK gives each invocation a span of its own, a child of the one it came
//! with (or, when it came with none, the root of a new trace): the
//! invocation's log lines carry its ids ([`crate::logger::Logger`], the
//! `tracing` layer), and every call made while serving it carries a
//! `traceparent` naming it as the parent, so the callee's work joins the
//! same trace.
//!
//! ```no_run
//! # async fn handler(_: serde_json::Value, ctx: iii::Context) -> Result<(), iii::Error> {
//! let trace = ctx.trace();
//! println!("trace {} span {} (parent {:?})", trace.trace_id(), trace.span_id(), trace.parent_span_id());
//! // This call carries `trace.traceparent()`: this trace, this span as the
//! // callee's parent (with the `otel` feature, the call's own span).
//! ctx.worker().invoke("billing::charge").void().await?;
//! # Ok(()) }
//! ```
//!
//! Without the `otel` feature the invocation's span is not exported
//! anywhere: its id ties the invocation's log lines and its callees
//! together, but a callee that exports spans names a parent the engine
//! never stored (its tree shows the callee as a root). Turn on `otel`
//! where whole trace trees matter.

use std::sync::Arc;

/// The trace context of one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_span_id: Option<[u8; 8]>,
    flags: u8,
    baggage: Option<String>,
}

impl TraceContext {
    /// The context of an invocation that arrived with `traceparent` (and
    /// `baggage`): a new span in that trace, child of the sender's; with
    /// no usable `traceparent`, the root span of a new, sampled trace.
    pub fn child_of(traceparent: Option<&str>, baggage: Option<String>) -> TraceContext {
        match traceparent.and_then(parse_traceparent) {
            Some((trace_id, parent, flags)) => TraceContext {
                trace_id,
                span_id: new_span_id(),
                parent_span_id: Some(parent),
                flags,
                baggage,
            },
            None => TraceContext {
                trace_id: new_trace_id(),
                span_id: new_span_id(),
                parent_span_id: None,
                flags: 0x01,
                baggage,
            },
        }
    }

    /// The trace id, 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// This invocation's span id, 16 lowercase hex digits.
    pub fn span_id(&self) -> String {
        hex(&self.span_id)
    }

    /// The span that caused this invocation, when it came with one.
    pub fn parent_span_id(&self) -> Option<String> {
        self.parent_span_id.as_ref().map(|p| hex(p))
    }

    /// Whether the trace is sampled (the `traceparent`'s flag).
    pub fn sampled(&self) -> bool {
        self.flags & 0x01 != 0
    }

    /// The `traceparent` a call made now carries: this trace, this span as
    /// the parent.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.span_id),
            self.flags
        )
    }

    /// The W3C `baggage` the invocation came with, passed on to calls.
    pub fn baggage(&self) -> Option<&str> {
        self.baggage.as_deref()
    }

    /// The context of the invocation being served by the current task, if
    /// any (inside a handler, or a future it wrapped with
    /// [`crate::Context::scoped`]).
    pub fn current() -> Option<Arc<TraceContext>> {
        crate::scope::Scope::current_trace()
    }

    /// The raw ids: trace, own span, parent span, flags.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn ids(&self) -> ([u8; 16], [u8; 8], Option<[u8; 8]>, u8) {
        (self.trace_id, self.span_id, self.parent_span_id, self.flags)
    }

    /// The trace id, the parent span id and the flags, when the invocation
    /// came with a parent.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn parent_ids(&self) -> Option<([u8; 16], [u8; 8], u8)> {
        self.parent_span_id
            .map(|parent| (self.trace_id, parent, self.flags))
    }

    /// This context in the trace `trace_id` with the span `span_id` (those
    /// an OpenTelemetry span was given).
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn with_ids(mut self, trace_id: [u8; 16], span_id: [u8; 8]) -> TraceContext {
        self.trace_id = trace_id;
        self.span_id = span_id;
        self
    }
}

/// The trace id, parent span id and flags of a W3C `traceparent`
/// (`00-<32 hex>-<16 hex>-<2 hex>`); `None` unless well formed, with
/// neither id all zeros.
pub fn parse_traceparent(traceparent: &str) -> Option<([u8; 16], [u8; 8], u8)> {
    // `vv-<32>-<16>-ff`: 55 bytes, dashes at 2, 35 and 52.
    let text = traceparent.trim();
    let bytes = text.as_bytes();
    if bytes.len() != 55 || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let [version]: [u8; 1] = unhex(text.get(0..2)?)?;
    let trace: [u8; 16] = unhex(text.get(3..35)?)?;
    let span: [u8; 8] = unhex(text.get(36..52)?)?;
    let [flags]: [u8; 1] = unhex(text.get(53..55)?)?;
    if version == 0xff {
        return None;
    }
    (trace != [0; 16] && span != [0; 8]).then_some((trace, span, flags))
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A random span id (W3C: 8 bytes, not all zero). Unique, not secret
/// ([`crate::ids::quick_u64`]).
fn new_span_id() -> [u8; 8] {
    loop {
        let id = crate::ids::quick_u64();
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

/// A random trace id (W3C: 16 bytes, not all zero). Unique, not secret
/// ([`crate::ids::quick_u64`]).
fn new_trace_id() -> [u8; 16] {
    loop {
        let id = u128::from(crate::ids::quick_u64()) << 64 | u128::from(crate::ids::quick_u64());
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn an_invocation_is_a_child_of_the_span_it_came_with() {
        let ctx = TraceContext::child_of(Some(PARENT), Some("k=v".into()));
        assert_eq!(ctx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.parent_span_id().as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(ctx.span_id(), "00f067aa0ba902b7");
        assert_eq!(ctx.span_id().len(), 16);
        assert!(ctx.sampled());
        assert_eq!(
            ctx.traceparent(),
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01", ctx.span_id())
        );
        assert_eq!(ctx.baggage(), Some("k=v"));
    }

    #[test]
    fn without_a_usable_traceparent_a_new_trace_begins() {
        for incoming in [
            None,
            Some("garbage"),
            Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ] {
            let ctx = TraceContext::child_of(incoming, None);
            assert_eq!(ctx.parent_span_id(), None, "{incoming:?}");
            assert_eq!(ctx.trace_id().len(), 32);
            assert!(parse_traceparent(&ctx.traceparent()).is_some());
        }
        let (a, b) = (
            TraceContext::child_of(None, None),
            TraceContext::child_of(None, None),
        );
        assert_ne!(a.trace_id(), b.trace_id());
        assert_ne!(a.span_id(), b.span_id());
    }

    #[test]
    fn traceparents_are_read_strictly() {
        assert!(parse_traceparent(PARENT).is_some());
        for bad in [
            "",
            "00-xyz-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
    }
}
