//! The one error type of the SDK, and how it crosses the wire.

use std::time::Duration;

pub use iii_protocol::{ErrorBody, RegistrationRejected};

pub mod codes;

/// Everything that can go wrong in the SDK, and what a handler returns to fail.
///
/// A handler fails with a code of its choosing:
///
/// ```
/// fn check(age: u32) -> Result<(), iii::Error> {
///     if age < 18 {
///         return Err(iii::Error::new("too_young", "age must be at least 18"));
///     }
///     Ok(())
/// }
/// let err = check(3).unwrap_err();
/// assert_eq!(err.code(), "too_young");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A handler's own failure, with a wire code.
    #[error("{code}: {message}")]
    Handler {
        /// Machine-readable code sent to the caller.
        code: String,
        /// Explanation sent to the caller.
        message: String,
        /// Optional stack trace sent to the caller.
        stacktrace: Option<String>,
    },
    /// A handler's failure meant for an HTTP client, with the status to
    /// answer (see [`Error::http`]). To any other caller it is its code and
    /// message.
    #[error("{code}: {message}")]
    Http {
        /// The HTTP status an `http`-bound function answers with.
        status: u16,
        /// Machine-readable code sent to the caller.
        code: String,
        /// Explanation sent to the caller.
        message: String,
    },
    /// A handler panicked. Its caller gets `invocation_failed` with the
    /// text; an HTTP client gets 500 and an error id only.
    #[error("the handler of `{function_id}` panicked: {message}")]
    Panicked {
        /// The function whose handler panicked.
        function_id: String,
        /// The panic's message.
        message: String,
    },
    /// The called function (or the engine) answered with an error.
    #[error("`{function_id}` failed with {body}")]
    Remote {
        /// The function that was called.
        function_id: String,
        /// The error as the callee reported it.
        body: ErrorBody,
    },
    /// No answer came within the call's timeout. The engine has no timeout
    /// of its own, and the iii engine 0.23 rarely loses an answer (one that
    /// comes back before the engine has recorded the call: about 1 in
    /// 100,000 calls under load), so only this ends such a call.
    #[error(
        "no answer came for the call to `{function_id}` (invocation {invocation_id}) within {timeout:?}: the function may still be running, or the engine lost its answer; raise the limit with `.timeout(..)` on the request or `default_timeout` on the worker, and retry calls that are safe to repeat"
    )]
    Timeout {
        /// The function that was called.
        function_id: String,
        /// The call's id, as the engine and the callee saw it (in their
        /// logs too).
        invocation_id: uuid::Uuid,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The worker is not connected, so the call was not sent.
    #[error(
        "`{function_id}` was not sent: the worker is not connected to the engine (wait with `Worker::wait_connected`)"
    )]
    NotConnected {
        /// The function that was called.
        function_id: String,
    },
    /// The connection dropped while the call was waiting for its answer.
    #[error(
        "connection to the engine was lost while `{function_id}` was pending; the call may or may not have run"
    )]
    ConnectionLost {
        /// The function that was called.
        function_id: String,
    },
    /// The worker shut down while the call was pending or before it was sent.
    #[error("the worker shut down before `{function_id}` completed")]
    Shutdown {
        /// The function that was called.
        function_id: String,
    },
    /// The engine URL cannot be used.
    #[error("invalid engine url `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The engine could not be reached or did not complete the handshake.
    #[error(
        "could not connect to the iii engine at {url}: {reason}; is it running? set III_URL to its address"
    )]
    Connect {
        /// The URL dialled.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The in-process engine of [`WorkerBuilder::embedded_engine`] could
    /// not start (a port in use, most often).
    ///
    /// [`WorkerBuilder::embedded_engine`]: crate::WorkerBuilder
    #[error("the in-process engine could not start: {reason}")]
    EngineStart {
        /// What failed, naming the address.
        reason: String,
    },
    /// The engine refused the connection (an RBAC auth function said no);
    /// the worker does not reconnect.
    #[error(
        "the engine at {url} refused the connection ({body}); check the credentials sent with `WorkerBuilder::header`"
    )]
    Refused {
        /// The URL dialled.
        url: String,
        /// The engine's reason.
        body: ErrorBody,
    },
    /// A frame was larger than the frame limit, so it was not sent; the
    /// connection is unaffected.
    #[error(
        "{what} is {size} bytes as JSON, over the {limit}-byte frame limit, so it was not sent; the iii engine drops the whole connection of a worker that sends a bigger frame (16 MiB by default; raise `WorkerBuilder::max_frame_size` only for an engine that reads more), so send large data another way"
    )]
    FrameTooLarge {
        /// What was being sent, e.g. "the call to `files::store`".
        what: String,
        /// The frame's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A frame nested arrays and objects deeper than the engine decodes
    /// ([`iii_protocol::depth::MAX_FRAME_DEPTH`], the frame's own object
    /// included), so it was not sent: the engine would drop it without an
    /// answer. The connection is unaffected.
    #[error(
        "{what} nests {depth} levels of arrays and objects as a frame, over the {limit} levels the iii engine decodes, so it was not sent (the engine would drop it without an answer); flatten the data, or send it as text or through a channel"
    )]
    TooDeep {
        /// What was being sent, e.g. "the call to `files::store`".
        what: String,
        /// How deeply the frame nests, its own object included.
        depth: usize,
        /// The deepest nesting the engine decodes.
        limit: usize,
    },
    /// A data channel could not be created, attached, read or written.
    #[error("channel `{channel_id}` ({end} end): {reason}")]
    Channel {
        /// The channel's id.
        channel_id: String,
        /// The end this worker holds.
        end: iii_protocol::ChannelDirection,
        /// What went wrong, and what to do about it.
        reason: String,
    },
    /// [`crate::Worker::flush`] could not prove that the engine read
    /// everything sent before it.
    #[error("flush failed: {0}")]
    Flush(FlushFailure),
    /// [`crate::Worker::wait_for_state`] or
    /// [`crate::Worker::wait_connected`] ran out of time.
    #[error("the worker did not become {wanted} within {timeout:?} (it is {current})")]
    StateTimeout {
        /// The state waited for.
        wanted: crate::ConnectionState,
        /// The state when the wait ended.
        current: crate::ConnectionState,
        /// How long the wait was.
        timeout: Duration,
    },
    /// The engine refused the worker itself; the worker does not reconnect.
    #[error("the engine rejected this worker ({}): {}", .0.code, rejection_text(.0))]
    Rejected(RegistrationRejected),
    /// The engine does not take this registration: engines from 0.26
    /// replaced triggers and trigger types with observers. Nothing was
    /// sent.
    #[error("{what} cannot work on the engine at {url}: {reason}")]
    Unsupported {
        /// The engine's URL.
        url: String,
        /// What was refused, e.g. "the `cron` trigger of `reports::daily`".
        what: String,
        /// Why, and what to do instead.
        reason: String,
    },
    /// The engine, or the trigger type's provider, refused trigger
    /// bindings: reported by `connect` for the program's bindings, and by
    /// `flush` for those made since. Each names the function it binds and
    /// the refusal.
    #[error(
        "the engine refused {} trigger binding(s): {}; fix them, or remove them (`TriggerHandle::unregister`)",
        .refusals.len(),
        .refusals.join("; ")
    )]
    BindingsRefused {
        /// "the `cron` trigger of `reports::daily` (trigger_registration_failed: ...)", one a binding.
        refusals: Vec<String>,
    },
    /// `connect` sent the program's trigger bindings and the engine stopped
    /// acknowledging them: none for the whole `connect_timeout`.
    ///
    /// `connect` waits as long as the engine keeps applying them, a batch
    /// at a time; only a wait of `connect_timeout` without progress fails.
    /// An engine that is slow but alive needs a longer
    /// [`connect_timeout`](crate::WorkerBuilder::connect_timeout).
    #[error(
        "the engine at {url} applied {applied} of this worker's {sent} trigger bindings, then acknowledged none for {waited:?} (the worker's `connect_timeout`); if it is still applying them, raise `connect_timeout` (iii 0.23 rebuilds its HTTP router for each route, so a worker with a thousand routes takes it seconds)"
    )]
    BindingsStalled {
        /// The engine's URL.
        url: String,
        /// Bindings the engine had read and applied when it went quiet.
        applied: usize,
        /// Bindings sent.
        sent: usize,
        /// How long it went without acknowledging one more batch.
        waited: Duration,
    },
    /// A configuration or argument was invalid; nothing was sent.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was invalid, e.g. "function id" or "http trigger config".
        what: String,
        /// Why, and how to fix it.
        reason: String,
    },
    /// A value could not be decoded into the expected Rust type.
    #[error("could not decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: String,
        /// The field path and the expected shape.
        reason: String,
    },
    /// A value could not be encoded as JSON.
    #[error("could not encode {what} as JSON: {source}")]
    Encode {
        /// What was being encoded.
        what: String,
        /// The serde error.
        source: serde_json::Error,
    },
    /// A step of a test ([`crate::testing`]) failed: a request of the
    /// harness's HTTP client, or a condition that did not come true in
    /// time.
    #[error("{what}: {reason}")]
    Testing {
        /// The step, e.g. "GET http://127.0.0.1:3111/greet/world".
        what: String,
        /// What went wrong, and what to check.
        reason: String,
    },
}

