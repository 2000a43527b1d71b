//! What can be read of a frame that does not decode: its type, and the
//! ids to answer it with.
//!
//! A frame whose payload does not parse (nested past serde_json's limit of
//! 128 levels, say, or missing a required field) must not leave its
//! sender waiting for ever: if the frame named an invocation, the reader
//! answers it with an error. Peers write `type`, `invocation_id` and
//! `function_id` before the payload, so those are read up to the first
//! key that is none of them.

use std::cell::RefCell;
use std::fmt;

use serde::Deserializer;
use serde::de::{self, MapAccess, Visitor};
use uuid::Uuid;

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

/// Why a frame did not decode, in words for its sender.
pub fn reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if text.contains("recursion limit") {
        format!("it nests deeper than 128 levels ({text})")
    } else {
        text
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
    // It stops with an error at the first other key, or wherever the frame
    // is broken: what was read by then is kept.
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
                _ => return Err(de::Error::custom("stop")),
            }
        }
        Ok(())
    }
}
