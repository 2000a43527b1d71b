//! The raw body of an `http` request: the bytes the engine sends on the
//! request's `request_body` channel, whatever the content type.

use std::sync::Mutex;

use bytes::Bytes;
use iii_protocol::{ChannelDirection, StreamChannelRef};
use serde_json::Value;

use super::ApiRequest;
use super::streamed::Streamed;
use crate::channel::scope::Scope;
use crate::channel::{ChannelReader, End, Endpoint};
use crate::error::Error;
use crate::sync::lock;

/// The channels of one `http` fire, shared by every decoding of its
/// request (the handler's input and [`crate::Context::request`]) so that
/// the body is read from the engine once.
pub(crate) struct InvocationChannels {
    endpoint: Endpoint,
    request_body: Option<StreamChannelRef>,
    response: Option<StreamChannelRef>,
    body: tokio::sync::Mutex<BodyState>,
    /// The streamed response the handler returned, for dispatch to send.
    streamed: Mutex<Option<Streamed>>,
}

enum BodyState {
    Unread,
    Read(Bytes),
    /// Handed out by [`ApiRequest::body_reader`].
    Handed,
}

impl InvocationChannels {
    /// The channels an `http` fire's payload names.
    pub(crate) fn of_fire(endpoint: Endpoint, data: &Value) -> InvocationChannels {
        let channel = |key: &str| {
            data.get(key)
                .filter(|v| StreamChannelRef::is_ref(v))
                .and_then(|v| serde_json::from_value::<StreamChannelRef>(v.clone()).ok())
        };
        InvocationChannels {
            endpoint,
            request_body: channel("request_body"),
            response: channel("response"),
            body: tokio::sync::Mutex::new(BodyState::Unread),
            streamed: Mutex::new(None),
        }
    }

    /// Keeps the handler's streamed response for dispatch to send.
    pub(crate) fn defer(&self, streamed: Streamed) -> Result<(), &'static str> {
        if self.response.is_none() {
            return Err("this http fire carries no `response` channel to stream on");
        }
        *lock(&self.streamed) = Some(streamed);
        Ok(())
    }

    /// The streamed response the handler returned, with the channel it
    /// goes out on.
    pub(crate) fn take_streamed(&self) -> Option<(Streamed, End)> {
        let streamed = lock(&self.streamed).take()?;
        let channel = self.response.clone()?;
        Some((
            streamed,
            End {
                channel,
                direction: ChannelDirection::Write,
                endpoint: self.endpoint.clone(),
            },
        ))
    }
}

/// What an [`ApiRequest`] decoded in a handler knows of the engine and the
/// invocation (nothing, elsewhere). Never serialised; always equal.
#[derive(Clone, Default)]
pub(crate) struct RequestLink(Option<Scope>);

impl RequestLink {
    /// The scope of the handler or call decoding the request.
    pub(crate) fn current() -> RequestLink {
        RequestLink(Scope::current())
    }
}

impl PartialEq for RequestLink {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for RequestLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
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
        let (scope, channel) = self.body_source()?;
        let Some(invocation) = scope
            .invocation
            .as_ref()
            .filter(|i| i.request_body.as_ref() == Some(channel))
        else {
            // Not this invocation's own request: read it, uncached.
            return ChannelReader::new(end(&scope.endpoint, channel))
                .read_all()
                .await;
        };
        let mut state = invocation.body.lock().await;
        match &*state {
            BodyState::Read(bytes) => Ok(bytes.clone()),
            BodyState::Handed => Err(end(&scope.endpoint, channel)
                .error("the body was handed out by `body_reader`; read it from that reader")),
            BodyState::Unread => {
                let bytes = ChannelReader::new(end(&scope.endpoint, channel))
                    .read_all()
                    .await?;
                *state = BodyState::Read(bytes.clone());
                Ok(bytes)
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
        let (scope, channel) = self.body_source()?;
        let mut reader = ChannelReader::new(end(&scope.endpoint, channel));
        if let Some(invocation) = scope
            .invocation
            .as_ref()
            .filter(|i| i.request_body.as_ref() == Some(channel))
        {
            let mut state = invocation.body.lock().await;
            if !matches!(*state, BodyState::Unread) {
                return Err(end(&scope.endpoint, channel).error(
                    "the body was read already (by `body_bytes` or `body_reader`); each request's body is read once",
                ));
            }
            *state = BodyState::Handed;
        }
        reader.open().await?;
        Ok(reader)
    }

    fn body_source(&self) -> Result<(&Scope, &StreamChannelRef), Error> {
        let Some(channel) = &self.request_body else {
            return Err(Error::invalid(
                "request body",
                "this request carries no `request_body` channel: it did not come from an http trigger fire",
            ));
        };
        let Some(scope) = &self.link.0 else {
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