/// Why [`Worker::flush`](crate::Worker::flush) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlushFailure {
    /// The worker is not connected, so nothing could be flushed.
    NotConnected,
    /// The connection dropped before the engine answered.
    ConnectionLost,
    /// The engine answered none of the flush's pings for the worker's
    /// default timeout (each answer restarts it).
    Timeout(Duration),
}

impl std::fmt::Display for FlushFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlushFailure::NotConnected => f.write_str(
                "the worker is not connected to the engine (wait with `Worker::wait_connected`)",
            ),
            FlushFailure::ConnectionLost => {
                f.write_str("the connection dropped before the engine answered")
            }
            FlushFailure::Timeout(t) => write!(
                f,
                "the engine answered nothing for {t:?} (the worker's `default_timeout`)"
            ),
        }
    }
}

fn rejection_text(r: &RegistrationRejected) -> String {
    match (&r.worker_name, &r.function_id) {
        (Some(name), _) => format!(
            "worker name `{name}` is already used in namespace `{}` by worker {}; choose another name with `.name(..)` or III_WORKER_NAME",
            r.namespace, r.owner_worker_id
        ),
        (None, Some(id)) => format!(
            "function `{id}` is already exported in namespace `{}` by worker {}",
            r.namespace, r.owner_worker_id
        ),
        (None, None) => format!("in namespace `{}`", r.namespace),
    }
}

