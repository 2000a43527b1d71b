//! In-process middleware around an http handler (the official SDKs' middleware
//! composition): each middleware gets the request and the rest of the
//! chain, and may answer at once, or call on and change the response.
//!
//! These run inside the worker, in the handler's invocation. The engine's
//! own route middleware (`Http::middleware`, [`super::MiddlewareVerdict`])
//! runs before the invocation, as separate functions.
//!
//! ```no_run
//! use iii::http::{ApiRequest, ApiResponse, chain::{Chain, Next}};
//! use iii::{Context, Error, Function};
//!
//! async fn create(req: ApiRequest, _ctx: Context) -> Result<ApiResponse, Error> {
//!     Ok(ApiResponse::new(201, req.body))
//! }
//!
//! async fn auth(req: ApiRequest, ctx: Context, next: Next) -> Result<ApiResponse, Error> {
//!     if !req.headers.contains_key("authorization") {
//!         return Ok(ApiResponse::new(401, serde_json::json!({"error": "unauthorized"})));
//!     }
//!     let response = next.run(req, ctx).await?;
//!     Ok(response.header("x-checked", "yes"))
//! }
//!
//! # fn f(worker: iii::Worker) -> Result<(), Error> {
//! worker.register_function(Function::new("orders::create", Chain::new(create).with(auth).into_handler()))?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{ApiRequest, ApiResponse};
use crate::context::Context;
use crate::error::Error;

type Answer = Pin<Box<dyn Future<Output = Result<ApiResponse, Error>> + Send>>;

/// An in-process middleware; implemented for every async fn or closure
/// `(ApiRequest, Context, Next) -> Result<ApiResponse, Error>`.
pub trait Middleware: Send + Sync + 'static {
    /// Handles the request, calling `next.run(..)` to go on.
    fn call(&self, req: ApiRequest, ctx: Context, next: Next) -> Answer;
}

impl<F, Fut> Middleware for F
where
    F: Fn(ApiRequest, Context, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ApiResponse, Error>> + Send + 'static,
{
    fn call(&self, req: ApiRequest, ctx: Context, next: Next) -> Answer {
        Box::pin(self(req, ctx, next))
    }
}

type Endpoint = Arc<dyn Fn(ApiRequest, Context) -> Answer + Send + Sync>;

/// The rest of a chain: the middleware after this one, then the handler.
pub struct Next {
    rest: Arc<[Arc<dyn Middleware>]>,
    at: usize,
    endpoint: Endpoint,
}

impl std::fmt::Debug for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field("middleware_left", &(self.rest.len() - self.at))
            .finish()
    }
}

impl Next {
    /// Runs the rest of the chain with `req` (changed or not).
    pub async fn run(self, req: ApiRequest, ctx: Context) -> Result<ApiResponse, Error> {
        match self.rest.get(self.at).cloned() {
            Some(middleware) => {
                let next = Next {
                    rest: self.rest.clone(),
                    at: self.at + 1,
                    endpoint: self.endpoint.clone(),
                };
                middleware.call(req, ctx, next).await
            }
            None => (self.endpoint)(req, ctx).await,
        }
    }
}

/// An http handler with in-process middleware around it, outermost first.
pub struct Chain {
    middleware: Vec<Arc<dyn Middleware>>,
    endpoint: Endpoint,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("middleware", &self.middleware.len())
            .finish()
    }
}

impl Chain {
    /// A chain ending in `handler`.
    pub fn new<H, Fut>(handler: H) -> Chain
    where
        H: Fn(ApiRequest, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ApiResponse, Error>> + Send + 'static,
    {
        Chain {
            middleware: Vec::new(),
            endpoint: Arc::new(move |req, ctx| Box::pin(handler(req, ctx))),
        }
    }

    /// Adds a middleware inside the ones added before (the first added
    /// sees the request first and the response last).
    pub fn with(mut self, middleware: impl Middleware) -> Chain {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Runs the chain for one request (for use inside an
    /// `#[iii::function]`).
    pub async fn run(&self, req: ApiRequest, ctx: Context) -> Result<ApiResponse, Error> {
        self.next().run(req, ctx).await
    }

    fn next(&self) -> Next {
        Next {
            rest: self.middleware.clone().into(),
            at: 0,
            endpoint: self.endpoint.clone(),
        }
    }

    /// The chain as a handler for [`crate::Function::new`].
    pub fn into_handler(
        self,
    ) -> impl Fn(ApiRequest, Context) -> Answer + Clone + Send + Sync + 'static {
        let rest: Arc<[Arc<dyn Middleware>]> = self.middleware.into();
        let endpoint = self.endpoint;
        move |req, ctx| {
            let next = Next {
                rest: rest.clone(),
                at: 0,
                endpoint: endpoint.clone(),
            };
            Box::pin(next.run(req, ctx))
        }
    }
}
