//! Where a worker's channel sockets go, and how one end is attached.

use std::sync::Arc;
use std::time::Duration;

use iii_protocol::{ChannelDirection, StreamChannelRef};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::error::Error;

/// One attached end of a channel.
pub(crate) use crate::tls::Socket;

/// Why an end cannot attach outside a tokio runtime.
pub(crate) const NO_RUNTIME: &str =
    "channel ends attach from a tokio runtime; use them inside one (the worker's)";

/// How long attaching may take (the engine's own handshake limit).
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);

/// The address channel sockets are opened at: the worker socket's scheme,
/// host and port (the engine serves channels on the worker port), and its
/// query (credentials such as `?token=` go to every socket of the engine,
/// as in the official SDKs from 0.24).
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    base: Arc<str>,
    /// The worker URL's query, without `?`, put before a socket's own.
    query: Option<Arc<str>>,
    /// The worker's handshake headers, sent on channel sockets too (a
    /// proxy in front of the engine may want them).
    headers: Arc<[(String, String)]>,
    /// TLS for a `wss://` engine.
    connector: crate::tls::Connector,
}

impl Endpoint {
    /// The endpoint of the engine whose worker socket is `worker_url`.
    pub(crate) fn new(worker_url: &str) -> Endpoint {
        let uri = worker_url.parse::<Uri>().ok();
        let base = match uri.as_ref().map(|u| (u.scheme_str(), u.authority())) {
            Some((Some(scheme), Some(authority))) => format!("{scheme}://{authority}"),
            _ => worker_url.trim_end_matches('/').to_string(),
        };
        let query = uri
            .as_ref()
            .and_then(Uri::query)
            .filter(|q| !q.is_empty())
            .map(Arc::from);
        Endpoint {
            base: base.into(),
            query,
            headers: Arc::new([]),
            connector: crate::tls::Connector::default(),
        }
    }

    /// The same endpoint, opening sockets with `connector`.
    pub(crate) fn with_connector(mut self, connector: crate::tls::Connector) -> Endpoint {
        self.connector = connector;
        self
    }

    /// The same endpoint, sending `headers` with every attach.
    pub(crate) fn with_headers(mut self, headers: &[(String, String)]) -> Endpoint {
        self.headers = headers.into();
        self
    }

    /// The engine's address for `path` (which starts with `/` and may
    /// carry a query of its own, which goes after the worker URL's).
    pub(crate) fn url(&self, path: &str) -> String {
        let Some(query) = &self.query else {
            return format!("{}{path}", self.base);
        };
        match path.split_once('?') {
            Some((path, own)) => format!("{}{path}?{query}&{own}", self.base),
            None => format!("{}{path}?{query}", self.base),
        }
    }

    /// Opens the socket at `path` with the worker's headers and TLS,
    /// giving up after [`ATTACH_TIMEOUT`] (`None`).
    pub(crate) async fn dial(
        &self,
        path: &str,
        config: WebSocketConfig,
    ) -> Option<Result<Socket, WsError>> {
        let url = self.url(path);
        let dialled = self.connector.connect_url(&url, &self.headers, config);
        match tokio::time::timeout(ATTACH_TIMEOUT, dialled).await {
            Ok(result) => Some(result.map(|(socket, _)| socket)),
            Err(_) => None,
        }
    }
}

/// One end of one channel: which channel, which way, at which engine.
#[derive(Debug, Clone)]
pub(crate) struct End {
    pub(crate) channel: StreamChannelRef,
    pub(crate) direction: ChannelDirection,
    pub(crate) endpoint: Endpoint,
}

impl End {
    /// An error about this end.
    pub(crate) fn error(&self, reason: impl Into<String>) -> Error {
        Error::Channel {
            channel_id: self.channel.channel_id.clone(),
            end: self.direction,
            reason: reason.into(),
        }
    }

