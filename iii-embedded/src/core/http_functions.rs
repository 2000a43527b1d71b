//! HTTP-invoked functions, as the engine's `iii-http-functions` module
//! serves them: a function registered with an `invocation` config is
//! called by POSTing (or the configured method) its call's data to its URL.
//!
//! At registration the URL is checked (the host against the allowed
//! hosts, private addresses when they are blocked) and the auth secrets
//! are read from the environment, once; a refusal leaves the function
//! unregistered with a warning naming the setting, and the worker is not
//! told, as by the engine. On every call the URL is checked again, then
//! the request goes out with the engine's headers (`content-type`,
//! `x-iii-function-path`, `x-iii-invocation-id`, `x-iii-timestamp`, the
//! configured ones, the auth's), and the answer maps as the engine maps
//! it: below 400 a success (its body as JSON, none when empty), 400 and
//! above an error (`error.code` and `error.message` of a JSON body, else
//! `http_error`).

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use iii_protocol::{ErrorBody, HttpAuth, HttpInvocation};
use serde_json::Value;
use sha2::Sha256;

use super::module::Outcome;

/// Which URLs HTTP-invoked functions may have.
#[derive(Debug, Clone)]
pub(crate) struct Security {
    /// Host patterns (`*` and `?` globs over the whole host name).
    pub(crate) allowed_hosts: Vec<String>,
    /// Refuse hosts that are, or resolve to, private addresses.
    pub(crate) block_private_ips: bool,
}

impl Default for Security {
    /// As `engine-min.yaml` configures the engine: loopback hosts only,
    /// private addresses allowed, plain HTTP.
    fn default() -> Self {
        Security {
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into()],
            block_private_ips: false,
        }
    }
}

/// How a call proves itself, its secret read at registration (and never
/// shown: its `Debug` names the kind only).
enum Auth {
    None,
    Hmac(Vec<u8>),
    Bearer(String),
    ApiKey { header: String, value: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "none",
            Auth::Hmac(_) => "hmac",
            Auth::Bearer(_) => "bearer",
            Auth::ApiKey { .. } => "api_key",
        })
    }
}

/// A registered HTTP-invoked function: where and how to call it.
#[derive(Debug)]
pub(crate) struct HttpTarget {
    function_id: String,
    url: String,
    uri: Uri,
    host: String,
    port: u16,
    method: hyper::Method,
    timeout: Duration,
    headers: Vec<(String, String)>,
    auth: Auth,
}

fn refused(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new("url_validation_failed", message)
}

/// Whether `pattern` (with `*` for any run and `?` for one character)
/// matches all of `text`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.split_first(), text.split_first()) {
        (None, _) => text.is_empty(),
        (Some((b'*', rest)), _) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        (Some((b'?', rest)), Some((_, more))) => glob(rest, more),
        (Some((p, rest)), Some((t, more))) => p == t && glob(rest, more),
        (Some(_), None) => false,
    }
}

/// Whether an address is one the engine counts as private.
fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || (a, b, c) == (192, 0, 2)
                || (a, b, c) == (198, 51, 100)
                || (a, b, c) == (203, 0, 113)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => private(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback()
                    || v6.is_unspecified()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
                    || (first & 0xff00) == 0xff00
            }
        },
    }
}

impl Security {
    /// The URL's parts, if its scheme, host and allowed hosts let it be
    /// called (private addresses checked where the host is one).
    fn check(&self, url: &str) -> Result<(Uri, String, u16), ErrorBody> {
        let uri: Uri = url.parse().map_err(|_| refused("Invalid URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(refused(
                    "HTTPS is not supported by iii-embedded's HTTP functions (it has no TLS client); call an http:// URL, or run the iii engine",
                ));
            }
            _ => return Err(refused("Invalid URL")),
        }
        let host = uri
            .host()
            .ok_or_else(|| refused("Invalid URL"))?
            .to_ascii_lowercase();
        if !self
            .allowed_hosts
            .iter()
            .any(|p| glob(p.as_bytes(), host.as_bytes()))
        {
            return Err(refused(format!(
                "URL not in allowlist (host `{host}`; allow it with `EngineBuilder::http_function_hosts`)"
            )));
        }
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if self.block_private_ips && literal.parse().is_ok_and(private) {
            return Err(refused("Private IP blocked"));
        }
        let port = uri.port_u16().unwrap_or(80);
        Ok((uri, host, port))
    }
}

