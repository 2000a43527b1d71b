//! Outgoing calls: synchronous, fire-and-forget, and enqueued.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::codec::decode_result;
use crate::error::{Error, validate_id, validate_namespace};
use crate::session::{Closed, Failure, Frame, Session};
use crate::worker::Worker;
use iii_protocol::{InvokeFunctionRef, RawJson, ResultValue, Shape, TriggerAction};

/// What an enqueued call returns: the queue's receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnqueueReceipt {
    /// The id the engine gave the queued message.
    #[serde(rename = "messageReceiptId")]
    pub message_receipt_id: String,
}

/// A call being prepared; finish it with [`Invocation::call`],
/// [`Invocation::void`] or [`Invocation::enqueue`].
///
/// ```no_run
/// use std::time::Duration;
/// # async fn f(worker: iii::Worker) -> Result<(), iii::Error> {
/// // Wait for the result, with a tighter timeout than the default:
/// let total: u64 = worker
///     .invoke("billing::total")
///     .payload(&serde_json::json!({"account": 7}))
///     .timeout(Duration::from_secs(2))
///     .call()
///     .await?;
/// // Fire and forget:
/// worker.invoke("audit::record").payload(&"login").void().await?;
/// // Through a queue; the receipt names the queued message:
/// let receipt = worker.invoke("emails::send").payload(&"hi").enqueue("emails").await?;
/// println!("queued as {}", receipt.message_receipt_id);
/// # let _ = total; Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "an invocation does nothing until `.call()`, `.void()` or `.enqueue(..)` is awaited"]
pub struct Invocation {
    worker: Worker,
    function_id: String,
    /// The payload, already JSON text: serialised once, straight from the
    /// caller's type, without an intermediate `Value` tree. (The bare
    /// serde error, not an [`Error`]: this struct is moved into every
    /// call's future, and kept small.) `None` is `null`, the payload until
    /// one is set: nothing is allocated for a payload that is replaced.
    data: Result<Option<RawJson>, serde_json::Error>,
    action: Option<TriggerAction>,
    metadata: Option<Value>,
    namespace: Option<String>,
    traceparent: Option<String>,
    baggage: Option<String>,
    timeout: Option<Duration>,
    /// The call's own client span (feature `otel`), sent as the callee's
    /// parent in the invocation's trace: unlike an explicit
    /// [`Invocation::traceparent`], it keeps the invocation's baggage.
    span_parent: Option<String>,
}

impl Worker {
    /// Starts a call to `function_id` (payload `null` until set).
    pub fn invoke(&self, function_id: impl Into<String>) -> Invocation {
        Invocation {
            worker: self.clone(),
            function_id: function_id.into(),
            data: Ok(None),
            action: None,
            metadata: None,
            namespace: None,
            traceparent: None,
            baggage: None,
            timeout: None,
            span_parent: None,
        }
    }

    /// Calls `function_id` with `input` and decodes its result into `O`.
    ///
    /// ```no_run
    /// # async fn f(worker: iii::Worker) -> Result<(), iii::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Greeting { message: String }
    /// let g: Greeting = worker.call("greetings::greet", &serde_json::json!({"name": "Ada"})).await?;
    /// # let _ = g.message; Ok(()) }
    /// ```
    pub async fn call<O, I>(&self, function_id: &str, input: &I) -> Result<O, Error>
    where
        O: DeserializeOwned + 'static,
        I: Serialize + ?Sized,
    {
        self.invoke(function_id).payload(input).call().await
    }
}

impl Invocation {
    /// Sets the payload from any serialisable value.
    pub fn payload<T: Serialize + ?Sized>(mut self, payload: &T) -> Self {
        self.data = RawJson::from_serialize(payload).map(Some);
        self
    }

    /// Sets the payload from a JSON value: the same as
    /// [`payload(&data)`](Invocation::payload), kept for the official SDKs'
    /// name.
    pub fn data(self, data: Value) -> Self {
        self.payload(&data)
    }

    /// How long [`Invocation::call`] waits (default: the worker's, 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Per-invocation metadata, handed to the callee beside the payload.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The namespace to find the function in. By default it is the
    /// worker's own namespace, except for the engine's built-ins
    /// (`engine::*`, `state::*`, `stream::*`, `iii::*`, `configuration::*`,
    /// `publish`), which live only in `default`. Name `"default"` here to
    /// reach a function in `default` from a namespaced worker.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// W3C trace context to continue. Inside a handler a call continues
    /// the invocation's by default ([`crate::trace`]).
    pub fn traceparent(mut self, traceparent: impl Into<String>) -> Self {
        self.traceparent = Some(traceparent.into());
        self
    }

