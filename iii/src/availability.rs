//! Watching the set of functions: [`Worker::functions_available`] as a
//! `Stream`, [`Worker::on_functions_available`] with a callback.
//!
//! Both bind an `engine::functions-available` trigger to a function of this
//! worker's own (hidden from listings), and both end, withdrawing that
//! function and binding, when dropped or unsubscribed. The iii engine checks
//! every 5 s and fires only when the set of function ids changed; it sends
//! no list up front, so call [`Worker::list_functions`] for the current one.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::discovery::FunctionInfo;
use crate::error::Error;
use crate::function::{Function, FunctionHandle};
use crate::trigger::{FunctionsAvailable as Changes, Trigger, TriggerHandle};
use crate::worker::Worker;

/// The function list on each change, until dropped.
///
/// ```no_run
/// use futures_util::StreamExt;
/// # async fn f(worker: iii::Worker) -> Result<(), iii::Error> {
/// let mut changes = worker.functions_available()?;
/// while let Some(functions) = changes.next().await {
///     println!("{} functions now", functions.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FunctionsAvailable {
    changes: mpsc::UnboundedReceiver<Vec<FunctionInfo>>,
    watch: Watch,
}

/// The function and binding that receive the changes; withdrawn on drop.
#[derive(Debug)]
struct Watch {
    function: FunctionHandle,
    trigger: TriggerHandle,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.trigger.unregister();
        let _ = self.function.unregister();
    }
}

impl Stream for FunctionsAvailable {
    type Item = Vec<FunctionInfo>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.changes.poll_recv(cx)
    }
}

impl FunctionsAvailable {
    /// The id of the function receiving the changes.
    pub fn function_id(&self) -> &str {
        self.watch.function.id()
    }
}

/// A callback subscription; [`Subscription::unsubscribe`] or dropping it
/// ends it.
#[derive(Debug)]
#[must_use = "dropping the subscription ends it"]
pub struct Subscription {
    task: tokio::task::JoinHandle<()>,
}

impl Subscription {
    /// Stops calling the callback and withdraws the subscription.
    pub fn unsubscribe(self) {}
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // The task owns the stream; aborting it drops the stream, whose
        // watch withdraws the function and the binding.
        self.task.abort();
    }
}

#[derive(Deserialize)]
struct Fire {
    #[serde(default)]
    functions: Vec<FunctionInfo>,
}

impl Worker {
    /// The list of functions each time the set of functions changes, as a
    /// `Stream`; dropping it unsubscribes.
    pub fn functions_available(&self) -> Result<FunctionsAvailable, Error> {
        let (tx, changes) = mpsc::unbounded_channel();
        let id = format!("iii-rs::functions-available::{}", crate::ids::next_uuid());
        let function = self.register_function(
            Function::new(&id, move |fire: Fire| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(fire.functions);
                    Ok::<_, Error>(Value::Null)
                }
            })
            .description("Receives function-availability changes for this worker")
            .metadata(json!({"internal": true})),
        )?;
        let trigger = match self.register_trigger(Trigger::new(&id, Changes)) {
            Ok(trigger) => trigger,
            Err(error) => {
                let _ = function.unregister();
                return Err(error);
            }
        };
        Ok(FunctionsAvailable {
            changes,
            watch: Watch { function, trigger },
        })
    }

    /// Calls `callback` with the list of functions each time the set of
    /// functions changes, until the returned subscription is dropped or
    /// unsubscribed.
    ///
    /// ```no_run
    /// # fn f(worker: iii::Worker) -> Result<(), iii::Error> {
    /// let subscription = worker.on_functions_available(|functions| {
    ///     println!("available: {:?}", functions.iter().map(|f| &f.function_id).collect::<Vec<_>>());
    /// })?;
    /// // ...
    /// subscription.unsubscribe();
    /// # Ok(()) }
    /// ```
    pub fn on_functions_available<F>(&self, callback: F) -> Result<Subscription, Error>
    where
        F: Fn(Vec<FunctionInfo>) + Send + 'static,
    {
        use futures_util::StreamExt;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::invalid(
                "functions-available subscription",
                "it needs a tokio runtime to run the callback on; call it from async code",
            )
        })?;
        let mut changes = self.functions_available()?;
        let task = runtime.spawn(async move {
            while let Some(functions) = changes.next().await {
                callback(functions);
            }
        });
        Ok(Subscription { task })
    }
}

impl schemars::JsonSchema for Fire {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FunctionsAvailableFire".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::Schema::from(true)
    }
}