/// The value of an auth secret's environment variable.
fn secret(name: &str, code: &str, what: &str) -> Result<String, ErrorBody> {
    std::env::var(name).map_err(|_| ErrorBody::new(code, format!("{what} not found: {name}")))
}

impl HttpTarget {
    /// Checks a registration's URL and reads its auth secrets, as the
    /// engine does once when the function is registered.
    pub(crate) fn new(
        function_id: &str,
        config: &HttpInvocation,
        security: &Security,
    ) -> Result<HttpTarget, ErrorBody> {
        let (uri, host, port) = security.check(&config.url)?;
        let method = config.method.as_deref().unwrap_or("POST");
        let method = match method {
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => {
                hyper::Method::from_bytes(method.as_bytes())
                    .map_err(|_| refused("Invalid method"))?
            }
            other => {
                return Err(ErrorBody::new(
                    "invalid_method",
                    format!("`{other}` is not GET, POST, PUT, PATCH or DELETE"),
                ));
            }
        };
        let auth = match &config.auth {
            None => Auth::None,
            Some(HttpAuth::Hmac { secret_key }) => {
                Auth::Hmac(secret(secret_key, "secret_not_found", "Secret")?.into_bytes())
            }
            Some(HttpAuth::Bearer { token_key }) => {
                Auth::Bearer(secret(token_key, "token_not_found", "Token")?)
            }
            Some(HttpAuth::ApiKey { header, value_key }) => Auth::ApiKey {
                header: header.clone(),
                value: secret(value_key, "api_key_not_found", "API key")?,
            },
        };
        Ok(HttpTarget {
            function_id: function_id.to_string(),
            url: config.url.clone(),
            uri,
            host,
            port,
            method,
            timeout: Duration::from_millis(config.timeout_ms.unwrap_or(30_000)),
            headers: config.headers.clone().into_iter().collect(),
            auth,
        })
    }

    /// Calls the URL with `data` and maps the answer as the engine does.
    pub(crate) async fn call(&self, security: &Security, data: &Value) -> Outcome {
        security.check(&self.url)?;
        // Resolved once: the addresses checked are the ones dialled.
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, self.port))
            .await
            .map_err(|e| match security.block_private_ips {
                // Checked first, as the engine's validation does.
                true => refused("DNS lookup failed"),
                false => ErrorBody::new(
                    "http_request_failed",
                    format!(
                        "error sending request for url ({}): dns error: {e}",
                        self.url
                    ),
                ),
            })?
            .collect();
        if security.block_private_ips && addrs.iter().any(|a| private(a.ip())) {
            return Err(refused("Private IP blocked"));
        }
        let body = serde_json::to_vec(data)
            .map_err(|e| ErrorBody::new("serialization_error", e.to_string()))?;
        let request = self.request(body)?;
        let failed = |code: &str, why: String| {
            ErrorBody::new(
                code,
                format!("error sending request for url ({}): {why}", self.url),
            )
        };
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(&addrs[..])
                .await
                .map_err(|e| {
                    failed(
                        "http_request_failed",
                        format!("client error (Connect): {e}"),
                    )
                })?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .map_err(|e| failed("http_request_failed", e.to_string()))?;
            tokio::spawn(connection);
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| failed("http_request_failed", e.to_string()))?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|e| {
                ErrorBody::new(
                    "http_response_failed",
                    format!("error decoding response body: {e}"),
                )
            })?;
            Ok::<_, ErrorBody>((status, body.to_bytes()))
        };
        let (status, body) = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(answer) => answer?,
            Err(_) => return Err(failed("http_request_failed", "operation timed out".into())),
        };
        answer(status, &body)
    }

    /// The request, with the engine's headers and the auth's.
    fn request(&self, body: Vec<u8>) -> Result<hyper::Request<Full<Bytes>>, ErrorBody> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string();
        let authority = match self.uri.port_u16() {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        };
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut builder = hyper::Request::builder()
            .method(self.method.clone())
            .uri(path)
            .header("host", authority)
            .header("content-type", "application/json")
            .header("x-iii-function-path", &self.function_id)
            .header("x-iii-invocation-id", uuid::Uuid::new_v4().to_string())
            .header("x-iii-timestamp", &timestamp);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        builder = match &self.auth {
            Auth::None => builder,
            Auth::Hmac(key) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key)
                    .map_err(|e| ErrorBody::new("signature_error", e.to_string()))?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(&body);
                mac.update(format!("{timestamp}:{encoded}").as_bytes());
                let digest = mac.finalize().into_bytes();
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                builder.header("x-iii-signature", format!("sha256={hex}"))
            }
            Auth::Bearer(token) => builder.header("authorization", format!("Bearer {token}")),
            Auth::ApiKey { header, value } => builder.header(header, value),
        };
        builder.body(Full::new(Bytes::from(body))).map_err(|e| {
            ErrorBody::new(
                "http_request_failed",
                format!(
                    "error sending request for url ({}): builder error: {e}",
                    self.url
                ),
            )
        })
    }
}

