//! [`ApiRequestBuilder`]: an `http` trigger's request, built by a test.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use crate::http::ApiRequest;

impl ApiRequest<Value> {
    /// A request as an `http` trigger on the route `path` (its pattern,
    /// such as `/todos/:list`) delivers it, for unit tests of handlers
    /// called as plain functions. See [`ApiRequestBuilder`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), iii::Error> {
    /// use iii::http::{ApiRequest, ApiResponse};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// struct NewTodo { title: String }
    ///
    /// #[iii::function]
    /// #[iii::trigger(http, path = "/todos/:list", method = "POST")]
    /// async fn add(req: ApiRequest<NewTodo>) -> Result<ApiResponse<String>, iii::Error> {
    ///     let list = req.path_param("list")?;
    ///     Ok(ApiResponse::created(format!("{} in {list}", req.body.title)))
    /// }
    ///
    /// let req = ApiRequest::builder("POST", "/todos/:list")
    ///     .path_param("list", "home")
    ///     .json(NewTodo { title: "milk".into() })
    ///     .build();
    /// let res = add(req).await?;
    /// assert_eq!((res.status_code, res.body.as_str()), (201, "milk in home"));
    /// # Ok(()) }
    /// ```
    pub fn builder(method: impl Into<String>, path: impl Into<String>) -> ApiRequestBuilder {
        ApiRequestBuilder {
            method: method.into().to_ascii_uppercase(),
            path: path.into(),
            path_params: BTreeMap::new(),
            query_params: BTreeMap::new(),
            headers: BTreeMap::new(),
            body: Value::Null,
            raw: None,
        }
    }
}

/// Builds an [`ApiRequest`] as an `http` trigger fire delivers it: method,
/// route pattern, path and query parameters, headers (names lowercased,
/// as the engine sends them), and a body: a typed JSON one
/// ([`ApiRequestBuilder::json`]), whose raw bytes
/// [`ApiRequest::body_bytes`] returns too, or raw bytes or text.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), iii::Error> {
/// use iii::http::ApiRequest;
///
/// let req = ApiRequest::builder("get", "/users/:id")
///     .path_param("id", "7")
///     .query_param("full", "1")
///     .header("Authorization", "Bearer t")
///     .text("hello")
///     .build();
/// assert_eq!(req.method, "GET");
/// assert_eq!(req.path_param("id")?, "7");
/// assert_eq!(req.query_param("full"), Some("1"));
/// assert_eq!(req.headers["authorization"], "Bearer t");
/// assert_eq!(req.body_text().await?, "hello");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "`.build()` makes the request"]
pub struct ApiRequestBuilder<B = Value> {
    method: String,
    path: String,
    path_params: BTreeMap<String, String>,
    query_params: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    body: B,
    raw: Option<Bytes>,
}

impl<B> ApiRequestBuilder<B> {
    /// The value of the route's parameter `name` (`:name` in its path).
    pub fn path_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.path_params.insert(name.into(), value.into());
        self
    }

    /// A query parameter (the last value of a name wins, as in the engine).
    pub fn query_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query_params.insert(name.into(), value.into());
        self
    }

    /// A header; its name is lowercased.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .insert(name.into().to_ascii_lowercase(), value.into());
        self
    }

    /// A JSON body: `body` is the request's [`ApiRequest::body`] as it is,
    /// its JSON text the raw body, and the content type
    /// `application/json`. (A value that cannot be encoded leaves the raw
    /// body empty.)
    pub fn json<T: Serialize>(self, body: T) -> ApiRequestBuilder<T> {
        let raw = serde_json::to_vec(&body)
            .map(Bytes::from)
            .unwrap_or_default();
        let built = ApiRequestBuilder {
            method: self.method,
            path: self.path,
            path_params: self.path_params,
            query_params: self.query_params,
            headers: self.headers,
            body,
            raw: Some(raw),
        };
        built.header("content-type", "application/json")
    }

    /// A raw body, as any content type arrives: the handler reads it with
    /// [`ApiRequest::body_bytes`]. [`ApiRequest::body`] stays as it was.
    pub fn bytes(mut self, body: impl Into<Bytes>) -> Self {
        self.raw = Some(body.into());
        self
    }

    /// A text body ([`ApiRequest::body_text`]); set its content type with
    /// [`ApiRequestBuilder::header`].
    pub fn text(self, body: impl Into<String>) -> Self {
        self.bytes(body.into())
    }

    /// The request.
    pub fn build(self) -> ApiRequest<B> {
        let mut request = ApiRequest::new(self.method, self.body);
        request.path = self.path;
        request.path_params = self.path_params;
        request.query_params = self.query_params;
        request.headers = self.headers;
        match self.raw {
            Some(raw) => request.with_given_body(raw),
            None => request,
        }
    }
}