    fn path(&self) -> String {
        iii_protocol::channel::channel_path(
            &self.channel.channel_id,
            &self.channel.access_key,
            self.direction,
        )
    }

    /// Opens this end's socket; items up to `max_item` bytes are read.
    pub(crate) async fn attach(self, max_item: usize) -> Result<Socket, Error> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(max_item))
            .max_frame_size(Some(max_item));
        match self.endpoint.dial(&self.path(), config).await {
            Some(Ok(socket)) => Ok(socket),
            Some(Err(e)) => Err(self.error(attach_failure(&e, &self.endpoint.base))),
            None => Err(self.error(format!(
                "the engine at {} did not accept the channel socket within {ATTACH_TIMEOUT:?}",
                self.endpoint.base
            ))),
        }
    }
}

/// Why attaching failed, in words that say what to check.
fn attach_failure(error: &WsError, base: &str) -> String {
    match error {
        WsError::Http(response) if response.status() == 404 => {
            "the engine knows no channel with this id and key (404): the ref is wrong, \
             the channel was swept 5 minutes after its creation because an end never attached, \
             or it belonged to an http request that has already been answered"
                .to_string()
        }
        WsError::Http(response) => {
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            format!(
                "the engine refused to attach it (HTTP {}: {})",
                response.status(),
                body.trim()
            )
        }
        other => format!("could not reach the engine at {base}: {other}"),
    }
}

/// What a read or write error on an attached socket means.
pub(crate) fn socket_failure(error: &WsError, max_item: usize) -> String {
    match error {
        WsError::Capacity(_) => format!(
            "an item larger than the {max_item}-byte read limit arrived; raise the limit with \
             `ChannelReader::max_item_size` before the reader attaches"
        ),
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            "the connection to the engine is closed".to_string()
        }
        WsError::Protocol(_) | WsError::Io(_) => format!(
            "the connection to the engine broke before the end of the stream ({error}); the data may be incomplete"
        ),
        other => format!("the channel socket failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(url: &str) -> End {
        End {
            channel: StreamChannelRef {
                channel_id: "c-1".into(),
                access_key: "k/1".into(),
                direction: ChannelDirection::Write,
            },
            direction: ChannelDirection::Read,
            endpoint: Endpoint::new(url),
        }
    }

    #[test]
    fn channel_urls_use_the_worker_sockets_host_and_port() {
        let url = |e: End| e.endpoint.url(&e.path());
        assert_eq!(
            url(end("ws://127.0.0.1:49134")),
            "ws://127.0.0.1:49134/ws/channels/c-1?key=k%2F1&dir=read"
        );
        assert_eq!(
            url(end("ws://engine.local:49134/")),
            "ws://engine.local:49134/ws/channels/c-1?key=k%2F1&dir=read",
            "a path on the worker url is not kept"
        );
        // The telemetry socket is on the worker port too.
        assert_eq!(
            Endpoint::new("ws://engine:49134/").url("/otel"),
            "ws://engine:49134/otel"
        );
    }

    /// A query on the worker URL (credentials, for a proxy or an auth
    /// function) goes to every socket, before the socket's own.
    #[test]
    fn the_worker_urls_query_is_kept() {
        let url = |e: End| e.endpoint.url(&e.path());
        assert_eq!(
            url(end("ws://engine:49134/?token=abc&team=x")),
            "ws://engine:49134/ws/channels/c-1?token=abc&team=x&key=k%2F1&dir=read"
        );
        assert_eq!(
            Endpoint::new("ws://engine:49134?token=abc").url("/otel"),
            "ws://engine:49134/otel?token=abc"
        );
        assert_eq!(
            url(end("ws://engine:49134/?")),
            "ws://engine:49134/ws/channels/c-1?key=k%2F1&dir=read"
        );
    }

    #[test]
    fn errors_name_the_channel_and_the_end() {
        let text = end("ws://h:1").error("gone").to_string();
        assert_eq!(text, "channel `c-1` (read end): gone");
    }
}
