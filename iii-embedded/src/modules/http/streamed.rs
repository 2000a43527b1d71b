//! A streamed response: the head its control messages set, then the
//! binary chunks of the `response` channel as the body.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::Value;

use super::replies::Reply;
use crate::modules::channels::{Item, ItemReceiver};

/// The status and headers a streamed response's control messages set.
pub(super) struct Head {
    status: StatusCode,
    headers: BTreeMap<String, String>,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            status: StatusCode::OK,
            headers: BTreeMap::new(),
        }
    }
}

impl Head {
    /// Applies `set_status` (100 to 599) or `set_headers` (string values,
    /// merged); any other text is ignored, as by the engine.
    pub(super) fn apply(&mut self, text: &str) {
        let Ok(control) = serde_json::from_str::<Value>(text) else {
            return;
        };
        match control.get("type").and_then(Value::as_str) {
            Some("set_status") => {
                if let Some(status) = control
                    .get("status_code")
                    .and_then(Value::as_u64)
                    .filter(|s| (100..=599).contains(s))
                    .and_then(|s| u16::try_from(s).ok())
                    .and_then(|s| StatusCode::from_u16(s).ok())
                {
                    self.status = status;
                }
            }
            Some("set_headers") => {
                if let Some(Value::Object(headers)) = control.get("headers") {
                    for (name, value) in headers {
                        if let Some(value) = value.as_str() {
                            self.headers.insert(name.clone(), value.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The response: the head, then `first` and every later binary chunk
    /// (text after the first chunk is skipped), until the channel ends.
    pub(super) fn streamed(self, first: Option<Bytes>, mut rest: ItemReceiver) -> Reply {
        let tail = futures_util::stream::poll_fn(move |cx| {
            loop {
                match std::task::ready!(rest.poll_recv(cx)) {
                    Some(Item::Binary(chunk)) => {
                        return std::task::Poll::Ready(Some(Ok(Frame::data(chunk))));
                    }
                    Some(Item::Text(_)) => continue,
                    None => return std::task::Poll::Ready(None),
                }
            }
        });
        let body =
            futures_util::stream::iter(first.map(|chunk| Ok(Frame::data(chunk)))).chain(tail);
        let mut reply = Response::new(StreamBody::new(body).boxed_unsync());
        *reply.status_mut() = self.status;
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                // Appended, as the engine builds it: names that differ in
                // case are separate entries of its map.
                reply.headers_mut().append(name, value);
            }
        }
        reply
    }
}
