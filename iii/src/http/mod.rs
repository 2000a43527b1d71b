//! The shapes of `http` trigger invocations: [`ApiRequest`] in,
//! [`ApiResponse`] out.

pub(crate) mod body;
pub mod chain;
pub(crate) mod status;
pub(crate) mod streamed;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use iii_protocol::{ChannelDirection, StreamChannelRef};
pub use streamed::{BodySender, StreamedResponse};

/// What an `http` trigger delivers to its function.
///
/// ```
/// # use iii::http::ApiRequest;
/// let req: ApiRequest = serde_json::from_value(serde_json::json!({
///     "method": "GET", "path": "/users/:id",
///     "path_params": {"id": "7"}, "query_params": {"full": "1"},
///     "headers": {"accept": "*/*"}, "body": null
/// })).unwrap();
/// assert_eq!(req.path_params["id"], "7");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApiRequest<B = Value> {
    /// The actual HTTP method, uppercase.
    pub method: String,
    /// The registered route pattern (not the requested URL).
    #[serde(default)]
    pub path: String,
    /// Values of the route's `:name` parameters.
    #[serde(default)]
    pub path_params: BTreeMap<String, String>,
    /// Query parameters (the last value wins when repeated).
    #[serde(default)]
    pub query_params: BTreeMap<String, String>,
    /// Request headers, names lowercased.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The parsed JSON body (`null` unless the content type contains
    /// `application/json`); every body's raw bytes are
    /// [`ApiRequest::body_bytes`].
    pub body: B,
    /// The channel carrying the raw request body (read it with
    /// [`ApiRequest::body_bytes`] or [`ApiRequest::body_reader`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub request_body: Option<StreamChannelRef>,
    /// The channel for a streamed response: answer with a
    /// [`StreamedResponse`] to use it (or with
    /// [`StreamedResponse::written_elsewhere`] when other code writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub response: Option<StreamChannelRef>,
    /// The engine and invocation this request was decoded in.
    #[serde(skip, default = "body::RequestLink::current")]
    #[schemars(skip)]
    link: body::RequestLink,
}

impl<B> ApiRequest<B> {
    /// A request with `method` and `body` and nothing else (no path, no
    /// headers, no body channel), for unit tests of handlers; set the
    /// public fields as needed.
    ///
    /// ```
    /// let mut req = iii::http::ApiRequest::new("GET", serde_json::Value::Null);
    /// req.path_params.insert("id".into(), "7".into());
    /// assert_eq!(req.path_params["id"], "7");
    /// ```
    pub fn new(method: impl Into<String>, body: B) -> Self {
        ApiRequest {
            method: method.into(),
            path: String::new(),
            path_params: BTreeMap::new(),
            query_params: BTreeMap::new(),
            headers: BTreeMap::new(),
            body,
            request_body: None,
            response: None,
            link: body::RequestLink::default(),
        }
    }
}

impl<B> ApiRequest<B> {
    /// The value of the route's parameter `name` (`:name` in its path);
    /// an error that answers 400, naming it, if the route has none.
    ///
    /// ```
    /// let mut req = iii::http::ApiRequest::new("GET", ());
    /// req.path_params.insert("id".into(), "7".into());
    /// assert_eq!(req.path_param("id")?, "7");
    /// assert_eq!(req.path_param("name").unwrap_err().http_status(), Some(400));
    /// # Ok::<(), iii::Error>(())
    /// ```
    pub fn path_param(&self, name: &str) -> Result<&str, crate::Error> {
        self.path_params
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| crate::Error::http(400, format!("the path has no parameter `{name}`")))
    }

    /// The query parameter `name`, if the request has it.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query_params.get(name).map(String::as_str)
    }

    /// The route's parameters as a `T`, their text parsed as its fields
    /// say (numbers, booleans, options); an error that answers 400,
    /// naming the parameter, if they do not fit.
    ///
    /// ```
    /// #[derive(Debug, serde::Deserialize)]
    /// struct UserPath { id: u64 }
    /// let mut req = iii::http::ApiRequest::new("GET", ());
    /// req.path_params.insert("id".into(), "7".into());
    /// assert_eq!(req.path::<UserPath>()?.id, 7);
    /// req.path_params.insert("id".into(), "seven".into());
    /// let err = req.path::<UserPath>().unwrap_err();
    /// assert_eq!(err.http_status(), Some(400));
    /// assert!(err.to_string().contains("`id`"), "{err}");
    /// # Ok::<(), iii::Error>(())
    /// ```
    pub fn path<T: serde::de::DeserializeOwned>(&self) -> Result<T, crate::Error> {
        from_text_map(&self.path_params, "path parameter")
    }

    /// The query parameters as a `T`, as [`ApiRequest::path`] reads the
    /// route's: a missing parameter fails unless its field is an `Option`
    /// or has a `#[serde(default)]`.
    pub fn query<T: serde::de::DeserializeOwned>(&self) -> Result<T, crate::Error> {
        from_text_map(&self.query_params, "query parameter")
    }
}