    /// W3C baggage to send along (inside a handler, the invocation's by
    /// default).
    pub fn baggage(mut self, baggage: impl Into<String>) -> Self {
        self.baggage = Some(baggage.into());
        self
    }

    /// Where the function is looked up: the namespace set on the call, else
    /// `default` for the engine's built-ins, else the worker's own.
    fn target_namespace(&self) -> Option<&str> {
        match &self.namespace {
            Some(ns) => Some(ns),
            None if iii_protocol::is_builtin_function(&self.function_id) => None,
            None => self.worker.namespace(),
        }
    }

    /// The payload's JSON text, or why it has none.
    fn payload_text(&self) -> Result<&RawJson, Error> {
        let data = self.data.as_ref().map_err(|e| Error::Invalid {
            what: format!("payload for `{}`", self.function_id),
            reason: format!(
                "could not encode the payload for `{}` as JSON: {e}",
                self.function_id
            ),
        })?;
        Ok(data.as_ref().unwrap_or(&RawJson::NULL))
    }

    /// Validates the call and encodes its frame with `invocation_id`.
    fn frame(&self, invocation_id: Option<Uuid>) -> Result<Frame, Error> {
        let data = self.payload_text()?;
        validate_id("function id", &self.function_id)?;
        if let Some(namespace) = &self.namespace {
            validate_namespace("namespace", namespace)?;
        }
        // Inside a handler, a call continues the invocation's trace: its
        // span is the callee's parent, and its baggage goes along.
        // (An explicit traceparent is another trace: its baggage is not
        // the invocation's.)
        let inherited = match &self.traceparent {
            Some(_) => None,
            None => crate::scope::Scope::current_trace(),
        };
        let inherited_parent = match &self.span_parent {
            Some(_) => None,
            None => inherited.as_ref().map(|t| t.traceparent()),
        };
        let frame = InvokeFunctionRef {
            invocation_id,
            function_id: &self.function_id,
            data,
            action: self.action.as_ref(),
            metadata: self.metadata.as_ref(),
            namespace: self.target_namespace(),
            traceparent: self
                .traceparent
                .as_deref()
                .or(self.span_parent.as_deref())
                .or(inherited_parent.as_deref()),
            baggage: self
                .baggage
                .as_deref()
                .or_else(|| inherited.as_ref().and_then(|t| t.baggage())),
        };
        // The payload, the ids and the trace context, and the keys.
        let size = data.get().len() + self.function_id.len() + 320;
        self.worker.rules().encode_sized(&frame, size, || {
            format!("the call to `{}`", self.function_id)
        })
    }

    /// The call as a test double sees it, checked as a frame that goes
    /// out is (an invalid id or namespace, an oversized payload fail as
    /// they would against an engine).
    fn outgoing(&self) -> Result<crate::testing::double::Outgoing, Error> {
        self.frame(None)?;
        let data = self.payload_text()?;
        let payload: Value = serde_json::from_str(data.get()).map_err(|e| Error::Invalid {
            what: format!("payload for `{}`", self.function_id),
            reason: e.to_string(),
        })?;
        let traceparent = match (&self.traceparent, &self.span_parent) {
            (Some(explicit), _) | (None, Some(explicit)) => Some(explicit.clone()),
            (None, None) => crate::scope::Scope::current_trace().map(|t| t.traceparent()),
        };
        Ok(crate::testing::double::Outgoing {
            function_id: self.function_id.clone(),
            payload,
            action: self.action.clone(),
            metadata: self.metadata.clone(),
            namespace: self.target_namespace().map(str::to_string),
            traceparent,
        })
    }

