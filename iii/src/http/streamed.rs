//! Responses whose body is streamed: status and headers first, then the
//! body in chunks as it is produced (server-sent events, large downloads).
//!
//! The engine streams an `http` response when the handler answers `null`
//! and writes the response on the request's `response` channel: text
//! messages set the status and headers, binary chunks are the body, and
//! closing the channel ends it. [`StreamedResponse`] does all of that: a
//! handler returns one, the SDK answers `null` and writes it.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Mutex;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use iii_protocol::channel::ResponseControl;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::ser::Error as _;
use serde::{Serialize, Serializer};
use serde_json::Value;
use tokio::sync::mpsc;

use super::ApiResponse;
use super::body::Deferred;
use crate::channel::{ChannelWriter, End};
use crate::error::Error;
use crate::scope::Scope;
use crate::sync::lock;

type Body = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// Chunks a [`BodySender`] may be ahead of the engine.
const SENDER_CAPACITY: usize = 16;

/// An `http` response whose body is sent in chunks as it is produced,
/// after the status and headers; or, made from an [`ApiResponse`], a
/// whole one (so one handler can answer either way).
///
/// Return it from the function of an `http` trigger (with the macro or
/// [`crate::Function::new`]); the body stream runs after the handler
/// returns, and the response ends with it. No timeout applies once the
/// first chunk is out.
///
/// ```no_run
/// use std::time::Duration;
/// use iii::http::{ApiRequest, StreamedResponse};
///
/// /// Counts to five, one server-sent event a second.
/// #[iii::function]
/// #[iii::trigger(http, path = "/count", method = "GET")]
/// async fn count(_req: ApiRequest) -> StreamedResponse {
///     let (response, body) = StreamedResponse::channel(200);
///     tokio::spawn(async move {
///         for n in 1..=5 {
///             if body.send(format!("data: {n}\n\n")).await.is_err() {
///                 return; // the client went away
///             }
///             tokio::time::sleep(Duration::from_secs(1)).await;
///         }
///     });
///     response.header("content-type", "text/event-stream")
/// }
/// ```
pub struct StreamedResponse {
    /// Taken when the response is sent (serialisation takes `&self`).
    kind: Mutex<Option<Kind>>,
}

enum Kind {
    Whole(Result<Value, String>),
    Streamed(Streamed),
    /// Written on the `response` channel by other code.
    Elsewhere,
}

/// A streamed response on its way to dispatch.
pub(crate) struct Streamed {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Body,
}

impl std::fmt::Debug for StreamedResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("StreamedResponse");
        match &*lock(&self.kind) {
            Some(Kind::Streamed(s)) => d.field("status", &s.status).field("headers", &s.headers),
            Some(Kind::Whole(value)) => d.field("whole", value),
            Some(Kind::Elsewhere) => d.field("elsewhere", &true),
            None => d.field("sent", &true),
        };
        d.finish_non_exhaustive()
    }
}

impl StreamedResponse {
    /// A response with `status_code` (100 to 599) and, until one is set, an
    /// empty body.
    pub fn new(status_code: u16) -> Self {
        Self::streamed(Streamed {
            status: status_code,
            headers: BTreeMap::new(),
            body: Box::pin(futures_util::stream::empty()),
        })
    }

    /// A response with `status_code` whose body is what the returned
    /// [`BodySender`] sends; the body ends when the sender is dropped.
    pub fn channel(status_code: u16) -> (Self, BodySender) {
        let (tx, mut rx) = mpsc::channel(SENDER_CAPACITY);
        let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        (Self::new(status_code).body(body), BodySender { tx })
    }

    /// Answers the fire without a response of its own: other code writes
    /// the response on the request's `response` channel (a worker given
    /// [`ApiRequest::response`](super::ApiRequest::response), or a writer
    /// opened on it), with `set_status`/`set_headers` text messages
    /// ([`crate::channel::ResponseControl`]), then the body's bytes, then
    /// the end. (A handler that returns nothing answers 204 instead, which
    /// would race that response.)
    pub fn written_elsewhere() -> Self {
        StreamedResponse {
            kind: Mutex::new(Some(Kind::Elsewhere)),
        }
    }

    fn streamed(streamed: Streamed) -> Self {
        StreamedResponse {
            kind: Mutex::new(Some(Kind::Streamed(streamed))),
        }
    }

    /// Adds a header (one value per name; a later one replaces it).
    pub fn header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        match lock(&self.kind).as_mut() {
            Some(Kind::Streamed(s)) => {
                s.headers.insert(name, value);
            }
            Some(Kind::Whole(Ok(Value::Object(whole)))) => {
                let headers = whole
                    .entry("headers")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Value::Object(headers) = headers {
                    headers.insert(name, Value::String(value));
                }
            }
            _ => {}
        }
        self
    }

    /// Sets the body to `stream`'s chunks. An error from the stream ends
    /// the response: before any chunk, with status 500 (and the headers
    /// set here); after, cut short, which the client sees as a complete,
    /// shorter body (the engine's response channel has no way to abort).
    pub fn body<S, B, E>(self, stream: S) -> Self
    where
        S: Stream<Item = Result<B, E>> + Send + 'static,
        B: Into<Bytes>,
        E: Into<Error>,
    {
        if let Some(Kind::Streamed(s)) = lock(&self.kind).as_mut() {
            s.body = Box::pin(stream.map(|chunk| chunk.map(Into::into).map_err(Into::into)));
        }
        self
    }
}

