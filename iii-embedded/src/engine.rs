//! The crate's public face: [`EngineBuilder`], the settings of an engine
//! and its start, and [`Engine`], a running one: its addresses, what it
//! holds, and its shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use crate::launch::{Running, launch};
use crate::modules::DeadLetter;
use crate::settings::Settings;

/// Settings of an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    ws_addr: SocketAddr,
    http_addr: SocketAddr,
    settings: Settings,
    /// PEM certificate chain and key, to serve the worker port over TLS.
    #[cfg(feature = "tls")]
    tls: Option<(Vec<u8>, Vec<u8>)>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        EngineBuilder {
            ws_addr: loopback(0),
            http_addr: loopback(0),
            #[cfg(feature = "tls")]
            tls: None,
            settings: Settings::default(),
        }
    }
}

impl EngineBuilder {
    /// Worker socket address (default `127.0.0.1:0`, an ephemeral port).
    pub fn ws_addr(mut self, addr: SocketAddr) -> Self {
        self.ws_addr = addr;
        self
    }

    /// REST listener address for `http` triggers (default `127.0.0.1:0`).
    pub fn http_addr(mut self, addr: SocketAddr) -> Self {
        self.http_addr = addr;
        self
    }

    /// REST listener for `http` triggers on 127.0.0.1:`port` (the real
    /// engine's default is 3111); 0 for an ephemeral port.
    pub fn http_port(self, port: u16) -> Self {
        self.http_addr(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// How long an HTTP request waits for its handler before a 504 (default 30 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.settings.http_timeout = timeout;
        self
    }

    /// How long registrations wait for `engine::workers::register` before
    /// they are applied in `default` (default 5 s, as the engine).
    pub fn namespace_grace(mut self, grace: Duration) -> Self {
        self.settings.namespace_grace = grace;
        self
    }

    /// Retries of a failing queued job before it is dead-lettered (default 3),
    /// and the first backoff, doubled per retry (default 100 ms).
    pub fn queue_retries(mut self, max_retries: u32, backoff: Duration) -> Self {
        self.settings.queue_max_retries = max_retries;
        self.settings.queue_backoff = backoff;
        self
    }

    /// How long a channel with an end never attached lives (default 5
    /// minutes, as the engine); channels are swept every 60 s, or every
    /// `ttl` when that is shorter.
    pub fn channel_ttl(mut self, ttl: Duration) -> Self {
        self.settings.channel_ttl = ttl;
        self
    }

    /// Serves the worker port over TLS with this PEM certificate chain and
    /// PEM private key: workers connect with `wss://` (cargo feature
    /// `tls`). A bad certificate or key fails [`EngineBuilder::start`].
    #[cfg(feature = "tls")]
    pub fn tls(mut self, chain_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.tls = Some((chain_pem.into(), key_pem.into()));
        self
    }

    /// The largest JSON request body an `http` trigger takes (default
    /// 64 MiB, the largest item a worker reads from a channel); a bigger one
    /// is answered 413. Other bodies stream to the handler and have no
    /// limit. (The engine 0.23 sets none.)
    pub fn max_json_body(mut self, bytes: usize) -> Self {
        self.settings.max_json_body = bytes;
        self
    }

    /// How many connections one client address may hold open on the HTTP
    /// listener at once (default 256), so that one client cannot take
    /// every file descriptor; one more is answered 503 (with
    /// `Retry-After: 1` and a message naming this setting) and closed at
    /// once. The engine 0.23 sets no such limit. [`EngineBuilder::start`]
    /// refuses 0.
    pub fn max_http_connections_per_address(mut self, connections: usize) -> Self {
        self.settings.http_connections_per_address = connections;
        self
    }

    /// The hosts HTTP-invoked functions may call (a function registered
    /// with an `invocation` whose URL names another is not registered, and
    /// the engine's log says why): whole host names, with `*` for any run
    /// of characters and `?` for one, as the engine's `url_allowlist`
    /// (default `localhost` and `127.0.0.1`, as the tests' engine
    /// configuration; `["*"]` allows every host). The port, scheme and path
    /// are not matched.
    ///
    /// ```
    /// let builder = iii_embedded::Engine::builder()
    ///     .http_function_hosts(["localhost", "*.internal.example"]);
    /// # let _ = builder;
    /// ```
    pub fn http_function_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.http_functions.allowed_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// Refuses HTTP-invoked functions whose host is, or resolves to, a
    /// private address (loopback, RFC 1918, link-local; default off, as
    /// the tests' engine configuration; the engine's own default is on).
    pub fn http_function_block_private_ips(mut self, block: bool) -> Self {
        self.settings.http_functions.block_private_ips = block;
        self
    }

    /// How many bytes of JSON request bodies the `http` listener holds at
    /// once, all requests together (default 128 MiB: two of the largest).
    /// A request whose JSON body would go past it is answered 503 at once,
    /// with a `Retry-After` header and a message naming this setting; its
    /// body is not read. (The engine 0.23 sets no such limit.)
    /// [`EngineBuilder::start`] refuses 0.
    pub fn max_json_bytes_in_flight(mut self, bytes: usize) -> Self {
        self.settings.json_bytes_in_flight = bytes;
        self
    }

    /// How long an HTTP client may take to send a request's head (its line
    /// and headers), on a new connection or between requests on a kept one,
    /// before the connection is closed (default 30 s). The engine 0.23 has
    /// no such limit: a client that never finishes its head holds the
    /// connection for ever there. A timeout over a year is taken as a year,
    /// so `Duration::MAX` means no limit in practice.
    pub fn http_header_timeout(mut self, timeout: Duration) -> Self {
        const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
        self.settings.http_header_timeout = timeout.min(YEAR);
        self
    }

    /// How many frames may wait for a worker that does not read them
    /// before it is disconnected (default 65,536), so a stuck worker
    /// cannot make the engine's memory grow without end. (The engine 0.23
    /// makes senders wait on a queue of 64 instead; iii-embedded sends
    /// under its lock and cannot wait.) [`EngineBuilder::start`] refuses 0.
    pub fn max_queued_frames(mut self, frames: usize) -> Self {
        self.settings.max_queued_frames = frames;
        self
    }

    /// How many bytes of frames may wait for a worker that does not read
    /// them before it is disconnected (default 128 MiB, two of the largest
    /// frames). One frame always fits, whatever its size, when nothing else
    /// waits. The worker is dropped without a Close frame, and the engine's
    /// log names this setting. (The engine 0.23 has no byte limit.)
    /// [`EngineBuilder::start`] refuses 0.
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_queued_bytes = bytes;
        self
    }

