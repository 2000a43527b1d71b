//! Publishing events to topics: `subscribe` triggers receive what
//! [`Worker::publish`] sends, `queue` (`durable:subscriber`) triggers what
//! [`Worker::publish_durable`] sends.

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::worker::Worker;

/// The `{topic, data}` input of the engine's publish functions.
#[derive(Serialize)]
struct Publication<'a, T: ?Sized> {
    topic: &'a str,
    data: &'a T,
}

impl Worker {
    /// Publishes `data` to `topic`: every `subscribe` trigger on the topic
    /// fires with it. Returns once the engine has taken the message.
    ///
    /// ```no_run
    /// # async fn f(worker: iii::Worker) -> Result<(), iii::Error> {
    /// worker.publish("orders.created", &serde_json::json!({"id": 7})).await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish<T: Serialize + ?Sized>(&self, topic: &str, data: &T) -> Result<(), Error> {
        self.publish_to("publish", topic, data).await
    }

    /// Publishes `data` to `topic` durably: every `queue` trigger
    /// (`durable:subscriber`) on the topic gets it, with retries when its
    /// handler fails.
    pub async fn publish_durable<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        data: &T,
    ) -> Result<(), Error> {
        self.publish_to("iii::durable::publish", topic, data).await
    }

    async fn publish_to<T: Serialize + ?Sized>(
        &self,
        function_id: &str,
        topic: &str,
        data: &T,
    ) -> Result<(), Error> {
        if topic.trim().is_empty() {
            return Err(Error::invalid(
                "topic",
                "it is empty; the engine drops messages without a topic",
            ));
        }
        self.invoke(function_id)
            .payload(&Publication { topic, data })
            .call::<Value>()
            .await
            .map(|_| ())
    }
}
