//! The engine's streams (`stream::*`): items grouped inside named streams,
//! pushed live to the clients subscribed to them, and firing `stream`
//! triggers ([`crate::trigger::StreamChange`]) on every change.
//!
//! ```no_run
//! # async fn f(worker: iii::Worker) -> Result<(), iii::Error> {
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Todo { title: String, done: bool }
//!
//! let todos = worker.stream::<Todo>("todos");
//! todos.set("inbox", "t1", &Todo { title: "Buy milk".into(), done: false }).await?;
//! let inbox: Vec<Todo> = todos.list("inbox").await?;
//! assert_eq!(inbox.len(), 1);
//! # Ok(()) }
//! ```

use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::context::Context;
use crate::error::Error;
use crate::state::{Change, UpdateOp};
use crate::worker::Worker;

/// A client of one stream, whose items are `T`; get one from
/// [`Worker::stream`] or [`Context::stream`].
///
/// A stream holds items in groups (a chat's rooms, a user's inboxes); a
/// `stream` trigger fires on every change, and clients subscribed over the
/// engine's stream socket see each one.
///
/// ```no_run
/// use iii::stream::{ItemEvent, StreamEvent};
///
/// #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema, Clone)]
/// struct Message { from: String, text: String }
///
/// /// Posts a message to a room.
/// #[iii::function(id = "chat::post")]
/// async fn post(msg: Message, ctx: iii::Context) -> Result<(), iii::Error> {
///     let messages = ctx.stream::<Message>("chat");
///     let id = format!("{}-{}", msg.from, msg.text.len());
///     messages.set("lobby", &id, &msg).await?;
///     // An event for the room's subscribers, stored nowhere.
///     messages.send("lobby", "typing", &serde_json::json!({"from": msg.from})).await?;
///     Ok(())
/// }
///
/// /// Sees every change in the `chat` stream.
/// #[iii::function(id = "chat::audit")]
/// #[iii::trigger(stream, stream_name = "chat")]
/// async fn audit(event: StreamEvent<Message>) {
///     if let ItemEvent::Create { data } = event.event {
///         println!("{} in {}: {}", data.from, event.group_id, data.text);
///     }
/// }
/// ```
pub struct Stream<T = Value> {
    worker: Worker,
    name: String,
    item: PhantomData<fn() -> T>,
}

impl<T> Clone for Stream<T> {
    fn clone(&self) -> Self {
        Stream {
            worker: self.worker.clone(),
            name: self.name.clone(),
            item: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").field("name", &self.name).finish()
    }
}

impl Worker {
    /// A client of the stream `name`, with items of type `T`.
    pub fn stream<T>(&self, name: impl Into<String>) -> Stream<T> {
        Stream {
            worker: self.clone(),
            name: name.into(),
            item: PhantomData,
        }
    }

    /// Every stream the engine stores, with its groups.
    pub async fn list_streams(&self) -> Result<Vec<StreamInfo>, Error> {
        #[derive(Deserialize)]
        struct All {
            #[serde(default)]
            stream: Vec<StreamInfo>,
        }
        let all: All = self
            .invoke("stream::list_all")
            .data(json!({}))
            .call()
            .await?;
        Ok(all.stream)
    }
}

impl Context {
    /// A client of the stream `name` (see [`Worker::stream`]).
    pub fn stream<T>(&self, name: impl Into<String>) -> Stream<T> {
        self.worker().stream(name)
    }
}

/// One stream and its groups, as [`Worker::list_streams`] lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// The stream's name.
    pub id: String,
    /// Its groups.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl<T: Serialize + DeserializeOwned + 'static> Stream<T> {
    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    async fn call<O: DeserializeOwned + 'static>(
        &self,
        function_id: &str,
        data: Value,
    ) -> Result<O, Error> {
        self.worker.invoke(function_id).data(data).call().await
    }

    fn item_key(&self, group: &str, item: &str) -> Value {
        json!({"stream_name": self.name, "group_id": group, "item_id": item})
    }

    /// The item `item` of `group`, or `None`.
    pub async fn get(&self, group: &str, item: &str) -> Result<Option<T>, Error> {
        self.call("stream::get", self.item_key(group, item)).await
    }

    /// Stores `value` as item `item` of `group`; returns the value before
    /// and after. Subscribers and `stream` triggers see a `create` (no
    /// value before) or an `update`.
    pub async fn set(&self, group: &str, item: &str, value: &T) -> Result<Change<T>, Error> {
        let mut data = self.item_key(group, item);
        data["data"] = serde_json::to_value(value).map_err(|source| Error::Encode {
            what: format!("the item `{group}`/`{item}` of stream `{}`", self.name),
            source,
        })?;
        self.call("stream::set", data).await
    }

    /// Deletes an item; returns what was stored, if anything (a `delete`
    /// event fires only then).
    pub async fn delete(&self, group: &str, item: &str) -> Result<Option<T>, Error> {
        #[derive(Deserialize)]
        struct Deleted<T> {
            old_value: Option<T>,
        }
        let deleted: Option<Deleted<T>> = self
            .call("stream::delete", self.item_key(group, item))
            .await?;
        Ok(deleted.and_then(|d| d.old_value))
    }

    /// Every item of `group`, in the order they were first stored.
    #[doc(alias = "get_group")]
    pub async fn list(&self, group: &str) -> Result<Vec<T>, Error> {
        let items: Option<Vec<T>> = self
            .call(
                "stream::list",
                json!({"stream_name": self.name, "group_id": group}),
            )
            .await?;
        Ok(items.unwrap_or_default())
    }

    /// The names of the stream's groups (the engine keeps a group listed
    /// after its last item is deleted).
    pub async fn list_groups(&self) -> Result<Vec<String>, Error> {
        let groups: Option<Vec<String>> = self
            .call("stream::list_groups", json!({"stream_name": self.name}))
            .await?;
        Ok(groups.unwrap_or_default())
    }

    /// Applies `ops` to an item atomically, in order; a missing item starts
    /// as `{}`. An operation that fails is skipped and reported in
    /// [`Change::errors`]; the others still apply.
    pub async fn update(
        &self,
        group: &str,
        item: &str,
        ops: Vec<UpdateOp>,
    ) -> Result<Change<T>, Error> {
        let mut data = self.item_key(group, item);
        data["ops"] = serde_json::to_value(ops).map_err(|source| Error::Encode {
            what: "the update operations".into(),
            source,
        })?;
        self.call("stream::update", data).await
    }

    /// Sends an event of type `kind` to the clients subscribed to `group`,
    /// without storing anything; `stream` triggers fire with
    /// [`ItemEvent::Event`].
    pub async fn send<E: Serialize + ?Sized>(
        &self,
        group: &str,
        kind: &str,
        data: &E,
    ) -> Result<(), Error> {
        self.send_event(group, None, kind, data).await
    }

    /// Like [`Stream::send`], to the clients subscribed to one item.
    pub async fn send_to_item<E: Serialize + ?Sized>(
        &self,
        group: &str,
        item: &str,
        kind: &str,
        data: &E,
    ) -> Result<(), Error> {
        self.send_event(group, Some(item), kind, data).await
    }

    async fn send_event<E: Serialize + ?Sized>(
        &self,
        group: &str,
        item: Option<&str>,
        kind: &str,
        data: &E,
    ) -> Result<(), Error> {
        let data = serde_json::to_value(data).map_err(|source| Error::Encode {
            what: format!("the `{kind}` event for stream `{}`", self.name),
            source,
        })?;
        let mut input =
            json!({"stream_name": self.name, "group_id": group, "type": kind, "data": data});
        if let Some(item) = item {
            input["id"] = json!(item);
        }
        self.call::<Value>("stream::send", input).await.map(|_| ())
    }
}