impl Error {
    /// A handler failure with a custom code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Handler {
            code: code.into(),
            message: message.into(),
            stacktrace: None,
        }
    }

    /// A handler failure that an `http`-bound function answers with
    /// `status` and `{"error": {"code", "message"}}`, the code named after
    /// the status (`not_found` for 404; `http_418` where there is no name).
    /// Any other caller gets the code and the message.
    ///
    /// ```
    /// let err = iii::Error::http(404, "no user 7");
    /// assert_eq!(err.code(), "not_found");
    /// assert_eq!(err.http_status(), Some(404));
    /// ```
    pub fn http(status: u16, message: impl Into<String>) -> Self {
        Error::Http {
            status,
            code: codes::code_for(status),
            message: message.into(),
        }
    }

    /// The HTTP status this error answers an `http` trigger's client with,
    /// when the handler chose it: an [`Error::http`]'s, or for an
    /// [`Error::new`] the status its code names (`not_found`: 404,
    /// `bad_request` and `invalid_argument`: 400, `unauthorized`: 401,
    /// `forbidden`: 403, `conflict`: 409, `too_many_requests`: 429, ...;
    /// any other code: 500). `None` for the rest, which answer 500 with an
    /// error id and no text.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } => Some(*status),
            Error::Handler { code, .. } if code != codes::INVOCATION_FAILED => {
                Some(codes::status_for(code))
            }
            _ => None,
        }
    }

    /// A handler failure with the default code `invocation_failed`.
    pub fn msg(message: impl Into<String>) -> Self {
        Self::new(codes::INVOCATION_FAILED, message)
    }

    /// Wraps any error as a handler failure (`invocation_failed`), keeping its
    /// message and the chain of its sources.
    pub fn other(error: impl std::error::Error) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(inner) = source {
            message.push_str(": ");
            message.push_str(&inner.to_string());
            source = inner.source();
        }
        Self::msg(message)
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// [`iii_protocol::rules::validate_id`], as an error naming `what`.
pub(crate) fn validate_id(what: &str, id: &str) -> Result<(), Error> {
    iii_protocol::rules::validate_id(id).map_err(|reason| Error::invalid(what, reason))
}

/// [`iii_protocol::rules::validate_namespace`], as an error naming `what`.
pub(crate) fn validate_namespace(what: &str, namespace: &str) -> Result<(), Error> {
    iii_protocol::rules::validate_namespace(namespace)
        .map_err(|reason| Error::invalid(what, reason))
}

