//! What a [`super::TestContext`] records of a handler's run: each call,
//! publish, log line, state write and stream write, with typed views of
//! their JSON.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;
use crate::trigger::log_level::LogLevel;

/// Decodes `value` as a `T`; the error names `what` and the field at fault.
fn typed<T: DeserializeOwned>(value: &Value, what: impl FnOnce() -> String) -> Result<T, Error> {
    crate::codec::decode_tracked(value.clone(), what)
}

/// One thing the handler did, in the order it did them
/// ([`super::TestContext::events`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A call to a function (a call, a fire-and-forget, an enqueue).
    Call(Call),
    /// A message published to a topic.
    Published(Published),
    /// A log line ([`crate::Context::logger`]).
    Log(LogLine),
    /// A write to the engine's state.
    StateWrite(StateWrite),
    /// A write to a stream.
    StreamWrite(StreamWrite),
}

/// How a function was called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallKind {
    /// Waiting for the result (`ctx.call`, `Invocation::call`).
    Call,
    /// Fire and forget (`Invocation::void`).
    Void,
    /// Through the named queue (`Invocation::enqueue`).
    Enqueue {
        /// The queue's name.
        queue: String,
    },
}

/// One call the handler made to another function.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), iii::Error> {
/// let kit = iii::testing::TestContext::new();
/// kit.answer("pricing::quote", &450);
/// let cents: u32 = kit.context().call("pricing::quote", &serde_json::json!({"sku": "A1"})).await?;
/// let call = &kit.calls()[0];
/// assert_eq!((call.function_id(), cents), ("pricing::quote", 450));
/// assert_eq!(call.input_json()["sku"], "A1");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub(crate) function_id: String,
    pub(crate) input: Value,
    pub(crate) kind: CallKind,
    pub(crate) metadata: Option<Value>,
    pub(crate) namespace: Option<String>,
    pub(crate) traceparent: Option<String>,
}

impl Call {
    /// The function called.
    pub fn function_id(&self) -> &str {
        &self.function_id
    }

    /// The payload, decoded as a `T`.
    pub fn input<T: DeserializeOwned>(&self) -> Result<T, Error> {
        typed(&self.input, || {
            format!("the input of the call to `{}`", self.function_id)
        })
    }

    /// The payload as JSON.
    pub fn input_json(&self) -> &Value {
        &self.input
    }

    /// A call, a fire-and-forget or an enqueue.
    pub fn kind(&self) -> &CallKind {
        &self.kind
    }

    /// The call's metadata, if it set any.
    pub fn metadata(&self) -> Option<&Value> {
        self.metadata.as_ref()
    }

    /// The namespace the function is looked up in (`None`: `default`).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The W3C `traceparent` the call carries (inside a handler, a child
    /// of its invocation's trace).
    pub fn traceparent(&self) -> Option<&str> {
        self.traceparent.as_deref()
    }
}

/// One message published ([`crate::Context::publish`],
/// [`crate::Worker::publish_durable`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub(crate) topic: String,
    pub(crate) data: Value,
    pub(crate) durable: bool,
}

impl Published {
    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The message, decoded as a `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, Error> {
        typed(&self.data, || {
            format!("the message published to `{}`", self.topic)
        })
    }

    /// The message as JSON.
    pub fn data_json(&self) -> &Value {
        &self.data
    }

    /// Whether it went to `queue` triggers (`publish_durable`) rather
    /// than `subscribe` ones.
    pub fn is_durable(&self) -> bool {
        self.durable
    }
}

/// One log line ([`crate::Context::logger`], [`crate::Worker::logger`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub(crate) level: LogLevel,
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
    pub(crate) trace_id: Option<String>,
    pub(crate) span_id: Option<String>,
}

impl LogLine {
    /// Its level (never [`LogLevel::All`]).
    pub fn level(&self) -> LogLevel {
        self.level
    }

    /// Its message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Its structured data, decoded as a `T` (an error if it has none).
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, Error> {
        typed(self.data.as_ref().unwrap_or(&Value::Null), || {
            format!("the data of the log line {:?}", self.message)
        })
    }

    /// Its structured data as JSON, if it has any.
    pub fn data_json(&self) -> Option<&Value> {
        self.data.as_ref()
    }

    /// The trace id it carries (the invocation's, from `ctx.logger()`).
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// The span id it carries.
    pub fn span_id(&self) -> Option<&str> {
        self.span_id.as_deref()
    }
}

/// How a state key or stream item was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteKind {
    /// `set`: replaced with a value.
    Set,
    /// `update`: changed by update operations.
    Update,
    /// `delete`.
    Delete,
    /// A stream event sent with [`crate::stream::Stream::send`]; nothing
    /// was stored.
    Send {
        /// The event's type, as the sender named it.
        event_type: String,
    },
}

/// One write to the engine's state ([`crate::state::State`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StateWrite {
    pub(crate) kind: WriteKind,
    pub(crate) scope: String,
    pub(crate) key: String,
    pub(crate) value: Option<Value>,
}

impl StateWrite {
    /// Set, update or delete.
    pub fn kind(&self) -> &WriteKind {
        &self.kind
    }

    /// The scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value after the write (`None` for a delete), decoded as a `T`.
    pub fn value<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        self.value
            .as_ref()
            .map(|v| {
                typed(v, || {
                    format!("the value written to `{}`/`{}`", self.scope, self.key)
                })
            })
            .transpose()
    }

    /// The value after the write as JSON.
    pub fn value_json(&self) -> Option<&Value> {
        self.value.as_ref()
    }
}

/// One write to a stream ([`crate::stream::Stream`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamWrite {
    pub(crate) kind: WriteKind,
    pub(crate) stream: String,
    pub(crate) group: String,
    pub(crate) item: Option<String>,
    pub(crate) value: Option<Value>,
}

impl StreamWrite {
    /// Set, update, delete or send.
    pub fn kind(&self) -> &WriteKind {
        &self.kind
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The item (`None` for an event sent to a whole group).
    pub fn item(&self) -> Option<&str> {
        self.item.as_deref()
    }

    /// The item after the write (`None` for a delete), or a sent event's
    /// data, decoded as a `T`.
    pub fn value<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        self.value
            .as_ref()
            .map(|v| {
                typed(v, || {
                    format!(
                        "the value written to stream `{}`, group `{}`",
                        self.stream, self.group
                    )
                })
            })
            .transpose()
    }

    /// The value as JSON.
    pub fn value_json(&self) -> Option<&Value> {
        self.value.as_ref()
    }
}