    /// Sends the call and waits for its result, decoded into `O`.
    ///
    /// A result is decoded into your type straight from the JSON text the
    /// engine sent, in the task awaiting this call: the connection's reader
    /// only checks it and copies it, so a large result never holds up the
    /// other calls on the connection. With `O = serde_json::Value` the
    /// reader builds the tree, and it is handed over as it is.
    ///
    /// A result that does not fit `O` fails with [`Error::Decode`], naming
    /// the field: ``at `items[1]`: invalid type: ...``.
    pub async fn call<O: DeserializeOwned + 'static>(self) -> Result<O, Error> {
        let timeout = self
            .timeout
            .unwrap_or(self.worker.inner.config.default_timeout);
        let worker = self.worker.clone();
        // A caller of `Value` gets the tree the reader builds; a caller of
        // its own type decodes it from the text, skipping the tree.
        let tree = std::any::TypeId::of::<O>() == std::any::TypeId::of::<Value>();
        let shape = if tree { Shape::Tree } else { Shape::Text };
        let (function_id, result) = send_call(self, timeout, shape).outcome().await?;
        let what = || format!("the result of `{function_id}`");
        if tree {
            // The result as it came: nothing in it to attach.
            return decode_result(result, what);
        }
        // A result may hold channel ends (`ChannelReader` fields), which
        // attach to the worker's scope as they are decoded.
        let scope = crate::scope::Scope::of_worker(&worker);
        scope.sync(|| decode_result(result, what))
    }

    /// Sends the call without waiting for a result. Returns once the frame is
    /// queued on the connection (written at once when the socket takes it);
    /// fails if there is none.
    pub async fn void(self) -> Result<(), Error> {
        self.void_now()
    }

    /// [`Invocation::void`] for synchronous code (the logger).
    pub(crate) fn void_now(mut self) -> Result<(), Error> {
        self.action = Some(TriggerAction::Void);
        if let Some(double) = &self.worker.inner.double {
            return double.clone().answer(self.outgoing()?).map(|_| ());
        }
        #[cfg(feature = "otel")]
        let (call, span) = if self.function_id.starts_with("engine::log::") {
            (self, None) // log lines are not calls to trace
        } else {
            self.in_span("void")
        };
        #[cfg(not(feature = "otel"))]
        let call = self;
        let frame = call.frame(None);
        let sent = frame.and_then(|frame| send(&call.worker, frame, call.function_id));
        #[cfg(feature = "otel")]
        if let Some(span) = span {
            span.end(sent.as_ref().err());
        }
        sent
    }

    /// The call in a client span of its own, carried as the callee's
    /// parent (unless a `traceparent` was set).
    #[cfg(feature = "otel")]
    fn in_span(self, action: &'static str) -> (Invocation, Option<crate::otel::CallSpan>) {
        if self.traceparent.is_some() {
            return (self, None);
        }
        let trace = crate::scope::Scope::current_trace();
        match crate::otel::start_call(&self.function_id, action, trace.as_deref()) {
            Some(span) => {
                let call = Invocation {
                    span_parent: Some(span.traceparent()),
                    ..self
                };
                (call, Some(span))
            }
            None => (self, None),
        }
    }

    /// Hands the call to the engine's queue named `queue` and returns the
    /// receipt once the queue has accepted it. The function runs later, with
    /// the queue's retries.
    pub async fn enqueue(mut self, queue: impl Into<String>) -> Result<EnqueueReceipt, Error> {
        let queue = queue.into();
        if queue.trim().is_empty() {
            return Err(Error::invalid("queue name", "it is empty"));
        }
        self.action = Some(TriggerAction::Enqueue { queue });
        let timeout = self
            .timeout
            .unwrap_or(self.worker.inner.config.default_timeout);
        let (function_id, receipt) = send_call(self, timeout, Shape::Text).outcome().await?;
        decode_result(receipt, || {
            format!("the enqueue receipt for `{function_id}`")
        })
    }
}

/// The live session, or the error a call made now fails with.
fn live_session(worker: &Worker, function_id: &str) -> Result<Session, Error> {
    worker.session().ok_or_else(|| {
        let function_id = function_id.to_string();
        if worker.is_shutting_down() {
            Error::Shutdown { function_id }
        } else {
            Error::NotConnected { function_id }
        }
    })
}

/// The error for a frame the session did not take: it closed.
fn refused(worker: &Worker, _: Closed, function_id: String) -> Error {
    if worker.is_shutting_down() {
        Error::Shutdown { function_id }
    } else {
        Error::ConnectionLost { function_id }
    }
}

fn send(worker: &Worker, frame: Frame, function_id: String) -> Result<(), Error> {
    let session = live_session(worker, &function_id)?;
    session
        .send(frame)
        .map_err(|error| refused(worker, error, function_id))
}

/// A call on its way: answered already (by a test double, or refused
/// before it went out), or sent and waiting for its answer.
///
/// Everything up to the wait is done in [`send_call`], a plain function:
/// the future of [`Invocation::call`] then holds the invocation and this,
/// not a chain of nested futures each keeping its own copy of the
/// invocation (with `Value` results: 952 bytes, where the chain took
/// 2,224, moved on every call).
enum Sent {
    Done(Result<(String, Option<ResultValue>), Error>),
    Waiting(Waiting),
}