impl Error {
    /// The wire code this error is reported with.
    pub fn code(&self) -> &str {
        match self {
            Error::Handler { code, .. } | Error::Http { code, .. } => code,
            Error::Remote { body, .. } => &body.code,
            Error::Timeout { .. } => codes::TIMEOUT,
            Error::Decode { .. } => codes::DESERIALIZATION_ERROR,
            Error::Rejected(r) => &r.code,
            Error::FrameTooLarge { .. } => codes::FRAME_TOO_LARGE,
            Error::TooDeep { .. } => codes::TOO_DEEP,
            Error::Unsupported { .. } => codes::UNSUPPORTED,
            _ => codes::INVOCATION_FAILED,
        }
    }

    /// The error as sent to a caller. A remote error is passed through as the
    /// callee reported it, so `?` on a nested call forwards its code.
    pub fn to_body(&self) -> ErrorBody {
        match self {
            Error::Handler {
                code,
                message,
                stacktrace,
            } => ErrorBody {
                code: code.clone(),
                message: message.clone(),
                stacktrace: stacktrace.clone(),
            },
            Error::Http { code, message, .. } => ErrorBody::new(code.clone(), message.clone()),
            Error::Remote { body, .. } => body.clone(),
            other => ErrorBody::new(other.code(), other.to_string()),
        }
    }

    /// For [`Error::Remote`]: the body the callee sent.
    pub fn remote_body(&self) -> Option<&ErrorBody> {
        match self {
            Error::Remote { body, .. } => Some(body),
            _ => None,
        }
    }
}

impl From<ErrorBody> for Error {
    /// An error body received from elsewhere, re-raised as a handler error.
    fn from(body: ErrorBody) -> Self {
        Error::Handler {
            code: body.code,
            message: body.message,
            stacktrace: body.stacktrace,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Error::Decode {
            what: "JSON".into(),
            reason: error.to_string(),
        }
    }
}

impl From<std::io::Error> for Error {
    /// An `iii::Error` carried by an `io::Error` (from a channel's
    /// `AsyncRead` or `AsyncWrite`) comes back as it was.
    fn from(error: std::io::Error) -> Self {
        if !error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            return Error::other(error);
        }
        match error.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(ours)) => *ours,
            Some(Err(other)) => Error::msg(other.to_string()),
            None => Error::msg("an I/O error without a cause"),
        }
    }
}

/// Shorthand for `Result<T, iii::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_errors_pass_through_unchanged() {
        let body = ErrorBody {
            code: "card_declined".into(),
            message: "no funds".into(),
            stacktrace: Some("at pay".into()),
        };
        let err = Error::Remote {
            function_id: "pay".into(),
            body: body.clone(),
        };
        assert_eq!(err.to_body(), body);
        assert_eq!(err.code(), "card_declined");
    }

    #[test]
    fn local_errors_carry_their_code_and_full_text() {
        let err = Error::Timeout {
            function_id: "slow".into(),
            invocation_id: uuid::Uuid::nil(),
            timeout: Duration::from_millis(250),
        };
        let body = err.to_body();
        assert_eq!(body.code, "TIMEOUT");
        for part in [
            "no answer came",
            "`slow`",
            "250ms",
            &uuid::Uuid::nil().to_string(),
        ] {
            assert!(body.message.contains(part), "{part}: {}", body.message);
        }
    }

    #[test]
    fn other_keeps_the_source_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "config.toml missing");
        let err = Error::other(io);
        assert_eq!(err.code(), "invocation_failed");
        assert!(err.to_string().contains("config.toml missing"));
    }

    #[test]
    fn an_error_carried_through_io_comes_back_as_it_was() {
        let channel = Error::Channel {
            channel_id: "c-1".into(),
            end: iii_protocol::ChannelDirection::Read,
            reason: "gone".into(),
        };
        let back = Error::from(std::io::Error::other(channel));
        assert!(
            matches!(&back, Error::Channel { channel_id, .. } if channel_id == "c-1"),
            "{back:?}"
        );
    }

    #[test]
    fn worker_name_conflict_says_what_to_do() {
        let err = Error::Rejected(RegistrationRejected {
            code: "WORKER_NAMESPACE_CONFLICT".into(),
            namespace: "default".into(),
            worker_name: Some("billing".into()),
            function_id: None,
            owner_worker_id: "w-1".into(),
        });
        let text = err.to_string();
        assert!(
            text.contains("`billing`") && text.contains("III_WORKER_NAME"),
            "{text}"
        );
    }
}
