//! Connection settings and the reconnect policy.

use std::time::Duration;

use crate::error::{Error, validate_namespace};

/// Default engine address.
pub const DEFAULT_URL: &str = "ws://127.0.0.1:49134";

/// Invocations a worker runs at once unless told otherwise
/// ([`crate::WorkerBuilder::max_concurrent_invocations`]).
pub const DEFAULT_MAX_CONCURRENT: usize = 10_000;

/// How a worker retries after losing the engine: exponential backoff with
/// jitter, optionally giving up after a number of attempts.
///
/// ```
/// use std::time::Duration;
/// let policy = iii::ReconnectPolicy::default().max_attempts(5);
/// let first = policy.delay(1);
/// assert!(first <= Duration::from_millis(200));
/// assert!(policy.delay(30) <= Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// Delay before the first retry.
    pub initial_delay: Duration,
    /// Upper bound of any delay.
    pub max_delay: Duration,
    /// Growth factor per attempt.
    pub multiplier: f64,
    /// Fraction of each delay that is randomised (0 = none, 1 = full jitter).
    pub jitter: f64,
    /// Give up after this many failed attempts (`None` = never).
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: 0.5,
            max_attempts: None,
        }
    }
}

impl ReconnectPolicy {
    /// Never reconnect: a lost connection moves the worker to `Failed`.
    pub fn never() -> Self {
        ReconnectPolicy {
            max_attempts: Some(0),
            ..Self::default()
        }
    }

    /// Gives up after `attempts` failed attempts.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// The delay before attempt `attempt` (1-based), jitter included.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .multiplier
            .max(1.0)
            .powi(attempt.saturating_sub(1).min(64) as i32);
        let base = (self.initial_delay.as_secs_f64() * exp).min(self.max_delay.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 - jitter * crate::ids::unit_random();
        Duration::from_secs_f64((base * factor).max(0.0))
    }
}

/// The smallest frame limit accepted: room for any registration frame with
/// a modest schema.
const MIN_FRAME: usize = 64 * 1024;

/// Everything `connect` needs; filled by [`crate::WorkerBuilder`].
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) url: String,
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) default_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) reconnect: ReconnectPolicy,
    pub(crate) max_frame_size: usize,
    /// Invocations running at once, at most; more are refused.
    pub(crate) max_concurrent_invocations: usize,
    /// How long an invocation's first step may run on the reader before
    /// its function's invocations start in tasks of their own.
    pub(crate) first_step_budget: Duration,
    /// Extra TLS roots (PEM), for `wss://` engines, each with where it
    /// came from (for errors).
    pub(crate) tls_roots: Vec<(String, Vec<u8>)>,
    /// A file of extra TLS roots, read when connecting (`III_TLS_CA_FILE`).
    pub(crate) tls_roots_file: Option<String>,
    /// A bearer token from `III_AUTH_TOKEN` or `III_TOKEN`, sent unless an
    /// `authorization` header is given otherwise.
    pub(crate) env_token: Option<String>,
}

impl Config {
    /// The engine's URL as logs and errors show it: without the query,
    /// which may carry a token.
    pub(crate) fn url_shown(&self) -> &str {
        self.url.split('?').next().unwrap_or_default()
    }

    pub(crate) fn new() -> Self {
        Config {
            url: DEFAULT_URL.into(),
            name: default_name(),
            namespace: None,
            description: None,
            headers: Vec::new(),
            default_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            reconnect: ReconnectPolicy::default(),
            max_frame_size: iii_protocol::ENGINE_MAX_FRAME,
            max_concurrent_invocations: DEFAULT_MAX_CONCURRENT,
            first_step_budget: Duration::from_micros(100),
            tls_roots: Vec::new(),
            tls_roots_file: None,
            env_token: None,
        }
    }

    /// Adds the environment's bearer token, unless an `authorization`
    /// header was given otherwise (that one wins, as in the official SDKs).
    pub(crate) fn apply_env_token(&mut self) {
        let Some(token) = self.env_token.take() else {
            return;
        };
        let explicit = self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
        if !explicit {
            self.headers
                .push(("authorization".into(), format!("Bearer {token}")));
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        validate_url(&self.url)?;
        if self.name.trim().is_empty() {
            return Err(Error::invalid(
                "worker name",
                "it is empty; set `.name(..)` or III_WORKER_NAME",
            ));
        }
        if let Some(namespace) = &self.namespace {
            validate_namespace("namespace", namespace)?;
        }
        if self.max_concurrent_invocations == 0 {
            return Err(Error::invalid(
                "max concurrent invocations",
                "0 would refuse every invocation; give at least 1",
            ));
        }
        if self.max_frame_size < MIN_FRAME {
            return Err(Error::invalid(
                "max frame size",
                format!(
                    "{} bytes is too small to carry registrations; give at least {MIN_FRAME} (the engine reads up to {})",
                    self.max_frame_size,
                    iii_protocol::ENGINE_MAX_FRAME
                ),
            ));
        }
        for (name, value) in &self.headers {
            if tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                .is_err()
            {
                return Err(Error::invalid(
                    "handshake header",
                    format!("`{name}` is not a valid header name"),
                ));
            }
            if tokio_tungstenite::tungstenite::http::HeaderValue::from_str(value).is_err() {
                return Err(Error::invalid(
                    "handshake header",
                    format!("the value of `{name}` has characters a header cannot carry"),
                ));
            }
        }
        Ok(())
    }
}

/// `hostname:pid`, the default worker name of the official SDKs.
pub(crate) fn default_name() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let host = if host.is_empty() {
        "localhost".to_string()
    } else {
        host
    };
    format!("{host}:{}", std::process::id())
}

/// Checks an engine URL: `ws://` or `wss://`, with a host.
pub(crate) fn validate_url(url: &str) -> Result<(), Error> {
    let bad = |reason: &str| Error::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let Some(rest) = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
    else {
        return Err(bad(
            "it must start with `ws://` or `wss://`, for example ws://127.0.0.1:49134",
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(bad("it has no host"));
    }
    if let Some((_, port)) = authority.rsplit_once(':')
        && !authority.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return Err(bad("the port is not a number from 0 to 65535"));
    }
    tokio_tungstenite::tungstenite::http::Uri::try_from(url).map_err(|e| bad(&e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_with_a_reason() {
        assert!(validate_url("ws://127.0.0.1:49134").is_ok());
        assert!(validate_url("ws://engine.internal/").is_ok());
        assert!(validate_url("ws://[::1]:49134").is_ok());
        for (url, needle) in [
            ("http://x", "must start with `ws://` or `wss://`"),
            ("ws://", "no host"),
            ("ws://host:99999", "port"),
            ("", "must start"),
        ] {
            let e = validate_url(url).expect_err(url).to_string();
            assert!(e.contains(needle), "{url}: {e}");
        }
    }

    #[test]
    fn backoff_grows_to_the_cap_with_bounded_jitter() {
        let p = ReconnectPolicy {
            jitter: 0.0,
            ..ReconnectPolicy::default()
        };
        assert_eq!(p.delay(1), Duration::from_millis(200));
        assert_eq!(p.delay(2), Duration::from_millis(400));
        assert_eq!(p.delay(40), Duration::from_secs(10));
        let jittered = ReconnectPolicy::default();
        for _ in 0..100 {
            let d = jittered.delay(3);
            assert!(
                d >= Duration::from_millis(400) && d <= Duration::from_millis(800),
                "{d:?}"
            );
        }
    }

    #[test]
    fn default_name_is_host_and_pid() {
        assert!(default_name().ends_with(&format!(":{}", std::process::id())));
    }
}