/// An HTTP answer as the engine maps it to a call's outcome.
fn answer(status: hyper::StatusCode, body: &[u8]) -> Outcome {
    if status.as_u16() >= 400 {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        return Err(match parsed.as_ref().and_then(|v| v.get("error")) {
            Some(error) => ErrorBody::new(
                error
                    .get("code")
                    .and_then(Value::as_str)
                    .unwrap_or("http_error"),
                error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("HTTP request failed"),
            ),
            None => ErrorBody::new(
                "http_error",
                format!(
                    "HTTP {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or_default()
                ),
            ),
        });
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    match serde_json::from_slice(body) {
        Ok(value) => Ok(value),
        Err(_) if !status.is_success() => Ok(Value::Null),
        Err(e) => Err(ErrorBody::new("invalid_response", e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hosts_match_whole_globs() {
        assert!(glob(b"localhost", b"localhost"));
        assert!(glob(b"*", b"a.b.c"));
        assert!(glob(b"*.example.com", b"api.example.com"));
        assert!(!glob(b"*.example.com", b"example.com"));
        assert!(glob(b"api-?.x", b"api-1.x"));
        assert!(!glob(b"localhost:3000", b"localhost"));
    }

    #[test]
    fn urls_are_refused_with_the_engines_reasons() {
        let security = Security::default();
        let reason = |url: &str| security.check(url).err().map(|e| e.message);
        assert_eq!(reason("http://127.0.0.1:9/x"), None);
        assert_eq!(reason("not a url").as_deref(), Some("Invalid URL"));
        assert!(
            reason("http://example.com/").is_some_and(|m| m.starts_with("URL not in allowlist"))
        );
        assert!(reason("https://localhost/").is_some_and(|m| m.contains("HTTPS")));
        let blocking = Security {
            allowed_hosts: vec!["*".into()],
            block_private_ips: true,
        };
        assert_eq!(
            blocking
                .check("http://10.1.2.3/")
                .err()
                .map(|e| e.message)
                .as_deref(),
            Some("Private IP blocked")
        );
        assert!(blocking.check("http://8.8.8.8/").is_ok());
    }

    #[test]
    fn answers_map_as_the_engines() {
        use hyper::StatusCode as S;
        assert_eq!(answer(S::OK, br#"{"a":1}"#), Ok(json!({"a": 1})));
        assert_eq!(answer(S::NO_CONTENT, b""), Ok(Value::Null));
        assert_eq!(
            answer(S::FOUND, b"moved"),
            Ok(Value::Null),
            "3xx is a success"
        );
        let bad = answer(S::OK, b"<html>").expect_err("not JSON");
        assert_eq!(bad.code, "invalid_response");
        let teapot = answer(
            S::IM_A_TEAPOT,
            br#"{"error":{"code":"tea","message":"short"}}"#,
        );
        assert_eq!(teapot, Err(ErrorBody::new("tea", "short")));
        let plain = answer(S::INTERNAL_SERVER_ERROR, b"oops").expect_err("500");
        assert_eq!(
            (plain.code.as_str(), plain.message.as_str()),
            ("http_error", "HTTP 500 Internal Server Error")
        );
    }
}
