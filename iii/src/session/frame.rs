//! What may go on the wire: every frame the worker sends is encoded here,
//! and checked against what the engine reads.
//!
//! A [`Frame`] is made only by [`Rules::encode`] (or is one of the fixed
//! frames below), so a session sends nothing unchecked:
//!
//! - no larger than the frame limit (the engine's 16 MiB by default): the
//!   engine drops the whole connection of a worker that sends more;
//! - nested no deeper than the engine decodes
//!   ([`iii_protocol::depth::MAX_FRAME_DEPTH`]): it would drop the frame
//!   without an answer.
//!
//! Each refusal names what was being sent. What goes into a frame (ids,
//! namespaces, configs) is checked where it is built, by the rules of
//! [`iii_protocol::rules`].

use serde::Serialize;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::error::Error;

/// A frame that passed the rules, ready for the socket. Cloning it shares
/// the text (the registry keeps each registration's frame for replays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame(Utf8Bytes);

impl Frame {
    /// The frame's JSON text.
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The frame's JSON text, for the socket.
    pub(crate) fn into_text(self) -> Utf8Bytes {
        self.0
    }

    /// The JSON keepalive frame.
    pub(crate) fn ping() -> Frame {
        Frame(Utf8Bytes::from_static("{\"type\":\"ping\"}"))
    }

    /// The answer to the engine's JSON ping.
    pub(crate) fn pong() -> Frame {
        Frame(Utf8Bytes::from_static("{\"type\":\"pong\"}"))
    }

    /// Any text, for the session's own tests.
    #[cfg(test)]
    pub(crate) fn unchecked(text: impl Into<String>) -> Frame {
        Frame(text.into().into())
    }
}

/// The buffer a frame is first written into, in bytes: an invocation and
/// its answer with a small payload fit (serde_json starts from 128 and
/// doubles, a copy each time).
const FIRST_BUFFER: usize = 256;

/// The rules of one worker's frames.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// The largest frame sent, in bytes.
    pub(crate) max_frame: usize,
}

impl Rules {
    /// Encodes `message` and checks it; `what` names it in errors
    /// ("the call to `billing::total`").
    pub(crate) fn encode<M: Serialize + ?Sized>(
        &self,
        message: &M,
        what: impl Fn() -> String,
    ) -> Result<Frame, Error> {
        self.encode_sized(message, 0, what)
    }

    /// [`Rules::encode`] into a buffer of at least `size` bytes (a call's
    /// payload and then some), so that a frame is written without growing
    /// its buffer on the way.
    pub(crate) fn encode_sized<M: Serialize + ?Sized>(
        &self,
        message: &M,
        size: usize,
        what: impl Fn() -> String,
    ) -> Result<Frame, Error> {
        let mut bytes = Vec::with_capacity(size.max(FIRST_BUFFER));
        serde_json::to_writer(&mut bytes, message).map_err(|source| Error::Encode {
            what: what(),
            source,
        })?;
        // serde_json writes UTF-8 only; the check is one pass over ASCII.
        let text = String::from_utf8(bytes).map_err(|e| Error::Invalid {
            what: what(),
            reason: format!("the encoder wrote invalid UTF-8: {e}"),
        })?;
        if text.len() > self.max_frame {
            return Err(Error::FrameTooLarge {
                what: what(),
                size: text.len(),
                limit: self.max_frame,
            });
        }
        if let Some(depth) = iii_protocol::depth::too_deep(&text) {
            return Err(Error::TooDeep {
                what: what(),
                depth,
                limit: iii_protocol::depth::MAX_FRAME_DEPTH,
            });
        }
        Ok(Frame(text.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn rules(max_frame: usize) -> Rules {
        Rules { max_frame }
    }

    #[test]
    fn a_frame_over_the_limit_is_refused_naming_it() {
        let big = json!({"data": "x".repeat(100)});
        let error = rules(64).encode(&big, || "the call to `f`".into());
        match error {
            Err(Error::FrameTooLarge { what, size, limit }) => {
                assert_eq!((what.as_str(), limit), ("the call to `f`", 64));
                assert_eq!(size, big.to_string().len());
            }
            other => panic!("expected FrameTooLarge, got {other:?}"),
        }
        let frame = rules(1 << 20).encode(&big, || "f".into()).expect("fits");
        assert_eq!(frame.as_str(), big.to_string());
    }

    #[test]
    fn a_frame_nested_deeper_than_the_engine_decodes_is_refused() {
        let limit = iii_protocol::depth::MAX_FRAME_DEPTH;
        // The frame's own object is one level: the data may nest one less.
        let nest =
            |levels: usize| (0..levels).fold(Value::Null, |inner, _| Value::Array(vec![inner]));
        let fits = json!({"data": nest(limit - 1)});
        assert!(rules(1 << 20).encode(&fits, || "f".into()).is_ok());
        let deep = json!({"data": nest(limit)});
        match rules(1 << 20).encode(&deep, || "the result of `f`".into()) {
            Err(Error::TooDeep { what, depth, .. }) => {
                assert_eq!((what.as_str(), depth), ("the result of `f`", limit + 1));
            }
            other => panic!("expected TooDeep, got {other:?}"),
        }
    }
}
