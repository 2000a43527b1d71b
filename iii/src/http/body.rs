//! The raw body of an `http` request: the bytes the engine sends on the
//! request's `request_body` channel, whatever the content type.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use iii_protocol::{ChannelDirection, StreamChannelRef};
use serde_json::Value;

use super::ApiRequest;
use super::streamed::Streamed;
use crate::channel::{ChannelReader, End, Endpoint};
use crate::error::Error;
use crate::scope::Scope;
use crate::sync::lock;

/// The body of one request as this worker has read it, shared by every
/// copy of the request that reads it.
type BodyCell = Arc<tokio::sync::Mutex<BodyState>>;

/// The channels of one `http` fire, shared by every decoding of its
/// request (the handler's input and [`crate::Context::request`]) so that
/// the body is read from the engine once.
pub(crate) struct InvocationChannels {
    endpoint: Endpoint,
    request_body: Option<StreamChannelRef>,
    response: Option<StreamChannelRef>,
    body: BodyCell,
    /// What the handler answered the fire with, for dispatch to send.
    answer: Mutex<Option<Deferred>>,
}

/// A handler's answer that goes out on the `response` channel.
pub(crate) enum Deferred {
    /// The SDK writes this response there.
    Streamed(Streamed),
    /// Other code writes the response there (another worker given the ref,
    /// or a writer opened on it): answer `null` and leave it to them.
    Elsewhere,
}

enum BodyState {
    Unread,
    Read(Bytes),
    /// Handed out by [`ApiRequest::body_reader`].
    Handed,
    /// A read that failed or was cancelled: the engine lets the body be
    /// read once, so later reads fail too.
    Failed(String),
}

fn new_cell() -> BodyCell {
    Arc::new(tokio::sync::Mutex::new(BodyState::Unread))
}

impl InvocationChannels {
    /// The channels an `http` fire's payload names.
    pub(crate) fn of_fire(endpoint: Endpoint, data: &Value) -> InvocationChannels {
        let channel = |key: &str| {
            data.get(key)
                .filter(|v| StreamChannelRef::is_ref(v))
                .and_then(|v| <StreamChannelRef as serde::Deserialize>::deserialize(v).ok())
        };
        InvocationChannels {
            endpoint,
            request_body: channel("request_body"),
            response: channel("response"),
            body: new_cell(),
            answer: Mutex::new(None),
        }
    }

    /// Keeps the handler's answer for dispatch to send.
    pub(crate) fn defer(&self, answer: Deferred) -> Result<(), &'static str> {
        if self.response.is_none() {
            return Err("this http fire carries no `response` channel to stream on");
        }
        *lock(&self.answer) = Some(answer);
        Ok(())
    }

    /// The handler's answer on the `response` channel, with the channel's
    /// writing end.
    pub(crate) fn take_deferred(&self) -> Option<(Deferred, End)> {
        let answer = lock(&self.answer).take()?;
        let channel = self.response.clone()?;
        Some((
            answer,
            End {
                channel,
                direction: ChannelDirection::Write,
                endpoint: self.endpoint.clone(),
            },
        ))
    }
}

/// What an [`ApiRequest`] decoded in a handler knows of the engine and the
/// invocation (nothing, elsewhere), and its own body, read once. Never
/// serialised; always equal.
#[derive(Clone)]
pub(crate) struct RequestLink {
    scope: Option<Scope>,
    /// The body, when this is not the invocation's own request.
    own: BodyCell,
    /// The raw body a test gave ([`crate::testing::ApiRequestBuilder`]).
    given: Option<Bytes>,
}

impl Default for RequestLink {
    fn default() -> Self {
        RequestLink {
            scope: None,
            own: new_cell(),
            given: None,
        }
    }
}

impl RequestLink {
    /// The scope of the handler or call decoding the request.
    pub(crate) fn current() -> RequestLink {
        RequestLink {
            scope: Scope::current(),
            own: new_cell(),
            given: None,
        }
    }
}

impl PartialEq for RequestLink {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for RequestLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.scope.is_some() {
            "linked"
        } else {
            "unlinked"
        })
    }
}

