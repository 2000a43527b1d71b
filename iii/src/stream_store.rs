//! A stream whose items this worker stores: the engine routes the stream's
//! `stream::*` calls to it (the official SDKs' `create_stream` / `IStream`).
//!
//! Events still come from the engine: subscribers and `stream` triggers see
//! every change made through `stream::*`, wherever the items live.

use std::future::Future;
use std::sync::Arc;

use iii_protocol::update::{Op, apply};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::Error;
use crate::function::{Function, FunctionHandle};
use crate::worker::Worker;

/// The storage of one stream, provided by this worker.
///
/// ```no_run
/// use std::collections::BTreeMap;
/// use std::sync::Mutex;
/// use iii::stream_store::StreamStore;
///
/// /// Notes kept in this process.
/// #[derive(Default)]
/// struct Notes(Mutex<BTreeMap<(String, String), String>>);
///
/// impl StreamStore for Notes {
///     type Item = String;
///     async fn get(&self, group: &str, item: &str) -> Result<Option<String>, iii::Error> {
///         Ok(self.0.lock().unwrap().get(&(group.into(), item.into())).cloned())
///     }
///     async fn set(&self, group: &str, item: &str, value: String) -> Result<Option<String>, iii::Error> {
///         Ok(self.0.lock().unwrap().insert((group.into(), item.into()), value))
///     }
///     async fn delete(&self, group: &str, item: &str) -> Result<Option<String>, iii::Error> {
///         Ok(self.0.lock().unwrap().remove(&(group.into(), item.into())))
///     }
///     async fn list(&self, group: &str) -> Result<Vec<String>, iii::Error> {
///         let notes = self.0.lock().unwrap();
///         Ok(notes.iter().filter(|((g, _), _)| g == group).map(|(_, v)| v.clone()).collect())
///     }
///     async fn list_groups(&self) -> Result<Vec<String>, iii::Error> {
///         let mut groups: Vec<String> = self.0.lock().unwrap().keys().map(|(g, _)| g.clone()).collect();
///         groups.dedup();
///         Ok(groups)
///     }
/// }
///
/// # async fn f(worker: iii::Worker) -> Result<(), iii::Error> {
/// worker.create_stream("notes", Notes::default())?;
/// # Ok(()) }
/// ```
pub trait StreamStore: Send + Sync + 'static {
    /// The items' type.
    type Item: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The item `item` of `group`, if stored.
    fn get(
        &self,
        group: &str,
        item: &str,
    ) -> impl Future<Output = Result<Option<Self::Item>, Error>> + Send;

    /// Stores `value`; returns the value it replaced, if any.
    fn set(
        &self,
        group: &str,
        item: &str,
        value: Self::Item,
    ) -> impl Future<Output = Result<Option<Self::Item>, Error>> + Send;

    /// Deletes an item; returns what was stored, if anything.
    fn delete(
        &self,
        group: &str,
        item: &str,
    ) -> impl Future<Output = Result<Option<Self::Item>, Error>> + Send;

    /// Every item of `group`.
    fn list(&self, group: &str) -> impl Future<Output = Result<Vec<Self::Item>, Error>> + Send;

    /// The names of the groups.
    fn list_groups(&self) -> impl Future<Output = Result<Vec<String>, Error>> + Send;

    /// Applies update operations to an item. By default: [`StreamStore::get`],
    /// the operations applied as the engine applies them (a missing item
    /// starts as `{}`; a failing operation is skipped and reported), then
    /// [`StreamStore::set`]. That is not atomic against concurrent writers:
    /// override it where the storage can do better.
    fn update(
        &self,
        group: &str,
        item: &str,
        ops: Vec<Op>,
    ) -> impl Future<Output = Result<Updated<Self::Item>, Error>> + Send {
        async move {
            let old = self.get(group, item).await?;
            let mut value = match &old {
                Some(old) => to_json(old)?,
                None => json!({}),
            };
            let mut errors = Vec::new();
            for (index, op) in ops.into_iter().enumerate() {
                if let Err(message) = apply(&mut value, op) {
                    errors.push(
                        json!({"op_index": index, "code": "UPDATE_OP_FAILED", "message": message}),
                    );
                }
            }
            let new: Self::Item = crate::codec::decode(value, || {
                format!("item `{group}`/`{item}` after the update")
            })?;
            let new_json = to_json(&new)?;
            self.set(group, item, new).await?;
            Ok(Updated {
                old_value: old,
                new_value: new_json,
                errors,
            })
        }
    }
}

/// A shared store serves as well, so the program can keep a handle to it.
impl<S: StreamStore> StreamStore for Arc<S> {
    type Item = S::Item;
    fn get(
        &self,
        group: &str,
        item: &str,
    ) -> impl Future<Output = Result<Option<Self::Item>, Error>> + Send {
        (**self).get(group, item)
    }
    fn set(
        &self,
        group: &str,
        item: &str,
        value: Self::Item,
    ) -> impl Future<Output = Result<Option<Self::Item>, Error>> + Send {
        (**self).set(group, item, value)
    }
    fn delete(
        &self,
        group: &str,
        item: &str,
    ) -> impl Future<Output = Result<Option<Self::Item>, Error>> + Send {
        (**self).delete(group, item)
    }
    fn list(&self, group: &str) -> impl Future<Output = Result<Vec<Self::Item>, Error>> + Send {
        (**self).list(group)
    }
    fn list_groups(&self) -> impl Future<Output = Result<Vec<String>, Error>> + Send {
        (**self).list_groups()
    }
    fn update(
        &self,
        group: &str,
        item: &str,
        ops: Vec<Op>,
    ) -> impl Future<Output = Result<Updated<Self::Item>, Error>> + Send {
        (**self).update(group, item, ops)
    }
}