/// A call sent on `session` under `id`, its answer to come on `answer`.
struct Waiting {
    worker: Worker,
    function_id: String,
    id: Uuid,
    session: Session,
    answer: tokio::sync::oneshot::Receiver<crate::session::Outcome>,
    /// After which the session fails the call with
    /// [`crate::session::Failure::TimedOut`].
    timeout: Duration,
    /// The call's client span (feature `otel`), ended with the outcome.
    #[cfg(feature = "otel")]
    span: Option<crate::otel::CallSpan>,
}

/// Stops waiting for a call if its future is dropped before the answer.
struct Forget<'a> {
    session: &'a Session,
    id: Uuid,
    answered: bool,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.session.forget(&self.id);
        }
    }
}

/// Sends an invocation with a fresh id (in a client span, with the `otel`
/// feature), to fail with a timeout after `timeout`, or answers it at
/// once: from a test double, or with the error that stopped it going out.
fn send_call(call: Invocation, timeout: Duration, shape: Shape) -> Sent {
    // A test double answers instead of an engine (one branch for real
    // workers, whose `double` is `None`).
    if let Some(double) = &call.worker.inner.double {
        let answered = call
            .outgoing()
            .and_then(|outgoing| double.clone().answer(outgoing));
        let answered = answered.map(|value| (call.function_id, Some(ResultValue::Tree(value))));
        return Sent::Done(answered);
    }
    #[cfg(feature = "otel")]
    let (call, span) = {
        let action = if call.action.is_some() {
            "enqueue"
        } else {
            "call"
        };
        call.in_span(action)
    };
    let sent = register_and_send(call, timeout, shape);
    #[cfg(feature = "otel")]
    let sent = match sent {
        Ok(mut waiting) => {
            waiting.span = span;
            Ok(waiting)
        }
        Err(error) => {
            if let Some(span) = span {
                span.end(Some(&error));
            }
            Err(error)
        }
    };
    match sent {
        Ok(waiting) => Sent::Waiting(waiting),
        Err(error) => Sent::Done(Err(error)),
    }
}

fn register_and_send(call: Invocation, timeout: Duration, shape: Shape) -> Result<Waiting, Error> {
    let id = crate::ids::next_uuid();
    let frame = call.frame(Some(id))?;
    let Invocation {
        worker,
        function_id,
        ..
    } = call;
    let session = live_session(&worker, &function_id)?;
    match session.call(id, frame, timeout, shape) {
        Ok(answer) => Ok(Waiting {
            worker,
            function_id,
            id,
            session,
            answer,
            timeout,
            #[cfg(feature = "otel")]
            span: None,
        }),
        // Never registered, so nothing to forget.
        Err(refusal) => Err(refused(&worker, refusal, function_id)),
    }
}

impl Sent {
    /// The call's result, or the failure that came instead (the session
    /// times the call out).
    async fn outcome(self) -> Result<(String, Option<ResultValue>), Error> {
        let waiting = match self {
            Sent::Done(outcome) => return outcome,
            Sent::Waiting(waiting) => waiting,
        };
        // The span (feature `otel`) stays in `waiting` for the end.
        let Waiting {
            worker,
            function_id,
            id,
            session,
            answer,
            timeout,
            ..
        } = waiting;
        let mut forget = Forget {
            session: &session,
            id,
            answered: false,
        };
        let outcome = answer.await;
        // An answered (or timed out) call was removed by the session.
        forget.answered = outcome.is_ok();
        drop(forget);
        let outcome = match outcome {
            Ok(Ok(result)) => Ok((function_id, result)),
            Ok(Err(failure)) => Err(failure_error(failure, function_id, (id, timeout), &worker)),
            Err(_dropped) => Err(Error::ConnectionLost { function_id }),
        };
        #[cfg(feature = "otel")]
        if let Some(span) = waiting.span {
            span.end(outcome.as_ref().err());
        }
        outcome
    }
}

/// The error the caller of `function_id` sees for `failure`, its call
/// made under `invocation_id` with `timeout`.
fn failure_error(
    failure: Failure,
    function_id: String,
    (invocation_id, timeout): (Uuid, Duration),
    worker: &Worker,
) -> Error {
    match failure {
        Failure::Remote(body) => Error::Remote { function_id, body },
        Failure::TimedOut => Error::Timeout {
            function_id,
            invocation_id,
            timeout,
        },
        Failure::Lost => Error::ConnectionLost { function_id },
        Failure::Shutdown => Error::Shutdown { function_id },
        Failure::Fatal(fatal) => fatal.to_error(worker.url()),
    }
}