impl<B> ApiRequest<B> {
    /// The request body's bytes as the client sent them, whatever the
    /// content type (form posts, text, signed webhooks, JSON too: the
    /// engine sends every body on the request's `request_body` channel).
    /// Read from the engine on the first call and kept, so later calls
    /// and [`crate::Context::request`] get the same bytes.
    ///
    /// ```no_run
    /// use iii::http::{ApiRequest, ApiResponse};
    ///
    /// #[iii::function]
    /// #[iii::trigger(http, path = "/echo", method = "POST")]
    /// async fn echo(req: ApiRequest) -> Result<ApiResponse<String>, iii::Error> {
    ///     let raw = req.body_bytes().await?;
    ///     Ok(ApiResponse::ok(String::from_utf8_lossy(&raw).into_owned())
    ///         .header("content-type", "text/plain"))
    /// }
    /// ```
    pub async fn body_bytes(&self) -> Result<Bytes, Error> {
        if let Some(given) = self.given_body() {
            return Ok(given);
        }
        let (scope, channel) = self.body_source()?;
        let end = end(&scope.worker.channel_endpoint(), channel);
        let mut state = self.body_cell(scope, channel).lock().await;
        match &*state {
            BodyState::Read(bytes) => Ok(bytes.clone()),
            BodyState::Handed => {
                Err(end.error("the body was handed out by `body_reader`; read it from that reader"))
            }
            BodyState::Failed(why) => Err(end.error(format!(
                "an earlier read of the body failed ({why}); the engine lets a body be read once"
            ))),
            BodyState::Unread => {
                // Marked first: a read cut short by cancellation has taken
                // the engine's one attach of this end all the same.
                *state = BodyState::Failed("it was cancelled before it finished".into());
                match ChannelReader::new(end).read_all().await {
                    Ok(bytes) => {
                        *state = BodyState::Read(bytes.clone());
                        Ok(bytes)
                    }
                    Err(error) => {
                        *state = BodyState::Failed(error.to_string());
                        Err(error)
                    }
                }
            }
        }
    }

    /// The request body as UTF-8 text (see [`ApiRequest::body_bytes`]).
    pub async fn body_text(&self) -> Result<String, Error> {
        let bytes = self.body_bytes().await?;
        String::from_utf8(bytes.to_vec()).map_err(|e| Error::Decode {
            what: "the request body".into(),
            reason: format!("it is not UTF-8: {e}"),
        })
    }

    /// The request body as a stream, for bodies too large to hold: a
    /// reader already attached to the engine, so it must be taken before
    /// the response starts (the engine removes the request's channels
    /// then). Once per request, and not after [`ApiRequest::body_bytes`].
    pub async fn body_reader(&self) -> Result<ChannelReader, Error> {
        if self.given_body().is_some() {
            return Err(Error::invalid(
                "request body",
                "this request was built by a test with its body given; read it with `body_bytes` or `body_text` \
                 (a body reader needs an engine: use `iii::testing::Harness`)",
            ));
        }
        let (scope, channel) = self.body_source()?;
        let end = end(&scope.worker.channel_endpoint(), channel);
        let mut state = self.body_cell(scope, channel).lock().await;
        match &*state {
            BodyState::Unread => {}
            BodyState::Failed(why) => {
                return Err(end.error(format!(
                    "an earlier read of the body failed ({why}); the engine lets a body be read once"
                )));
            }
            BodyState::Read(_) | BodyState::Handed => {
                return Err(end.error(
                    "the body was read already (by `body_bytes` or `body_reader`); each request's body is read once",
                ));
            }
        }
        *state = BodyState::Failed("attaching it was cancelled".into());
        let mut reader = ChannelReader::new(end);
        match reader.open().await {
            Ok(()) => {
                *state = BodyState::Handed;
                Ok(reader)
            }
            Err(error) => {
                *state = BodyState::Failed(error.to_string());
                Err(error)
            }
        }
    }

    /// The raw body a test built this request with, if it was.
    fn given_body(&self) -> Option<Bytes> {
        match &self.request_body {
            None => self.link.given.clone(),
            Some(_) => None,
        }
    }

    /// The same request with `bytes` as its raw body, for tests.
    pub(crate) fn with_given_body(mut self, bytes: Bytes) -> Self {
        self.link.given = Some(bytes);
        self
    }

    /// Where this request's body is kept: with the invocation, for the
    /// invocation's own request; with this request (and its clones) else.
    fn body_cell<'a>(&'a self, scope: &'a Scope, channel: &StreamChannelRef) -> &'a BodyCell {
        match &scope.invocation {
            Some(invocation) if invocation.request_body.as_ref() == Some(channel) => {
                &invocation.body
            }
            _ => &self.link.own,
        }
    }

    fn body_source(&self) -> Result<(&Scope, &StreamChannelRef), Error> {
        let Some(channel) = &self.request_body else {
            return Err(Error::invalid(
                "request body",
                "this request carries no `request_body` channel: it did not come from an http trigger fire",
            ));
        };
        let Some(scope) = &self.link.scope else {
            return Err(Error::invalid(
                "request body",
                "this request was not decoded in a handler, so there is no engine to read its body from; \
                 open `request_body` with `Worker::open_reader`",
            ));
        };
        Ok((scope, channel))
    }
}

fn end(endpoint: &Endpoint, channel: &StreamChannelRef) -> End {
    End {
        channel: channel.clone(),
        direction: ChannelDirection::Read,
        endpoint: endpoint.clone(),
    }
}
