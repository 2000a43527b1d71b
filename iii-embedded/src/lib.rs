//! An iii engine in a library, for tests and local development.
//!
//! It speaks the engine's wire protocol on a real WebSocket listener and
//! serves `http` triggers on a real HTTP listener, so a worker cannot tell it
//! from the iii engine for everything listed below.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! let engine = iii_embedded::Engine::start().await?; // ephemeral ports on 127.0.0.1
//! println!("workers connect to {}, HTTP triggers answer on {}", engine.ws_url(), engine.http_url());
//! engine.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # What it implements
//!
//! - `workerregistered` with a reattach token; registrations buffered until
//!   `engine::workers::register` (or the 5 s grace period), then applied in
//!   the declared namespace; `reattach` evicts the old connection abruptly.
//! - Routing of calls between workers with the caller's invocation id
//!   reused, `_caller_worker_id` injected into object payloads, `void`,
//!   `enqueue`, `function_not_found` with the engine's message,
//!   `invocation_stopped` when the callee disconnects, ping/pong.
//! - Name conflicts (`WORKER_NAMESPACE_CONFLICT`, then Close) and function
//!   conflicts (`FUNCTION_NAMESPACE_CONFLICT`); `engine::*` reserved outside
//!   `default`.
//! - Worker-provided trigger types: bindings forwarded, replayed when the
//!   provider (re)registers, parked while there is none, refusals forwarded
//!   to the binding's owner; providers told when a binding goes.
//! - Conditions and binding metadata per kind as the engine 0.23 treats
//!   them: a condition runs (without metadata) for `http`, `cron`, `state`,
//!   `stream` and `durable:subscriber` bindings only; metadata is passed with
//!   every fire but `subscribe` and `durable:subscriber` ones; a failing
//!   condition skips the fire (500 for `http`, a retry for a queue job).
//! - Built-in trigger types `http`, `cron` (the engine's parser: UTC, 6 or 7
//!   fields, seconds first), `subscribe`, `state`, `stream`,
//!   `durable:subscriber`, `log`, `engine::workers-available` and
//!   `engine::functions-available`.
//! - Built-in functions `engine::workers::register`, the listings
//!   `engine::functions::list`, `engine::workers::list`,
//!   `engine::triggers::list` and `engine::registered-triggers::list` with
//!   the engine's filters (`search` any case over the engine's fields and
//!   ranked as there, `prefix`, `worker`/`workers` by name,
//!   `trigger_type`, `function_id`, `runtime`, `status`,
//!   `include_internal`), the built-ins and the modules listed as the
//!   engine lists its own (`worker_name` `iii-state` and the like; the
//!   modules as in-process workers, runtime `engine`), the lookups
//!   `engine::functions::info` (one id or up to 32),
//!   `engine::triggers::info`, `engine::registered-triggers::info` and
//!   `engine::workers::info` with the engine's `NOT_FOUND` and
//!   `INVALID_ARGUMENTS` errors, `engine::health::check`,
//!   `engine::register_trigger`, `engine::unregister_trigger`,
//!   `engine::queue::enqueue` (an in-memory queue with retries),
//!   `state::{set,get,delete,update,list,list_groups}`,
//!   `stream::{set,get,delete,update,list,list_groups,list_all,send}` (with
//!   a worker's `stream::<op>(<name>)` functions as a stream's storage, and
//!   `stream` triggers with the engine's camelCase payload), `publish`,
//!   `iii::durable::publish`, `engine::channels::create`, and
//!   `engine::log::{trace,debug,info,warn,error}` with `engine::logs::list`
//!   (the last 1,000 records of the last hour; each line at info or above
//!   stored twice, the second time as the engine's own `tracing` line, as
//!   engine 0.23 does) and `log` triggers (the level matched exactly, or
//!   `all`; metadata passed; no condition, no trace context; the function
//!   looked up in `default`).
//! - Telemetry from workers: the `/otel` socket and the same frames on the
//!   worker socket (`OTLP` spans, `LOGS` log records, `MTRC` metrics, each
//!   a 4-byte prefix and OTLP/JSON); spans stored (the last 20,000) and
//!   served by `engine::traces::list` (roots only unless
//!   `search_all_spans`) and `engine::traces::tree`; log records stored
//!   and fired at `log` triggers. Metrics are dropped.
//! - Data channels: `/ws/channels/<id>?key=..&dir=read|write` on the worker
//!   port (400 and 404 refusals with the engine's bodies, each end attached
//!   once, items counted against the channel's buffer and bytes against
//!   its budgets, an empty Close at
//!   the end, the writer's Close echoed), and the two channels of every
//!   matched `http` request: the body on `request_body` (a JSON body whole
//!   as one item, others chunk by chunk as they arrive; an unmatched
//!   request's body is never read), and a handler's `null` result read as
//!   a streamed response on `response` (`set_status`/`set_headers` text
//!   messages, binary chunks, the channel's end; the channel wins a race
//!   with a non-null result, as in the engine; the HTTP timeout runs until
//!   the response head, and its 504 carries no CORS header). A channel
//!   with an end never attached is swept once its time to live has passed
//!   (5 minutes, [`EngineBuilder::channel_ttl`]); one used to the end stays
//!   known for the life of the engine (a small record), so a late attach
//!   is answered and closed rather than refused with 404.
//! - HTTP-invoked functions (a `registerfunction` with an `invocation`):
//!   the URL checked against the allowed hosts and the auth secrets read
//!   from the environment at registration (a refusal leaves the function
//!   unregistered, logged, the worker not told), the URL checked again at
//!   each call, the call's data sent as the JSON body with
//!   `x-iii-function-path`, a fresh `x-iii-invocation-id`,
//!   `x-iii-timestamp`, the configured headers and the auth's
//!   (`x-iii-signature: sha256=<hex HMAC of "<timestamp>:<base64 body>">`,
//!   a bearer token or an API key header); below 400 the body is the
//!   result (none when empty; not JSON fails `invalid_response` on a 2xx),
//!   400 and above fails with the body's `error.code` and `error.message`
//!   or `http_error` `HTTP <status> <reason>`; no redirect followed; the
//!   function goes with the worker that registered it.
//!
//! # Where it knowingly differs from engine 0.23
//!
//! - Of the 68 built-in functions the engine registers on a configuration
//!   like `engine-min.yaml`, 31 are absent (a call fails with
//!   `function_not_found`): the `configuration::*` store; the queue's
//!   dead letters and statistics (`engine::queue::{list_topics,
//!   topic_stats, dlq_topics, dlq_messages}`, `iii::queue::{redrive,
//!   redrive_message, discard_message}`); metrics, rollups, alerts and
//!   sampling (`engine::metrics::list`, `engine::rollups::list`,
//!   `engine::alerts::{list,evaluate}`, `engine::sampling::rules`);
//!   `engine::baggage::{get,set,get_all}`, `engine::logs::clear`,
//!   `engine::traces::{clear,group_by}`; and the engine's own handlers of
//!   configuration changes (`iii-*::on-config-change`) and of its
//!   console (`iii-observability::ui-content`). `engine::health::check`
//!   reports metrics `disabled`. `engine::workers::info` finds only the
//!   workers `engine::workers::list` shows (the engine also finds one that
//!   sent no `pid`).
//! - Log records come only from `engine::log::*` calls: the engine's own
//!   log lines (registrations, warnings) are not records here, so `log`
//!   triggers never see them. No `trace` trigger type (bindings are parked,
//!   as with an engine lacking the worker). No stream socket for browser
//!   clients, so `stream:join`/`stream:leave` never fire.
//! - `engine::queue::enqueue` is built in (the real engine needs the external
//!   `queue` worker); a worker in `default` that registers the id replaces it.
//! - `engine::functions-available` fires on every change instead of polling
//!   every 5 s.
//! - Invocations the engine starts (HTTP, cron, trigger fires) begin a new
//!   trace, where the engine makes them children of its own spans (and of
//!   a request's `traceparent` header, for HTTP); it records none of its
//!   own spans. No `trace` trigger.
//! - No RBAC worker socket, and no setting for one: every worker connects
//!   on the one worker socket, with no auth function, registration hooks,
//!   exposed-function rules or socket middleware. Test those against the
//!   iii engine (the SDK's `iii::rbac` types serve its functions; the
//!   end-to-end suite runs them on its RBAC socket). An `http` route's
//!   middleware (`middleware_function_ids`) does run, as in the engine:
//!   after the route's condition and before its handler, in order, each
//!   able to answer the request itself.
//! - HTTP-invoked functions call `http://` URLs only (no TLS client): an
//!   `https://` one is refused at registration, where the engine calls it.
//!   The hosts allowed default to `localhost` and `127.0.0.1`
//!   ([`EngineBuilder::http_function_hosts`]), as the tests' engine
//!   configuration allows; with [`EngineBuilder::http_function_block_private_ips`]
//!   a host name is resolved and checked at each call, not at
//!   registration too (a literal address is checked at both). A request
//!   times out as a whole (connect to the end of the body) with
//!   `http_request_failed`; the engine says `http_response_failed` when
//!   its time runs out while the body is read.
//! - Bad input gets an answer or a limit where the engine has none: an
//!   invocation whose frame does not decode but names its invocation id
//!   (nested past 127 levels, `data` missing) is answered with
//!   `deserialization_error`, and such a result fails the call it answers
//!   (the engine drops both, and the caller waits for its timeout); a JSON
//!   request body over
//!   [`EngineBuilder::max_json_body`] gets 413, and one that would take
//!   the JSON bodies held past [`EngineBuilder::max_json_bytes_in_flight`]
//!   gets 503 with `Retry-After: 1`; a client that has not sent
//!   its request head within [`EngineBuilder::http_header_timeout`] is
//!   disconnected; an address with
//!   [`EngineBuilder::max_http_connections_per_address`] HTTP connections
//!   open has one more answered 503 and closed at once; a worker that leaves
//!   [`EngineBuilder::max_queued_frames`] frames, or
//!   [`EngineBuilder::max_queued_bytes`] bytes, unread is disconnected
//!   (the engine makes the senders wait instead); a channel holds at most
//!   [`EngineBuilder::max_channel_bytes`] bytes, and all channels together
//!   at most [`EngineBuilder::max_channel_bytes_total`], before their
//!   writers wait (the engine counts a channel's items only).
//! - A JSON request body of 256 KiB or more reaches its handler as it was
//!   sent: checked as one JSON value, but not parsed and written afresh
//!   as the engine writes every body (its object keys sorted, its numbers
//!   and escapes in serde_json's spelling), so that it costs the engine
//!   about twice its size rather than five times. A handler that reads the
//!   body as data sees no difference; one that compares its text can.
//!   Smaller bodies are written afresh, as in the engine.
//! - A worker whose frame breaks the WebSocket protocol is sent a Close
//!   with a code before its socket is dropped: 1009 for a message over
//!   the size limit (64 MiB, a frame over 16 MiB), 1002 for any other
//!   protocol error (an unmasked frame, say). The engine drops the socket
//!   with no Close. A client learns why; nothing else changes.
//! - It refuses three things the engine accepts: an `invocationresult`
//!   from a worker the invocation was not sent to, and the removal of
//!   another worker's binding, by an `unregistertrigger` frame (ignored)
//!   or by a call of `engine::unregister_trigger` (answered
//!   `{"removed": false}`). The engine takes a result from any worker that
//!   names a pending invocation id, and removes any binding whose id it is
//!   given, although `engine::registered-triggers::list` hands every
//!   binding id to every worker; nothing a well-behaved worker does
//!   depends on either.
//!
//! # Security
//!
//! It is a development engine. It protects against mistakes, not attackers:
//!
//! - Both ports listen on `127.0.0.1` unless [`EngineBuilder::ws_addr`] or
//!   [`EngineBuilder::http_addr`] says otherwise.
//! - A worker cannot answer an invocation it was not sent, take a function
//!   id another live worker holds (`FUNCTION_NAMESPACE_CONFLICT`), remove
//!   another worker's function or binding, or take a worker name in use.
//! - Channel ends need their key, and each attaches once.
//!
//! It does not protect:
//!
//! - Any process that can reach the worker port is a worker: there is no
//!   authentication (handshake headers are ignored) and no RBAC, so it can
//!   call every function, read and write all state and streams, and
//!   register routes.
//! - The HTTP port has no authentication or rate limit; its limits are
//!   the ones above.
//! - Traffic is plain text unless `EngineBuilder::tls` (feature `tls`)
//!   serves the worker port over TLS; the HTTP port is always plain.
//! - Everything lives in memory, unencrypted, and is gone on shutdown.

#![warn(missing_docs)]

mod clock;
mod core;
mod engine;
mod launch;
mod modules;
mod settings;
mod url;

pub use engine::{Engine, EngineBuilder};
pub use modules::DeadLetter;
