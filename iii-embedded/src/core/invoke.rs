//! Calls the engine makes itself (for a trigger, a condition, a module's
//! built-in, an enqueued call), and the `enqueue` action.

use std::sync::Arc;

use iii_protocol::{DEFAULT_NAMESPACE, ErrorBody, InvokeFunction};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::Core;
use super::module::Outcome;
use super::raw_body::RawBody;
use super::registry::Caller;

/// The function an `enqueue` action hands its call to: built in, or a
/// worker's in `default`.
const ENQUEUE: &str = "engine::queue::enqueue";

impl Core {
    /// Calls a function on behalf of the engine (in a span of its own) and
    /// waits for the outcome.
    pub(crate) async fn invoke(
        self: &Arc<Self>,
        namespace: &str,
        function_id: &str,
        data: Value,
        metadata: Option<Value>,
    ) -> Outcome {
        self.invoke_with(namespace, function_id, data, metadata, true, None)
            .await
    }

    /// [`Core::invoke`], with or without a trace context (the engine
    /// sends none with `log` fires).
    pub(crate) async fn invoke_traced(
        self: &Arc<Self>,
        namespace: &str,
        function_id: &str,
        data: Value,
        metadata: Option<Value>,
        traced: bool,
    ) -> Outcome {
        self.invoke_with(namespace, function_id, data, metadata, traced, None)
            .await
    }

    /// [`Core::invoke_traced`], with a request's body passed on as it came.
    pub(super) async fn invoke_with(
        self: &Arc<Self>,
        namespace: &str,
        function_id: &str,
        data: Value,
        metadata: Option<Value>,
        traced: bool,
        body: Option<RawBody>,
    ) -> Outcome {
        let (reply, rx) = oneshot::channel();
        let mut invoke = InvokeFunction::new(None, function_id, data);
        invoke.metadata = metadata;
        self.clone().route_with(
            namespace.to_string(),
            invoke,
            Caller::Internal { reply, traced },
            body,
        );
        rx.await.unwrap_or_else(|_| {
            Err(ErrorBody::new(
                "invocation_error",
                "the result channel was dropped",
            ))
        })
    }

    /// The `enqueue` action: hands the call to `engine::queue::enqueue`
    /// and answers with the receipt.
    pub(super) async fn enqueue(
        self: &Arc<Self>,
        namespace: &str,
        queue: &str,
        invoke: InvokeFunction,
    ) -> Outcome {
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
        match self.invoke(DEFAULT_NAMESPACE, ENQUEUE, job, None).await {
            Ok(_) => Ok(json!({"messageReceiptId": receipt})),
            Err(e) => Err(ErrorBody::new(
                "enqueue_error",
                format!("{}: {}", e.code, e.message),
            )),
        }
    }
}
