//! A JSON request body passed on as it came: checked, never parsed into a
//! tree. The payload holds a marker where the body goes; the frame to the
//! worker gets the body's bytes in the marker's place, and the body's item
//! on the `request_body` channel is a slice of that frame. So a body costs
//! the engine its size about twice (the frame, and the socket's copy as it
//! writes it), not once per tree, string and frame.

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// A checked JSON body, on its way to the function a request calls.
#[derive(Debug)]
pub(crate) struct RawBody {
    /// The JSON string that stands for the body in the payload.
    marker: String,
    json: Bytes,
    /// Where the body's bytes go once placed: a slice of the frame that
    /// carries them, or the body itself when no frame does.
    placed: oneshot::Sender<Bytes>,
}

impl RawBody {
    /// `json` as a body to pass on, if it is one JSON value; the marker to
    /// put in the payload where it goes; and where its bytes come back
    /// once placed.
    pub(crate) fn new(json: Bytes) -> Option<(RawBody, Value, oneshot::Receiver<Bytes>)> {
        // Read as a tree would be read (every string unescaped, every
        // number in range, the depth bounded), without building one.
        let text = std::str::from_utf8(&json).ok()?;
        let mut reader = serde_json::Deserializer::from_str(text);
        serde::de::DeserializeSeed::deserialize(Checked(0), &mut reader).ok()?;
        reader.end().ok()?;
        let marker = format!("iii-embedded:request-body:{}", uuid::Uuid::new_v4());
        let (placed, bytes) = oneshot::channel();
        let stand_in = Value::String(marker.clone());
        Some((
            RawBody {
                marker,
                json,
                placed,
            },
            stand_in,
            bytes,
        ))
    }

    /// The body as a tree, for a condition (which gets a payload of its
    /// own).
    pub(crate) fn parsed(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    /// Puts the body in `data` in its marker's place, parsed, for a call
    /// that goes out as no frame (a built-in's).
    pub(crate) fn substitute(self, data: &mut Value) {
        if let Some(body) = data
            .get_mut("body")
            .filter(|b| b.as_str() == Some(self.marker.as_str()))
        {
            *body = self.parsed();
        }
        let _ = self.placed.send(self.json);
    }

    /// Gives the body's bytes back unplaced (the call went nowhere).
    pub(crate) fn unplaced(self) {
        let _ = self.placed.send(self.json);
    }

    /// `frame`, an encoded invocation whose data holds the marker, with the
    /// body's bytes in the marker's place.
    pub(crate) fn splice(self, frame: String) -> Utf8Bytes {
        let quoted = format!("\"{}\"", self.marker);
        let Some(at) = frame.find(&quoted) else {
            tracing::error!("a request's frame lost its body's marker; the body goes unplaced");
            self.unplaced();
            return Utf8Bytes::from(frame);
        };
        let (head, tail) = (&frame[..at], &frame[at + quoted.len()..]);
        let mut out = Vec::with_capacity(head.len() + self.json.len() + tail.len());
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&self.json);
        out.extend_from_slice(tail.as_bytes());
        let body = head.len()..head.len() + self.json.len();
        drop(self.json);
        let out = Bytes::from(out);
        let _ = self.placed.send(out.slice(body));
        // The body was checked as UTF-8, and so is the frame around it.
        Utf8Bytes::try_from(out).unwrap_or_else(|e| {
            tracing::error!("a request's frame is not UTF-8 ({e}); it goes out empty");
            Utf8Bytes::from_static("")
        })
    }
}

/// The deepest a passed-on body may nest: the frame around it adds two
/// levels, and a worker reads no frame deeper than 128.
const MAX_DEPTH: usize = 125;

/// Checks one JSON value, `.0` levels down, as a tree's parse would, and
/// keeps nothing of it.
struct Checked(usize);

impl<'de> serde::de::DeserializeSeed<'de> for Checked {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Checked {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a JSON value at most {MAX_DEPTH} levels deep")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let depth = self.deeper::<A::Error>()?;
        while seq.next_element_seed(Checked(depth))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let depth = self.deeper::<A::Error>()?;
        while map.next_key_seed(Checked(depth))?.is_some() {
            map.next_value_seed(Checked(depth))?;
        }
        Ok(())
    }
}

impl Checked {
    fn deeper<E: serde::de::Error>(&self) -> Result<usize, E> {
        match self.0 + 1 {
            depth if depth > MAX_DEPTH => Err(E::custom("nested too deep to pass on")),
            depth => Ok(depth),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_frame_carries_the_body_as_sent_and_the_channel_a_slice_of_it() {
        let sent = Bytes::from_static(br#"{"b": [1, 2.50, "\u00e9"], "a": null}"#);
        let (raw, stand_in, mut placed) = RawBody::new(sent.clone()).expect("one JSON value");
        let frame = json!({"type": "invokefunction", "data": {"body": stand_in, "x": 1}});
        let text = raw.splice(frame.to_string());
        let back: Value = serde_json::from_str(text.as_str()).expect("a JSON frame");
        assert_eq!(back["data"]["body"], json!({"a": null, "b": [1, 2.5, "é"]}));
        assert_eq!(back["data"]["x"], json!(1));
        assert!(text.as_str().contains(r#"[1, 2.50, "\u00e9"]"#), "as sent");
        assert_eq!(placed.try_recv().expect("placed"), sent);
    }

    #[test]
    fn what_is_not_one_json_value_is_refused() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let bad: [&[u8]; 8] = [
            b"",
            b"{",
            b"1 2",
            b"\xff",
            b"\"\xc3\"",
            br#"["\ud800"]"#,
            b"[1e400]",
            deep.as_bytes(),
        ];
        for bad in bad {
            assert!(
                RawBody::new(Bytes::copy_from_slice(bad)).is_none(),
                "{bad:?}"
            );
        }
        let deepest = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(
            RawBody::new(Bytes::from(deepest)).is_some(),
            "as deep as may be"
        );
    }

    #[test]
    fn a_builtin_gets_the_body_parsed() {
        let (raw, stand_in, mut placed) =
            RawBody::new(Bytes::from_static(b"[true]")).expect("JSON");
        let mut data = json!({"body": stand_in});
        raw.substitute(&mut data);
        assert_eq!(data, json!({"body": [true]}));
        assert_eq!(placed.try_recv().expect("placed"), &b"[true]"[..]);
    }
}
