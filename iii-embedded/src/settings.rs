//! The knobs of one engine, as [`EngineBuilder`](crate::EngineBuilder)
//! sets them; the core and each module take the ones they need.

use std::time::Duration;

/// Every setting of an engine but its addresses and TLS.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// How long a socket may take over its WebSocket (or TLS) handshake.
    pub(crate) handshake_timeout: Duration,
    /// How long an HTTP request waits for its handler before a 504.
    pub(crate) http_timeout: Duration,
    /// How long registrations wait for `engine::workers::register`.
    pub(crate) namespace_grace: Duration,
    /// Retries of a failing queued job before it is dead-lettered.
    pub(crate) queue_max_retries: u32,
    /// The first backoff of a queued job, doubled per retry.
    pub(crate) queue_backoff: Duration,
    /// How long a channel with an end never attached lives.
    pub(crate) channel_ttl: Duration,
    /// The largest JSON request body an `http` trigger takes.
    pub(crate) max_json_body: usize,
    /// How many HTTP connections one client address may hold at once.
    pub(crate) http_connections_per_address: usize,
    /// Which URLs HTTP-invoked functions may have.
    pub(crate) http_functions: crate::core::HttpSecurity,
    /// How many bytes of JSON request bodies may be held at once.
    pub(crate) json_bytes_in_flight: usize,
    /// How long an HTTP client may take to send a request's head.
    pub(crate) http_header_timeout: Duration,
    /// How many frames may wait for a worker before it is disconnected.
    pub(crate) max_queued_frames: usize,
    /// How many bytes of frames may wait for a worker before it is
    /// disconnected.
    pub(crate) max_queued_bytes: usize,
    /// How many bytes of items one channel holds before its writer waits.
    pub(crate) channel_bytes: usize,
    /// How many bytes of items all channels together hold before their
    /// writers wait.
    pub(crate) channel_bytes_total: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            handshake_timeout: Duration::from_secs(10),
            http_timeout: Duration::from_secs(30),
            namespace_grace: Duration::from_secs(5),
            queue_max_retries: 3,
            queue_backoff: Duration::from_millis(100),
            channel_ttl: Duration::from_secs(300),
            max_json_body: iii_protocol::channel::ENGINE_MAX_ITEM,
            json_bytes_in_flight: 128 << 20,
            http_functions: Default::default(),
            http_connections_per_address: 256,
            http_header_timeout: Duration::from_secs(30),
            max_queued_frames: 65_536,
            max_queued_bytes: 128 << 20,
            channel_bytes: 16 << 20,
            channel_bytes_total: 256 << 20,
        }
    }
}
