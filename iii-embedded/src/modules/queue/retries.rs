//! Delivering a queued job: attempts with exponential backoff until one
//! succeeds or the retries run out, then the dead letters.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iii_protocol::ErrorBody;
use serde_json::Value;

use crate::core::Core;

/// A queued job the built-in queue gave up on.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Queue (or durable topic) name.
    pub queue: String,
    /// The function that kept failing.
    pub function_id: String,
    /// The job's payload.
    pub data: Value,
    /// The last error.
    pub error: ErrorBody,
    /// Deliveries made.
    pub attempts: u32,
}

/// The jobs given up on, oldest first.
#[derive(Debug, Default)]
pub(crate) struct DeadLetters {
    letters: Mutex<Vec<DeadLetter>>,
}

impl DeadLetters {
    /// Every dead letter so far.
    pub(crate) fn all(&self) -> Vec<DeadLetter> {
        self.letters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn push(&self, letter: DeadLetter) {
        self.letters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(letter);
    }
}

/// One job to deliver.
pub(super) struct Job {
    /// Queue (or durable topic) name.
    pub(super) queue: String,
    pub(super) function_id: String,
    pub(super) data: Value,
    /// Retries after the first attempt.
    pub(super) retries: u32,
}

/// How jobs are retried, and where they go when they run out of retries.
#[derive(Clone)]
pub(super) struct Retry {
    /// The first backoff, doubled per retry (up to 30 s).
    pub(super) backoff: Duration,
    pub(super) dead_letters: Arc<DeadLetters>,
}

impl Retry {
    /// Runs `attempt` until it succeeds or `job.retries` retries have
    /// failed, with exponential backoff; then dead-letters the job.
    pub(super) async fn deliver<F, Fut>(&self, core: &Arc<Core>, job: Job, attempt: F)
    where
        F: Fn(Arc<Core>) -> Fut,
        Fut: Future<Output = Result<(), ErrorBody>>,
    {
        let mut delay = self.backoff;
        let mut made = 0;
        loop {
            made += 1;
            let error = match attempt(core.clone()).await {
                Ok(()) => return,
                Err(error) => error,
            };
            if made > job.retries {
                let Job {
                    queue,
                    function_id,
                    data,
                    ..
                } = job;
                tracing::warn!(
                    queue,
                    function_id,
                    attempts = made,
                    "job dead-lettered: {error}"
                );
                self.dead_letters.push(DeadLetter {
                    queue,
                    function_id,
                    data,
                    error,
                    attempts: made,
                });
                return;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }
}
