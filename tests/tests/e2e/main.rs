//! The end-to-end suite: one test binary, a module per subject. Every test
//! gets its own engine from `iii_tests::engine()` (or unique names on the
//! external engine named by `III_URL`), so they share a process.
//!
//! One binary links once where each file of its own linked the SDK, the
//! embedded engine and their dependencies again. What cannot share a
//! process is a binary of its own beside this one, each saying why:
//! `macros.rs`, `trigger_type_macro.rs`, `duplicate_ids.rs` and
//! `newer_engines.rs` (their linked functions, registered by every worker
//! of their binary that connects with the default `Linked::All`),
//! `logging.rs` (a global `tracing` subscriber) and `otel.rs` (the global
//! tracer provider).
//!
//! `restarts` and `lifecycle` restart an engine on the ports it had: a test
//! binding a port meanwhile takes one of those only if the kernel picks it
//! out of thousands, and the suite passed 14 runs of 14 with them here (4
//! on the real engine).

mod bad_input;
mod bindings;
mod budgets;
mod calls;
mod channel_sockets;
mod channels;
mod close_codes;
mod discovery;
mod discovery_filters;
mod faults;
mod http_answers;
mod http_bodies;
mod http_functions;
mod http_middleware;
mod http_routes;
mod json_bodies;
mod lifecycle;
mod link;
mod lookups;
mod namespaces;
mod node_interop;
mod openapi;
mod payload_limits;
mod pubsub;
mod python_interop;
mod raw_clients;
mod rbac;
mod replicas;
mod restarts;
mod schemas;
mod state;
mod streams;
mod stress;
mod tls;
mod trigger_types;
mod wire;
