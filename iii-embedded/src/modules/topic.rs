//! A message for a topic, as both publish functions take it (`publish` for
//! `subscribe` bindings, `iii::durable::publish` for durable subscribers).

use iii_protocol::ErrorBody;
use serde::Deserialize;
use serde_json::Value;

/// The input of a publish function: `{topic, data}`.
#[derive(Deserialize)]
pub(super) struct Publication {
    #[serde(default)]
    pub(super) topic: String,
    #[serde(default)]
    pub(super) data: Value,
}

impl Publication {
    /// The publication, unless its topic is blank (refused as the engine
    /// refuses it).
    pub(super) fn checked(self) -> Result<Publication, ErrorBody> {
        if self.topic.is_empty() {
            return Err(ErrorBody::new("topic_not_set", "topic is required"));
        }
        Ok(self)
    }
}

/// Whether a binding's config names `topic`.
pub(super) fn on_topic(config: &Value, topic: &str) -> bool {
    config.get("topic").and_then(Value::as_str) == Some(topic)
}