impl<B: Serialize> From<ApiResponse<B>> for StreamedResponse {
    /// The whole response, sent as the handler's result.
    fn from(response: ApiResponse<B>) -> Self {
        let whole = serde_json::to_value(&response).map_err(|e| e.to_string());
        StreamedResponse {
            kind: Mutex::new(Some(Kind::Whole(whole))),
        }
    }
}

impl Serialize for StreamedResponse {
    /// A whole response serialises as an [`ApiResponse`]; a streamed one is
    /// handed to the invocation being answered and serialises as `null`
    /// (the engine's signal that the response comes on the channel).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let kind = lock(&self.kind)
            .take()
            .ok_or_else(|| S::Error::custom("a StreamedResponse can be sent only once"))?;
        let deferred = match kind {
            Kind::Whole(Ok(value)) => return value.serialize(serializer),
            Kind::Whole(Err(e)) => return Err(S::Error::custom(e)),
            Kind::Streamed(streamed) if !(100..=599).contains(&streamed.status) => {
                return Err(S::Error::custom(format!(
                    "status {} is outside 100..=599, the statuses the engine sends",
                    streamed.status
                )));
            }
            Kind::Streamed(streamed) => Deferred::Streamed(streamed),
            Kind::Elsewhere => Deferred::Elsewhere,
        };
        let invocation = Scope::current().and_then(|s| s.invocation).ok_or_else(|| {
            S::Error::custom(
                "a StreamedResponse answers only an http trigger fire; return it from the function of an http binding",
            )
        })?;
        invocation.defer(deferred).map_err(S::Error::custom)?;
        serializer.serialize_unit()
    }
}

impl JsonSchema for StreamedResponse {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StreamedResponse".into()
    }
    /// Any value: a streamed body has no JSON shape.
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        Schema::from(true)
    }
}

/// The sending half of [`StreamedResponse::channel`]: each chunk goes to
/// the client as it is sent; dropping the sender ends the body.
#[derive(Debug, Clone)]
pub struct BodySender {
    tx: mpsc::Sender<Result<Bytes, Error>>,
}

impl BodySender {
    /// Sends one chunk, waiting while 16 chunks are ahead of the engine.
    /// Fails once the response is gone (the client left, or sending it
    /// failed), so a producer knows to stop.
    pub async fn send(&self, chunk: impl Into<Bytes>) -> Result<(), Error> {
        self.tx.send(Ok(chunk.into())).await.map_err(|_| gone())
    }

    /// Ends the body with `error`: before any chunk, the client gets 500;
    /// after, a body cut short (which it cannot tell from a whole one).
    pub async fn fail(self, error: Error) -> Result<(), Error> {
        self.tx.send(Err(error)).await.map_err(|_| gone())
    }
}

fn gone() -> Error {
    Error::invalid(
        "streamed response",
        "it is no longer being sent (the client went away, or writing the response failed)",
    )
}

/// Writes a streamed response on the `response` channel: the status and
/// headers as control messages, then the body, then the end.
pub(crate) async fn send(streamed: Streamed, end: End) {
    let Streamed {
        status,
        headers,
        mut body,
    } = streamed;
    let channel_id = end.channel.channel_id.clone();
    let mut writer = ChannelWriter::new(end);
    let head = async {
        writer
            .send_json(&ResponseControl::SetStatus {
                status_code: status,
            })
            .await?;
        if !headers.is_empty() {
            writer
                .send_json(&ResponseControl::SetHeaders { headers })
                .await?;
        }
        Ok::<_, Error>(())
    };
    if let Err(error) = head.await {
        tracing::warn!(channel_id, "a streamed response could not start: {error}");
        return;
    }
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => {
                if let Err(error) = writer.send_bytes(bytes).await {
                    tracing::warn!(
                        channel_id,
                        "a streamed response was cut short (has the client gone?): {error}"
                    );
                    return;
                }
            }
            Err(error) => {
                if writer.bytes_written() == 0 {
                    let failed = ResponseControl::SetStatus { status_code: 500 };
                    let _ = writer.send_json(&failed).await;
                }
                tracing::warn!(
                    channel_id,
                    "the body of a streamed response failed after {} bytes: {error}",
                    writer.bytes_written()
                );
                break;
            }
        }
    }
    if let Err(error) = writer.close().await {
        tracing::warn!(
            channel_id,
            "a streamed response did not end cleanly: {error}"
        );
    }
}