    /// How many bytes of items one channel holds for a reader that has not
    /// taken them (default 16 MiB); past it, the engine stops reading the
    /// writer's socket until the reader catches up, as it does past the
    /// channel's item count. One item always fits, whatever its size, when
    /// the channel is empty. (The engine 0.23 counts items only.)
    /// [`EngineBuilder::start`] refuses 0.
    pub fn max_channel_bytes(mut self, bytes: usize) -> Self {
        self.settings.channel_bytes = bytes;
        self
    }

    /// How many bytes of items all channels together hold (default
    /// 256 MiB), so that many channels cannot add up to more: past it,
    /// every channel's writer waits until some reader takes items. It
    /// counts the bodies of `http` requests and streamed responses too,
    /// which go through channels. [`EngineBuilder::start`] refuses 0.
    pub fn max_channel_bytes_total(mut self, bytes: usize) -> Self {
        self.settings.channel_bytes_total = bytes;
        self
    }

    /// Binds both listeners and starts serving.
    pub async fn start(self) -> std::io::Result<Engine> {
        let s = &self.settings;
        let zero = [
            (
                "max_queued_frames",
                s.max_queued_frames,
                "disconnect every worker at its first frame",
            ),
            (
                "max_queued_bytes",
                s.max_queued_bytes,
                "disconnect every worker with two frames waiting",
            ),
            (
                "max_channel_bytes",
                s.channel_bytes,
                "let no channel hold an item",
            ),
            (
                "max_channel_bytes_total",
                s.channel_bytes_total,
                "let no channel hold an item",
            ),
            (
                "max_http_connections_per_address",
                s.http_connections_per_address,
                "answer 503 to every HTTP client",
            ),
            (
                "max_json_bytes_in_flight",
                s.json_bytes_in_flight,
                "answer 503 to every JSON body",
            ),
        ]
        .into_iter()
        .find(|(_, value, _)| *value == 0);
        if let Some((setting, _, effect)) = zero {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("EngineBuilder::{setting}(0) would {effect}; give at least 1"),
            ));
        }
        #[cfg(feature = "tls")]
        let acceptor = match &self.tls {
            Some((chain, key)) => Some(crate::core::acceptor(chain, key)?),
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        let acceptor = None;
        let running = launch(self.ws_addr, self.http_addr, acceptor, self.settings).await?;
        Ok(Engine { running })
    }
}

/// A running in-process engine. Dropping it without [`Engine::shutdown`]
/// leaves its listeners running until the runtime ends.
#[derive(Debug)]
pub struct Engine {
    running: Running,
}

impl Engine {
    /// Starts an engine on ephemeral loopback ports.
    pub async fn start() -> std::io::Result<Engine> {
        EngineBuilder::default().start().await
    }

    /// Settings for an engine on chosen ports.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The URL workers connect to, e.g. `ws://127.0.0.1:49134` (`wss://`
    /// when it serves TLS).
    pub fn ws_url(&self) -> String {
        let scheme = if self.running.secure { "wss" } else { "ws" };
        format!("{scheme}://{}", self.running.ws_addr)
    }

    /// The base URL of `http` triggers, e.g. `http://127.0.0.1:3111`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.running.http_addr)
    }

    /// Jobs the built-in queue gave up on after all retries.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.running.dead_letters.all()
    }

    /// Names of the workers connected now.
    pub fn worker_names(&self) -> Vec<String> {
        self.running.core.worker_names()
    }

    /// Stops listening and drops every worker connection.
    pub async fn shutdown(self) {
        let Running {
            core, stop, tasks, ..
        } = self.running;
        let _ = stop.send(true);
        core.disconnect_all();
        for task in tasks {
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{RefUnwindSafe, UnwindSafe};

    /// The public types keep their auto traits: an engine can move between
    /// threads and be held across `catch_unwind`.
    #[test]
    fn the_public_types_are_send_sync_and_unwind_safe() {
        fn check<T: Send + Sync + Unpin + UnwindSafe + RefUnwindSafe>() {}
        check::<super::Engine>();
        check::<super::EngineBuilder>();
        check::<crate::DeadLetter>();
    }
}
