//! What can be read of a frame that does not decode: its type, and the
//! ids to answer it with.
//!
//! A frame whose payload does not parse (nested past serde_json's limit of
//! 127 levels, say, or missing a required field) must not leave its
//! sender waiting for ever: if the frame named an invocation, the reader
//! answers it with an error. `type`, `invocation_id` and `function_id` are
//! read wherever they stand; other values are skipped, however deep.

use std::cell::RefCell;
use std::fmt;

use serde::Deserializer;
use serde::de::{self, MapAccess, Visitor};
use uuid::Uuid;

use crate::{ErrorBody, InvocationResult};

/// The parts of an undecodable frame read before it failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Salvaged {
    /// The frame's `type`.
    pub kind: Option<String>,
    /// Its `invocation_id`, when it is a UUID.
    pub invocation_id: Option<Uuid>,
    /// Its `function_id`.
    pub function_id: Option<String>,
}

/// The code of every answer to a frame that does not decode.
pub const DESERIALIZATION_ERROR: &str = "deserialization_error";

/// Why a frame did not decode, in words for its sender.
pub fn reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if text.contains("recursion limit") {
        format!(
            "it nests arrays and objects deeper than {} levels, the frame's own object included ({text})",
            crate::depth::MAX_FRAME_DEPTH
        )
    } else {
        text
    }
}

/// How a reader answers a frame that does not decode, so that nobody waits
/// for it in vain.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// An invocation: the error result to send its caller (nothing ran).
    Invocation(InvocationResult),
    /// The result of a call: the error that call fails with.
    Result(InvocationResult),
}

/// The answer to `text`, a frame that [`crate::decode`] refused with
/// `error`: `None` unless it names an invocation id and is an invocation
/// or a result.
pub fn refusal(text: &str, error: &serde_json::Error) -> Option<Refusal> {
    let salvaged = salvage(text);
    let id = salvaged.invocation_id?;
    let function_id = salvaged.function_id.unwrap_or_default();
    let reason = reason(error);
    let refused = |message: String| {
        let body = ErrorBody::new(DESERIALIZATION_ERROR, message);
        InvocationResult::new(id, function_id.clone(), Err(body))
    };
    match salvaged.kind.as_deref()? {
        "invokefunction" => Some(Refusal::Invocation(refused(format!(
            "the invocation of `{function_id}` could not be read, so nothing ran: {reason}"
        )))),
        "invocationresult" => Some(Refusal::Result(refused(format!(
            "the result of `{function_id}` could not be read: {reason}"
        )))),
        _ => None,
    }
}

/// What [`salvage`] reads of a frame that [`crate::decode`] refused.
///
/// ```
/// let deep = format!(r#"{{"type":"invokefunction","invocation_id":"11111111-1111-4111-8111-111111111111","function_id":"f","data":{}{}}}"#, "[".repeat(500), "]".repeat(500));
/// assert!(iii_protocol::decode(&deep).is_err());
/// let s = iii_protocol::salvage::salvage(&deep);
/// assert_eq!(s.kind.as_deref(), Some("invokefunction"));
/// assert_eq!(s.function_id.as_deref(), Some("f"));
/// assert!(s.invocation_id.is_some());
/// ```
pub fn salvage(text: &str) -> Salvaged {
    let found = RefCell::new(Salvaged::default());
    let mut de = serde_json::Deserializer::from_str(text);
    // It stops with an error wherever the frame is broken: what was read
    // by then is kept.
    let _ = (&mut de).deserialize_map(Prefix(&found));
    found.into_inner()
}

struct Prefix<'a>(&'a RefCell<Salvaged>);

impl<'de> Visitor<'de> for Prefix<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a protocol frame")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => self.0.borrow_mut().kind = map.next_value()?,
                "function_id" => self.0.borrow_mut().function_id = map.next_value()?,
                "invocation_id" => {
                    let id: Option<String> = map.next_value()?;
                    self.0.borrow_mut().invocation_id = id.and_then(|s| Uuid::parse_str(&s).ok());
                }
                // Skipped without recursion (serde_json ignores a value
                // with a loop), however deep it nests.
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids after a payload too deep to decode are still found, so the
    /// sender is still answered, whatever order its keys come in.
    #[test]
    fn ids_after_a_deep_payload_are_read() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let text = format!(
            r#"{{"data":{deep},"function_id":"f","type":"invokefunction","invocation_id":"11111111-1111-4111-8111-111111111111"}}"#
        );
        assert!(crate::decode(&text).is_err());
        let found = salvage(&text);
        assert_eq!(found.kind.as_deref(), Some("invokefunction"));
        assert_eq!(found.function_id.as_deref(), Some("f"));
        assert_eq!(
            found.invocation_id.map(|id| id.to_string()).as_deref(),
            Some("11111111-1111-4111-8111-111111111111")
        );
    }

    #[test]
    fn refusals_answer_invocations_and_fail_results_only() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let frame = |kind: &str| {
            format!(
                r#"{{"type":"{kind}","invocation_id":"11111111-1111-4111-8111-111111111111","function_id":"f","data":{deep},"result":{deep}}}"#
            )
        };
        let refuse = |text: &str| refusal(text, &crate::decode(text).expect_err("too deep"));
        let Some(Refusal::Invocation(reply)) = refuse(&frame("invokefunction")) else {
            panic!("an invocation is answered");
        };
        let body = reply.error.expect("an error");
        assert_eq!(body.code, DESERIALIZATION_ERROR);
        assert!(
            body.message.contains("`f`") && body.message.contains("nothing ran"),
            "{}",
            body.message
        );
        assert!(
            body.message.contains("deeper than 127 levels"),
            "{}",
            body.message
        );
        let Some(Refusal::Result(failed)) = refuse(&frame("invocationresult")) else {
            panic!("a result fails its call");
        };
        assert_eq!(failed.error.expect("an error").code, DESERIALIZATION_ERROR);
        assert_eq!(refuse(&frame("registerfunction")), None);
    }

    /// A frame broken half-way keeps what came before the break.
    #[test]
    fn a_broken_frame_keeps_what_was_read() {
        let found = salvage(
            r#"{"type":"invocationresult","invocation_id":"11111111-1111-4111-8111-111111111111","result":[1,"#,
        );
        assert_eq!(found.kind.as_deref(), Some("invocationresult"));
        assert!(found.invocation_id.is_some());
        assert_eq!(found.function_id, None);
    }
}