/// What [`StreamStore::update`] answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Updated<T> {
    /// The item before.
    pub old_value: Option<T>,
    /// The item after, as JSON.
    pub new_value: Value,
    /// The operations that failed and were skipped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Value>,
}

fn to_json(value: &impl Serialize) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|source| Error::Encode {
        what: "a stream item".into(),
        source,
    })
}

/// The functions that serve a stream's storage; dropping it keeps them.
#[derive(Debug, Clone)]
pub struct StreamStoreHandle {
    name: String,
    functions: Vec<FunctionHandle>,
}

impl StreamStoreHandle {
    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops serving the stream's storage (the engine's own takes over).
    pub fn unregister(&self) -> Result<(), Error> {
        for function in &self.functions {
            function.unregister()?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct ItemKey {
    group_id: String,
    item_id: String,
}

#[derive(Deserialize)]
struct SetInput {
    group_id: String,
    item_id: String,
    data: Value,
}

#[derive(Deserialize)]
struct GroupKey {
    group_id: String,
}

#[derive(Deserialize)]
struct UpdateInput {
    group_id: String,
    item_id: String,
    ops: Vec<Op>,
}

impl Worker {
    /// Provides the storage of the stream `name`: the engine routes the
    /// stream's get, set, delete, list, list_groups and update calls to
    /// `store`, through functions `stream::<op>(<name>)` this worker
    /// registers (hidden from function listings).
    ///
    /// The engine looks for them in the `default` namespace only, so a
    /// worker in another namespace is refused.
    pub fn create_stream<S: StreamStore>(
        &self,
        name: &str,
        store: S,
    ) -> Result<StreamStoreHandle, Error> {
        crate::error::validate_id("stream name", name)?;
        if let Some(ns) = self
            .namespace()
            .filter(|ns| *ns != iii_protocol::DEFAULT_NAMESPACE)
        {
            return Err(Error::invalid(
                "stream storage",
                format!(
                    "the engine looks for the storage of stream `{name}` in namespace `default` only, and this worker is in `{ns}`; provide it from a worker without a namespace"
                ),
            ));
        }
        let store = Arc::new(store);
        let functions = vec![
            op(name, "get", store.clone(), |s, i: ItemKey| async move {
                to_json(&s.get(&i.group_id, &i.item_id).await?)
            }),
            op(name, "set", store.clone(), |s, i: SetInput| async move {
                let value: S::Item = crate::codec::decode(i.data.clone(), || {
                    format!("item `{}`/`{}`", i.group_id, i.item_id)
                })?;
                let old = s.set(&i.group_id, &i.item_id, value).await?;
                Ok(json!({"old_value": to_json(&old)?, "new_value": i.data}))
            }),
            op(name, "delete", store.clone(), |s, i: ItemKey| async move {
                let old = s.delete(&i.group_id, &i.item_id).await?;
                Ok(json!({"old_value": to_json(&old)?}))
            }),
            op(name, "list", store.clone(), |s, i: GroupKey| async move {
                to_json(&s.list(&i.group_id).await?)
            }),
            op(
                name,
                "list_groups",
                store.clone(),
                |s, _: Value| async move { to_json(&s.list_groups().await?) },
            ),
            op(name, "update", store, |s, i: UpdateInput| async move {
                to_json(&s.update(&i.group_id, &i.item_id, i.ops).await?)
            }),
        ];
        let mut handles = Vec::with_capacity(functions.len());
        for function in functions {
            match self.register_function(function) {
                Ok(handle) => handles.push(handle),
                Err(error) => {
                    // All or nothing: withdraw what was registered.
                    for handle in &handles {
                        let _ = handle.unregister();
                    }
                    return Err(error);
                }
            }
        }
        Ok(StreamStoreHandle {
            name: name.to_string(),
            functions: handles,
        })
    }
}

/// The function `stream::<op>(<stream>)`, decoding its input into `I`.
fn op<S, I, F, Fut>(stream: &str, op: &str, store: Arc<S>, run: F) -> Function
where
    S: StreamStore,
    I: DeserializeOwned + Send + 'static,
    F: Fn(Arc<S>, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, Error>> + Send + 'static,
{
    let id = format!("stream::{op}({stream})");
    let what = id.clone();
    Function::new(id, move |input: Value| {
        let decoded = crate::codec::decode::<I>(input, || format!("the input of `{what}`"));
        let call = decoded.map(|input| run(store.clone(), input));
        async move { call?.await }
    })
    .description(format!("Storage of stream `{stream}`: {op}"))
    .metadata(json!({"internal": true, "stream": stream}))
}