/// Decodes a map of texts into `T`, as a form is decoded; an error names
/// the `what` at fault and answers 400.
fn from_text_map<T: serde::de::DeserializeOwned>(
    map: &BTreeMap<String, String>,
    what: &str,
) -> Result<T, crate::Error> {
    let form = serde_urlencoded::to_string(map)
        .map_err(|e| crate::Error::http(400, format!("the {what}s cannot be read: {e}")))?;
    let parts = serde_urlencoded::Deserializer::new(form_parse(&form));
    serde_path_to_error::deserialize(parts).map_err(|e| {
        let field = e.path().to_string();
        let reason = e.into_inner();
        let message = match field.as_str() {
            "." | "" => format!("the {what}s do not fit: {reason}"),
            field => format!("{what} `{field}`: {reason}"),
        };
        crate::Error::http(400, message)
    })
}

/// The pairs of a form-encoded text.
fn form_parse(form: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(form.as_bytes())
}

/// What an `http`-triggered function returns.
///
/// ```
/// # use iii::http::ApiResponse;
/// let res = ApiResponse::new(201, serde_json::json!({"id": 7})).header("x-request-id", "abc");
/// let wire = serde_json::to_value(&res).unwrap();
/// assert_eq!(wire["status_code"], 201);
/// assert_eq!(wire["headers"]["x-request-id"], "abc");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApiResponse<B = Value> {
    /// HTTP status (the engine defaults to 200).
    pub status_code: u16,
    /// Response headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Body: JSON unless a content type says otherwise; a string body with a
    /// content-type header is sent raw.
    pub body: B,
}

impl<B> ApiResponse<B> {
    /// A response with `status_code` and `body`.
    pub fn new(status_code: u16, body: B) -> Self {
        ApiResponse {
            status_code,
            headers: BTreeMap::new(),
            body,
        }
    }

    /// `200 OK` with `body`.
    pub fn ok(body: B) -> Self {
        Self::new(200, body)
    }

    /// `201 Created` with `body`.
    pub fn created(body: B) -> Self {
        Self::new(201, body)
    }

    /// `202 Accepted` with `body`.
    pub fn accepted(body: B) -> Self {
        Self::new(202, body)
    }

    /// `400 Bad Request` with `body`.
    pub fn bad_request(body: B) -> Self {
        Self::new(400, body)
    }

    /// `401 Unauthorized` with `body`.
    pub fn unauthorized(body: B) -> Self {
        Self::new(401, body)
    }

    /// `403 Forbidden` with `body`.
    pub fn forbidden(body: B) -> Self {
        Self::new(403, body)
    }

    /// `404 Not Found` with `body`.
    ///
    /// ```
    /// let res = iii::http::ApiResponse::not_found(serde_json::json!({"error": "no user 7"}));
    /// assert_eq!(res.status_code, 404);
    /// ```
    pub fn not_found(body: B) -> Self {
        Self::new(404, body)
    }

    /// `409 Conflict` with `body`.
    pub fn conflict(body: B) -> Self {
        Self::new(409, body)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }
}

/// Whether `value` is a response as the engine reads one (what an
/// [`ApiResponse`] encodes to): an object of nothing but `status_code` (a
/// number), `headers` and `body`, each optional. Anything else an
/// `http`-bound function returns is answered as the body of a 200.
pub(crate) fn is_response(value: &Value) -> bool {
    let Value::Object(fields) = value else {
        return false;
    };
    fields.get("status_code").is_none_or(Value::is_u64)
        && fields
            .keys()
            .all(|k| matches!(k.as_str(), "status_code" | "headers" | "body"))
}

/// What the engine sends to each function named in an `http` trigger's
/// middleware ([`crate::trigger::Http::middleware`]), after the route's
/// condition and before its handler. It carries no body.
///
/// ```
/// use iii::http::{MiddlewareInput, MiddlewareVerdict, ApiResponse};
///
/// async fn require_token(input: MiddlewareInput) -> Result<MiddlewareVerdict, iii::Error> {
///     Ok(match input.request.headers.get("authorization") {
///         Some(_) => MiddlewareVerdict::Continue,
///         None => MiddlewareVerdict::respond(ApiResponse::new(401, serde_json::json!({"error": "unauthorized"}))),
///     })
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MiddlewareInput {
    /// Always `preHandler` in engine 0.23.
    pub phase: String,
    /// The request, without its body.
    pub request: MiddlewareRequest,
    /// Always empty in engine 0.23.
    #[serde(default)]
    pub context: Value,
}

/// The request a middleware sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MiddlewareRequest {
    /// The actual HTTP method, uppercase.
    pub method: String,
    /// Values of the route's `:name` parameters.
    #[serde(default)]
    pub path_params: BTreeMap<String, String>,
    /// Query parameters (the last value wins when repeated).
    #[serde(default)]
    pub query_params: BTreeMap<String, String>,
    /// Request headers, names lowercased.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A middleware's answer: let the request go on, or answer it now. The
/// engine sends a `respond` body as JSON whatever its headers say, and
/// uses its headers only if all their values are strings (they are here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum MiddlewareVerdict {
    /// On to the next middleware, then the handler.
    Continue,
    /// Answer the client with this response; the handler does not run.
    Respond {
        /// The response.
        response: ApiResponse,
    },
}

impl MiddlewareVerdict {
    /// Answers the client with `response`.
    pub fn respond(response: ApiResponse) -> Self {
        MiddlewareVerdict::Respond { response }
    }
}
