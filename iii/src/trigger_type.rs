//! Custom trigger types: a worker that provides a type receives every
//! binding of it and decides when to fire the bound function.

use std::future::Future;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::codec::decode;
use crate::error::Error;
use crate::handler::BoxFuture;
use crate::schema::format_of;
use crate::worker::Worker;
use iii_protocol::{RegisterTrigger, RegisterTriggerType};

/// A trigger type to provide.
#[derive(Debug, Clone)]
pub struct TriggerType {
    message: RegisterTriggerType,
    config_format_set: bool,
}

impl TriggerType {
    /// A type `id` with a description (the engine requires one).
    pub fn new(id: impl Into<String>, description: impl Into<String>) -> Self {
        TriggerType {
            message: RegisterTriggerType {
                id: id.into(),
                description: description.into(),
                trigger_request_format: None,
                call_request_format: None,
                namespace: None,
            },
            config_format_set: false,
        }
    }

    /// Overrides the JSON Schema of a binding's config (by default it comes
    /// from the handler's `Config` type).
    pub fn config_format(mut self, format: Option<Value>) -> Self {
        self.message.trigger_request_format = format;
        self.config_format_set = true;
        self
    }

    /// The JSON Schema of the payload a fire delivers.
    pub fn call_format(mut self, format: Option<Value>) -> Self {
        self.message.call_request_format = format;
        self
    }

    /// Serve bindings in this namespace (default: the worker's).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.message.namespace = Some(namespace.into());
        self
    }

    pub(crate) fn into_message<C: JsonSchema>(mut self) -> RegisterTriggerType {
        if !self.config_format_set {
            self.message.trigger_request_format = format_of::<C>();
        }
        self.message
    }
}

/// One binding of a provided trigger type, with its config decoded.
#[derive(Debug, Clone)]
pub struct Binding<C> {
    /// Binding id; `unregister` names it.
    pub id: String,
    /// The trigger type.
    pub trigger_type: String,
    /// The function to invoke when the trigger fires.
    pub function_id: String,
    /// The binding's config.
    pub config: C,
    /// Metadata to pass along with each fire (by convention, as the
    /// invocation's metadata).
    pub metadata: Option<Value>,
    /// Namespace the target function lives in, when not `default`.
    pub namespace: Option<String>,
    /// The worker that received the binding, to fire it with.
    pub worker: Worker,
}

/// Serves the bindings of a trigger type.
///
/// ```no_run
/// use iii::trigger_type::{Binding, TriggerTypeHandler};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Every { seconds: u64 }
///
/// struct Ticker(iii::Worker);
///
/// impl TriggerTypeHandler for Ticker {
///     type Config = Every;
///     async fn register(&self, binding: Binding<Every>) -> Result<(), iii::Error> {
///         if binding.config.seconds == 0 {
///             return Err(iii::Error::new("invalid_config", "`seconds` must be positive"));
///         }
///         // start a timer that calls binding.function_id ...
///         Ok(())
///     }
///     async fn unregister(&self, id: String) -> Result<(), iii::Error> {
///         // stop the timer of binding `id` ...
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not serve a trigger type",
    label = "needs `impl iii::trigger_type::TriggerTypeHandler for {Self}`",
    note = "implement `register` and `unregister` (and choose a `Config` type) for it"
)]
pub trait TriggerTypeHandler: Send + Sync + 'static {
    /// A binding's config; a config that does not decode is refused with an
    /// error naming the field.
    type Config: DeserializeOwned + JsonSchema + Send + 'static;

    /// Starts serving a binding. An error refuses it; the engine forwards the
    /// refusal to the worker that created the binding.
    fn register(
        &self,
        binding: Binding<Self::Config>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Stops serving the binding `id`.
    fn unregister(&self, id: String) -> impl Future<Output = Result<(), Error>> + Send;
}

pub(crate) trait ErasedProvider: Send + Sync {
    fn register(
        self: Arc<Self>,
        binding: RegisterTrigger,
        worker: Worker,
    ) -> BoxFuture<Result<(), Error>>;
    fn unregister(
        self: Arc<Self>,
        id: String,
        trigger_type: String,
    ) -> BoxFuture<Result<(), Error>>;
}

struct Provider<H>(H);

impl<H: TriggerTypeHandler> ErasedProvider for Provider<H> {
    fn register(
        self: Arc<Self>,
        b: RegisterTrigger,
        worker: Worker,
    ) -> BoxFuture<Result<(), Error>> {
        Box::pin(async move {
            let config = decode::<H::Config>(b.config, || {
                format!(
                    "the config of a `{}` trigger for `{}`",
                    b.trigger_type, b.function_id
                )
            })?;
            let binding = Binding {
                id: b.id,
                trigger_type: b.trigger_type,
                function_id: b.function_id,
                config,
                metadata: b.metadata,
                namespace: b.namespace,
                worker,
            };
            self.0.register(binding).await
        })
    }

    fn unregister(
        self: Arc<Self>,
        id: String,
        _trigger_type: String,
    ) -> BoxFuture<Result<(), Error>> {
        Box::pin(async move { self.0.unregister(id).await })
    }
}

pub(crate) fn erase_provider<H: TriggerTypeHandler>(handler: H) -> Arc<dyn ErasedProvider> {
    Arc::new(Provider(handler))
}

/// A provided trigger type.
#[derive(Debug, Clone)]
pub struct TriggerTypeHandle {
    pub(crate) id: String,
    pub(crate) worker: Worker,
}

impl TriggerTypeHandle {
    /// The type id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Stops providing the type (see [`Worker::unregister_trigger_type`]).
    pub fn unregister(&self) -> Result<(), Error> {
        self.worker.unregister_trigger_type(&self.id)
    }
}
