//! The test kit's HTTP client: one request on a connection of its own,
//! its whole response read (feature `testing`).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// How long an HTTP request waits for its answer, unless
/// set ([`RequestBuilder::timeout`]); longer than the engines' own 30 s,
/// so that their 504 arrives first.
const HTTP_TIMEOUT: Duration = Duration::from_secs(35);

/// A request of `method` to `url` (absolute: `http://host:port/path?query`),
/// to finish with headers and a body: for a route of an engine the test
/// did not start (`III_HTTP_URL`), say. [`Harness::request`](super::Harness::request) takes a path.
///
/// ```no_run
/// # async fn f() -> Result<(), iii::Error> {
/// let res = iii::testing::request("GET", "http://127.0.0.1:3111/greet/world")
///     .send()
///     .await?;
/// assert_eq!(res.status(), 200);
/// # Ok(()) }
/// ```
pub fn request(method: &str, url: &str) -> RequestBuilder {
    RequestBuilder {
        method: method.to_ascii_uppercase(),
        url: url.to_string(),
        headers: Vec::new(),
        body: Bytes::new(),
        error: None,
        timeout: HTTP_TIMEOUT,
    }
}

/// An HTTP request, from [`request`] or [`Harness::request`](super::Harness::request).
#[derive(Debug)]
#[must_use = "`.send().await` sends the request"]
pub struct RequestBuilder {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Bytes,
    /// A body that could not be encoded, reported by `send`.
    error: Option<Error>,
    timeout: Duration,
}

impl RequestBuilder {
    /// A header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// `body` as JSON, with `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => self.body = bytes.into(),
            Err(source) => {
                self.error = Some(Error::Encode {
                    what: format!("the body of {} {}", self.method, self.url),
                    source,
                })
            }
        }
        self.header("content-type", "application/json")
    }

    /// A raw body (set its content type with [`RequestBuilder::header`]).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// How long to wait for the whole response (default 35 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends the request (HTTP/1.1, a connection of its own) and reads the
    /// whole response.
    pub async fn send(self) -> Result<Response, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let what = format!("{} {}", self.method, self.url);
        let failed = |reason: String| Error::Testing {
            what: what.clone(),
            reason,
        };
        let exchange = async {
            let uri: hyper::Uri = self
                .url
                .parse()
                .map_err(|e| failed(format!("the URL is not valid ({e})")))?;
            let authority = uri
                .authority()
                .map(|a| a.to_string())
                .ok_or_else(|| failed("the URL names no host".into()))?;
            let method = hyper::Method::from_bytes(self.method.as_bytes())
                .map_err(|_| failed(format!("`{}` is not an HTTP method", self.method)))?;
            let stream = tokio::net::TcpStream::connect(&authority)
                .await
                .map_err(|e| {
                    failed(format!(
                        "nothing answers at {authority} ({e}); is the engine's HTTP listener there?"
                    ))
                })?;
            let io = hyper_util::rt::TokioIo::new(stream);
            let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| failed(format!("the HTTP handshake failed ({e})")))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            let mut request = hyper::Request::builder()
                .method(method)
                .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
                .header(hyper::header::HOST, &authority);
            for (name, value) in &self.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let request = request.body(Full::new(self.body.clone())).map_err(|e| {
                failed(format!(
                    "the request cannot be built ({e}); check the header names and values"
                ))
            })?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| failed(format!("no response ({e})")))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| failed(format!("the response body was cut short ({e})")))?
                .to_bytes();
            Ok(Response {
                status,
                headers,
                body,
                what: what.clone(),
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(failed(format!(
                "no whole response within {:?}; raise it with `.timeout(..)`",
                self.timeout
            ))),
        }
    }
}

/// An HTTP response, read whole: status, headers, body.
#[derive(Debug, Clone)]
pub struct Response {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Bytes,
    /// The request, for errors.
    what: String,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The header `name` (any case), if the response has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Every header, names lowercased (a repeated header: its last value).
    pub fn headers(&self) -> &BTreeMap<String, String> {
        &self.headers
    }

    /// The body's bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<String, Error> {
        String::from_utf8(self.body.to_vec()).map_err(|e| Error::Decode {
            what: format!(
                "the body of the answer to {} (status {})",
                self.what, self.status
            ),
            reason: format!("it is not UTF-8 ({e}); read it with `bytes()`"),
        })
    }

    /// The body as JSON, decoded as a `T` (`serde_json::Value` for any).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let mut json = serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(&mut json).map_err(|e| {
            let path = e.path().to_string();
            let mut shown = String::from_utf8_lossy(&self.body).into_owned();
            if shown.len() > 300 {
                let mut cut = 300;
                while !shown.is_char_boundary(cut) {
                    cut -= 1;
                }
                shown.truncate(cut);
                shown.push_str("...");
            }
            Error::Decode {
                what: format!(
                    "the body of the answer to {} (status {})",
                    self.what, self.status
                ),
                reason: match path.as_str() {
                    "." => format!("{}; the body is {shown:?}", e.into_inner()),
                    _ => format!("at `{path}`: {}; the body is {shown:?}", e.into_inner()),
                },
            }
        })
    }
}
