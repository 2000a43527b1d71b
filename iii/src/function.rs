//! Function definitions: what a worker exports.

use crate::verdict::Verdict;
use serde_json::Value;

use crate::error::Error;
use crate::handler::{ErasedHandler, Handler, erase};
use crate::schema::{request_format, response_format};
use crate::worker::Worker;
use iii_protocol::{ErrorBody, RawJson, RegisterFunction};
pub use iii_protocol::{HttpAuth, HttpInvocation};

/// A function to register: an id, a handler (or an HTTP endpoint), and the
/// description, metadata and formats shown by introspection.
///
/// ```
/// use iii::Function;
///
/// async fn add(input: (i64, i64)) -> Result<i64, iii::Error> {
///     Ok(input.0 + input.1)
/// }
///
/// let f = Function::new("math::add", add)
///     .description("Adds two numbers")
///     .metadata(serde_json::json!({"team": "math"}));
/// assert_eq!(f.id(), "math::add");
/// ```
pub struct Function {
    pub(crate) message: RegisterFunction,
    pub(crate) handler: Option<ErasedHandler>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl Function {
    /// Another registration of the same function, sharing its handler
    /// (for the test harness, which may connect more than once).
    #[cfg(feature = "testing")]
    pub(crate) fn duplicate(&self) -> Function {
        Function {
            message: self.message.clone(),
            handler: self.handler.clone(),
        }
    }

    /// A function served by `handler` on this worker. Request and response
    /// formats come from the handler's input and output types.
    pub fn new<H, Args>(id: impl Into<String>, handler: H) -> Self
    where
        H: Handler<Args>,
    {
        Function::erased(
            id,
            erase(handler),
            request_format::<H::Input>(),
            response_format::<H::Output>(),
        )
    }

    /// A function served by a handler that is already JSON in, JSON out,
    /// with the formats given (an `#[iii::function]`'s expansion).
    pub(crate) fn erased(
        id: impl Into<String>,
        handler: ErasedHandler,
        request_format: Option<Value>,
        response_format: Option<Value>,
    ) -> Self {
        Function {
            message: RegisterFunction {
                id: id.into(),
                description: None,
                request_format: request_format.map(RawJson::from),
                response_format: response_format.map(RawJson::from),
                metadata: None,
                invocation: None,
            },
            handler: Some(handler),
        }
    }

    /// A function the engine serves by calling an HTTP endpoint (Lambda,
    /// Cloudflare Workers, ...). Needs the engine's `iii-http-functions` worker
    /// (iii-embedded calls `http://` URLs of the hosts it allows).
    pub fn http(id: impl Into<String>, invocation: HttpInvocation) -> Self {
        Function {
            message: RegisterFunction {
                id: id.into(),
                description: None,
                request_format: None,
                response_format: None,
                metadata: None,
                invocation: Some(Box::new(invocation)),
            },
            handler: None,
        }
    }

    /// The function id.
    pub fn id(&self) -> &str {
        &self.message.id
    }

    /// Sets the description shown by introspection.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.message.description = Some(description.into());
        self
    }

    /// Sets free-form metadata; `{"internal": true}` hides it from listings.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.message.metadata = Some(metadata);
        self
    }

    /// Overrides the request format (JSON Schema); `None` sends none.
    pub fn request_format(mut self, format: Option<Value>) -> Self {
        self.message.request_format = format.map(RawJson::from);
        self
    }

    /// Overrides the response format (JSON Schema); `None` sends none.
    pub fn response_format(mut self, format: Option<Value>) -> Self {
        self.message.response_format = format.map(RawJson::from);
        self
    }

    /// The description, if set.
    pub fn get_description(&self) -> Option<&str> {
        self.message.description.as_deref()
    }

    /// The metadata, if set.
    pub fn get_metadata(&self) -> Option<&Value> {
        self.message.metadata.as_ref()
    }

    /// The request format (JSON Schema) sent to the engine, if any,
    /// decoded from the text it is kept as.
    pub fn get_request_format(&self) -> Option<Value> {
        self.message.request_format.as_ref().map(RawJson::to_value)
    }

    /// The response format (JSON Schema) sent to the engine, if any,
    /// decoded from the text it is kept as.
    pub fn get_response_format(&self) -> Option<Value> {
        self.message.response_format.as_ref().map(RawJson::to_value)
    }
}

/// A registered function. Dropping the handle keeps the function registered;
/// call [`FunctionHandle::unregister`] to withdraw it.
#[derive(Debug, Clone)]
pub struct FunctionHandle {
    pub(crate) id: String,
    pub(crate) worker: Worker,
    pub(crate) verdict: Verdict,
}

impl FunctionHandle {
    /// The function id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The engine's rejection of this function (for example
    /// `FUNCTION_NAMESPACE_CONFLICT` when another live worker exports the
    /// same id), if one arrived.
    pub fn rejection(&self) -> Option<ErrorBody> {
        self.verdict.rejection()
    }

    /// Waits until the engine rejects this function. The engine sends no
    /// success acknowledgement, so pair this with a timeout.
    pub async fn rejected(&self) -> ErrorBody {
        self.verdict.rejected().await
    }

    /// Withdraws the function from the engine and stops serving it.
    pub fn unregister(&self) -> Result<(), Error> {
        self.worker.unregister_function(&self.id)
    }
}