/// What a `stream` trigger delivers: which item changed, and how.
///
/// ```
/// use iii::stream::{ItemEvent, StreamEvent};
/// let fire: StreamEvent<String> = serde_json::from_value(serde_json::json!({
///     "type": "stream", "timestamp": 1795392566492_u64, "streamName": "chat",
///     "groupId": "room1", "id": "m1", "event": {"type": "create", "data": "hi"}
/// })).unwrap();
/// assert_eq!(fire.event, ItemEvent::Create { data: "hi".into() });
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StreamEvent<T = Value> {
    /// The stream.
    #[serde(rename = "streamName")]
    pub stream_name: String,
    /// The group.
    #[serde(rename = "groupId")]
    pub group_id: String,
    /// The item (absent for an event sent to a whole group).
    #[serde(default)]
    pub id: Option<String>,
    /// When it happened, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub timestamp: u64,
    /// What happened.
    pub event: ItemEvent<T>,
}

/// How a stream item changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ItemEvent<T = Value> {
    /// Stored where there was no value: the new value.
    Create {
        /// The new value.
        data: T,
    },
    /// Replaced or updated: the new value.
    Update {
        /// The new value.
        data: T,
    },
    /// Deleted: the value it had.
    Delete {
        /// The deleted value.
        data: T,
    },
    /// An event sent with [`Stream::send`]; nothing was stored.
    Event {
        /// The event.
        event: SentEvent,
    },
}

/// An event sent to a stream's subscribers with [`Stream::send`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SentEvent {
    /// Its type, as the sender named it.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its data.
    pub data: Value,
}

/// What `stream:join` and `stream:leave` triggers deliver: one client's
/// subscription to a stream.
///
/// ```
/// let joined: iii::stream::Subscription = serde_json::from_value(serde_json::json!({
///     "subscription_id": "s1", "stream_name": "chat", "group_id": "room1",
///     "id": null, "context": null
/// })).unwrap();
/// assert_eq!(joined.group_id, "room1");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Subscription {
    /// The client's id for this subscription.
    pub subscription_id: String,
    /// The stream.
    pub stream_name: String,
    /// The group.
    pub group_id: String,
    /// The item, when the client follows one item only.
    #[serde(default)]
    pub id: Option<String>,
    /// What the stream socket's auth function said about the client.
    #[serde(default)]
    pub context: Option<Value>,
}

/// What a `stream:join` handler answers: [`JoinVerdict::deny`] refuses the
/// subscription (the client gets `{"type":"unauthorized"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JoinVerdict {
    /// `true` refuses the subscription.
    pub unauthorized: bool,
}

impl JoinVerdict {
    /// Lets the client subscribe.
    pub fn allow() -> Self {
        JoinVerdict {
            unauthorized: false,
        }
    }

    /// Refuses the subscription.
    pub fn deny() -> Self {
        JoinVerdict { unauthorized: true }
    }
}
