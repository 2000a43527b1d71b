//! The queue, as the engine's queue module serves it: the built-in
//! in-memory provider of `engine::queue::enqueue` (where the `enqueue`
//! action hands its calls), with retries; and durable topics,
//! `iii::durable::publish` to `durable:subscriber` bindings.

mod retries;

use std::sync::Arc;

use iii_protocol::{DEFAULT_NAMESPACE, TriggerKind};
use serde::Deserialize;
use serde_json::Value;

pub use retries::DeadLetter;
pub(crate) use retries::DeadLetters;

use super::topic::{Publication, on_topic};
use crate::core::{Core, EngineModule, Fired, Function, Outcome, TriggerType, type_id};
use crate::settings::Settings;
use retries::{Job, Retry};

const ENQUEUE: &str = "engine::queue::enqueue";
const PUBLISH_DURABLE: &str = "iii::durable::publish";

/// The input of `engine::queue::enqueue`: a job for a function.
#[derive(Deserialize)]
struct Enqueued {
    queue: String,
    function_id: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    namespace: Option<String>,
}

/// The queue module.
pub(crate) struct Queue {
    retry: Retry,
    /// Retries of a job unless its binding says otherwise.
    max_retries: u32,
}

impl Queue {
    /// The module, with the queue settings.
    pub(crate) fn new(settings: &Settings) -> Queue {
        Queue {
            retry: Retry {
                backoff: settings.queue_backoff,
                dead_letters: Arc::default(),
            },
            max_retries: settings.queue_max_retries,
        }
    }

    /// The jobs it gave up on.
    pub(crate) fn dead_letters(&self) -> Arc<DeadLetters> {
        self.retry.dead_letters.clone()
    }
}

impl EngineModule for Queue {
    fn name(&self) -> &'static str {
        "iii-queue"
    }

    fn functions(self: Arc<Self>) -> Vec<Function> {
        vec![
            Function::now(ENQUEUE, &self, Queue::enqueue),
            Function::now(PUBLISH_DURABLE, &self, Queue::publish_durable),
        ]
    }

    fn trigger_types(self: Arc<Self>) -> Vec<TriggerType> {
        vec![TriggerType::new(TriggerKind::Queue)]
    }
}

impl Queue {
    /// `engine::queue::enqueue`: the job is taken at once and delivered
    /// in the background.
    fn enqueue(&self, core: &Arc<Core>, job: Enqueued) -> Outcome {
        let namespace = job.namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.into());
        let (retry, core) = (self.retry.clone(), core.clone());
        let job = Job {
            queue: job.queue,
            function_id: job.function_id,
            data: job.data,
            retries: self.max_retries,
        };
        tokio::spawn(async move {
            let (function_id, data) = (job.function_id.clone(), job.data.clone());
            retry
                .deliver(&core, job, |core| {
                    let (namespace, function_id, data) =
                        (namespace.clone(), function_id.clone(), data.clone());
                    async move {
                        core.invoke(&namespace, &function_id, data, None)
                            .await
                            .map(|_| ())
                    }
                })
                .await;
        });
        Ok(Value::Null)
    }

    /// `iii::durable::publish`: every `durable:subscriber` binding on the
    /// topic gets the message, retried on error.
    fn publish_durable(&self, core: &Arc<Core>, publication: Publication) -> Outcome {
        let Publication { topic, data } = publication.checked()?;
        let bindings = core.bindings(type_id(TriggerKind::Queue));
        for binding in bindings {
            if !on_topic(&binding.config, &topic) {
                continue;
            }
            let retries = binding
                .config
                .pointer("/queue_config/max_retries")
                .and_then(Value::as_u64)
                .map_or(self.max_retries, |n| n.min(100) as u32);
            let (retry, core) = (self.retry.clone(), core.clone());
            let job = Job {
                queue: topic.clone(),
                function_id: binding.function_id.clone(),
                data: data.clone(),
                retries,
            };
            tokio::spawn(async move {
                let data = job.data.clone();
                retry
                    .deliver(&core, job, |core| {
                        let (binding, data) = (binding.clone(), data.clone());
                        async move {
                            // A condition that says no acks the job; one that
                            // fails fails the attempt, which is retried.
                            match core.fire_one(&binding, data).await {
                                Fired::Skipped => Ok(()),
                                Fired::ConditionFailed(error) => Err(error),
                                Fired::Ran(outcome) => outcome.map(|_| ()),
                            }
                        }
                    })
                    .await;
            });
        }
        Ok(Value::Null)
    }
}
