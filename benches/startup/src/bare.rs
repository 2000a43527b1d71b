//! The start-up floor (`III_BENCH_PLAIN=3`): a bare protocol client (the
//! call benchmark's, `benches/src/bare.rs`) registers the same 1,000
//! functions, with the schemas the SDK generates for them (schemars, draft
//! 2020-12, request and response contracts) and one HTTP route each,
//! announces itself, and stops the clock when the engine answers that. It
//! builds the schemas and frames on every core, as the SDK builds its
//! schemas, writes every frame with one flush, and does nothing the
//! protocol does not ask for: no checks, no aliases, no replay copies, no
//! pings.

use std::time::{Duration, Instant};

use schemars::generate::{Contract, SchemaSettings};
use schemars::{Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::Value;

// Only `bare_connect_frames` is used here; the rest serves the call benchmark.
#[allow(dead_code)]
#[path = "../../src/bare.rs"]
mod client;

type Root = fn(SchemaGenerator) -> Schema;

/// Registers `roots.len()` functions on the engine at `url` and prints the
/// time from `started` until the engine answered the announcement.
pub async fn run(url: &str, roots: &'static [Root], started: Instant, engine_up: Duration) {
    let frames = frames_on_every_core(roots);
    let socket = client::bare_connect_frames(url, "startup-bare", frames).await;
    let registered = started.elapsed();
    let faults = crate::minor_faults();
    println!(
        "bare client, {} functions and routes on {url}; engine up after {engine_up:?}; all registered and announced after {registered:?} ({faults} page faults)",
        roots.len()
    );
    drop(socket);
}

/// Each function's `registerfunction` and `registertrigger` frames, in
/// order, built on as many threads as there are cores.
fn frames_on_every_core(roots: &'static [Root]) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = roots.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = roots
            .chunks(per)
            .enumerate()
            .map(|(k, part)| {
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .flat_map(|(j, root)| frames_of(k * per + j, *root))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().expect("a schema panicked"))
            .collect()
    })
}

/// The frames, written straight from these: less work than the protocol
/// crate's types, which hold schemas as text and configs as `Value`s (what
/// the SDK keeps, for the replay and the handler), so the floor stays the
/// least a client must do. The tag comes first, as in every frame the SDK
/// writes (a frame whose tag comes later takes a slower path in
/// iii-embedded's decoder).
#[derive(Serialize)]
struct FunctionFrame<'a> {
    r#type: &'static str,
    id: &'a str,
    description: String,
    request_format: Value,
    response_format: Value,
}

#[derive(Serialize)]
struct RouteFrame<'a> {
    r#type: &'static str,
    id: uuid::Uuid,
    trigger_type: &'static str,
    function_id: &'a str,
    config: RouteConfig,
}

#[derive(Serialize)]
struct RouteConfig {
    api_path: String,
    http_method: &'static str,
}

fn frames_of(i: usize, root: Root) -> [String; 2] {
    let id = format!("bench::f{i}");
    let function = FunctionFrame {
        r#type: "registerfunction",
        id: &id,
        description: format!("Function number {i}."),
        request_format: schema(Contract::Deserialize, root),
        response_format: schema(Contract::Serialize, SchemaGenerator::into_root_schema_for::<u64>),
    };
    let route = RouteFrame {
        r#type: "registertrigger",
        id: uuid::Uuid::new_v4(),
        trigger_type: "http",
        function_id: &id,
        config: RouteConfig {
            api_path: format!("/bench/{i}/:id"),
            http_method: "POST",
        },
    };
    // Serialising these cannot fail: every key is a string.
    [
        serde_json::to_string(&function).expect("encode"),
        serde_json::to_string(&route).expect("encode"),
    ]
}

fn schema(contract: Contract, root: Root) -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.contract = contract;
    root(settings.into_generator()).to_value()
}
