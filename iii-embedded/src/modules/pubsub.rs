//! Pub/sub, as the engine's pubsub module serves it: `publish` fans a
//! message out to every `subscribe` binding on its topic.

use std::sync::Arc;

use iii_protocol::TriggerKind;
use serde_json::Value;

use super::topic::{Publication, on_topic};
use crate::core::{EngineModule, Function, TriggerType, type_id};

/// The pubsub module.
pub(crate) struct PubSub;

impl EngineModule for PubSub {
    fn name(&self) -> &'static str {
        "iii-pubsub"
    }

    fn functions(self: Arc<Self>) -> Vec<Function> {
        vec![Function::now(
            "publish",
            &self,
            |_, core, p: Publication| {
                let Publication { topic, data } = p.checked()?;
                core.fire(type_id(TriggerKind::Subscribe), data, |config| {
                    on_topic(config, &topic)
                });
                Ok(Value::Null)
            },
        )]
    }

    fn trigger_types(self: Arc<Self>) -> Vec<TriggerType> {
        vec![TriggerType::new(TriggerKind::Subscribe)]
    }
}
