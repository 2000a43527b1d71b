//! Enqueued calls: the `enqueue` action, the built-in in-memory queue
//! provider with retries, and durable topic subscriptions.

use std::sync::Arc;
use std::time::Duration;

use iii_protocol::{DEFAULT_NAMESPACE, ErrorBody, InvokeFunction};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::kinds::type_id;
use crate::{Fired, Shared};
use iii_protocol::TriggerKind;

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

/// The `enqueue` action: hand the call to `engine::queue::enqueue` and
/// answer with the receipt.
pub(crate) async fn enqueue(
    shared: &Arc<Shared>,
    namespace: &str,
    queue: &str,
    invoke: InvokeFunction,
) -> Result<Value, ErrorBody> {
    let receipt = uuid::Uuid::new_v4().to_string();
    let mut job = json!({
        "queue": queue,
        "function_id": invoke.function_id,
        "data": invoke.data,
        "messageReceiptId": receipt,
        "traceparent": invoke.traceparent,
        "baggage": format!("iii.function.id={}", invoke.function_id),
    });
    if namespace != DEFAULT_NAMESPACE {
        job["namespace"] = json!(namespace);
    }
    match shared
        .invoke(DEFAULT_NAMESPACE, "engine::queue::enqueue", job, None)
        .await
    {
        Ok(_) => Ok(json!({"messageReceiptId": receipt})),
        Err(e) => Err(ErrorBody::new(
            "enqueue_error",
            format!("{}: {}", e.code, e.message),
        )),
    }
}

/// The built-in provider of `engine::queue::enqueue`.
pub(crate) fn builtin_enqueue(shared: &Arc<Shared>, data: Value) -> Result<Value, ErrorBody> {
    #[derive(Deserialize)]
    struct Job {
        queue: String,
        function_id: String,
        #[serde(default)]
        data: Value,
        #[serde(default)]
        namespace: Option<String>,
    }
    let job: Job = serde_json::from_value(data).map_err(|e| {
        ErrorBody::new(
            "deserialization_error",
            format!("Failed to deserialize input for engine::queue::enqueue: {e}"),
        )
    })?;
    let shared = shared.clone();
    let retries = shared.settings.queue_max_retries;
    tokio::spawn(async move {
        let namespace = job.namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.into());
        let (function_id, data) = (job.function_id, job.data);
        deliver(
            &shared,
            job.queue,
            function_id.clone(),
            data.clone(),
            retries,
            |s| {
                let (namespace, function_id, data) =
                    (namespace.clone(), function_id.clone(), data.clone());
                async move {
                    s.invoke(&namespace, &function_id, data, None)
                        .await
                        .map(|_| ())
                }
            },
        )
        .await;
    });
    Ok(Value::Null)
}

/// `iii::durable::publish`: every `durable:subscriber` binding on `topic`
/// gets the message, retried on error.
pub(crate) fn publish_durable(shared: &Arc<Shared>, topic: &str, data: Value) {
    let bindings = shared.lock().builtin_bindings(type_id(TriggerKind::Queue));
    for binding in bindings {
        if binding.config.get("topic").and_then(Value::as_str) != Some(topic) {
            continue;
        }
        let retries = binding
            .config
            .pointer("/queue_config/max_retries")
            .and_then(Value::as_u64)
            .map_or(shared.settings.queue_max_retries, |n| n.min(100) as u32);
        let shared = shared.clone();
        let data = data.clone();
        let topic = topic.to_string();
        tokio::spawn(async move {
            let function_id = binding.function_id.clone();
            deliver(&shared, topic, function_id, data.clone(), retries, |s| {
                let (binding, data) = (binding.clone(), data.clone());
                async move {
                    // A condition that says no acks the job; one that fails
                    // fails the attempt, which is retried.
                    match s.fire_one(&binding, data).await {
                        Fired::Skipped => Ok(()),
                        Fired::ConditionFailed(error) => Err(error),
                        Fired::Ran(outcome) => outcome.map(|_| ()),
                    }
                }
            })
            .await;
        });
    }
}

/// Runs `attempt` until it succeeds or `retries` retries have failed, with
/// exponential backoff; then dead-letters the job.
async fn deliver<F, Fut>(
    shared: &Arc<Shared>,
    queue: String,
    function_id: String,
    data: Value,
    retries: u32,
    attempt: F,
) where
    F: Fn(Arc<Shared>) -> Fut,
    Fut: std::future::Future<Output = Result<(), ErrorBody>>,
{
    let mut delay = shared.settings.queue_backoff;
    let mut made = 0;
    loop {
        made += 1;
        let error = match attempt(shared.clone()).await {
            Ok(()) => return,
            Err(error) => error,
        };
        if made > retries {
            tracing::warn!(
                queue,
                function_id,
                attempts = made,
                "job dead-lettered: {error}"
            );
            shared
                .dead_letters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(DeadLetter {
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
