//! The start-up floor (`III_BENCH_PLAIN=3`): a bare protocol client
//! registers the same 1,000 functions, with the schemas the SDK generates
//! for them (schemars, draft 2020-12, request and response contracts) and
//! one HTTP route each, announces itself, and stops the clock when the
//! engine answers that. It builds the schemas on every core, as the SDK
//! does, writes every frame with one flush, and does nothing the protocol
//! does not ask for: no checks, no aliases, no replay copies, no pings.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use schemars::generate::{Contract, SchemaSettings};
use schemars::{Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;

type Root = fn(&mut SchemaGenerator) -> Schema;

/// Registers `roots.len()` functions on the engine at `url` and prints the
/// time from `started` until the engine answered the announcement.
pub async fn run(
    url: &str,
    roots: &'static [Root],
    started: Instant,
    engine_up: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let frames = frames_on_every_core(roots);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    let _welcome = socket.next().await.ok_or("no welcome")??;
    let announce = uuid::Uuid::new_v4();
    for frame in frames {
        socket.feed(Frame::text(frame)).await?;
    }
    let announcement = json!({
        "type": "invokefunction",
        "invocation_id": announce,
        "function_id": "engine::workers::register",
        "data": {"name": "startup-bare", "pid": std::process::id()},
    });
    socket.send(Frame::text(announcement.to_string())).await?;
    while let Some(frame) = socket.next().await {
        if let Frame::Text(text) = frame?
            && let Ok(message) = serde_json::from_str::<Value>(&text)
            && message["type"] == "invocationresult"
            && message["invocation_id"] == announce.to_string()
        {
            break;
        }
    }
    let registered = started.elapsed();
    println!(
        "bare client, {} functions and routes on {url}; engine up after {engine_up:?}; all registered and announced after {registered:?}",
        roots.len()
    );
    socket.close(None).await?;
    Ok(())
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
                    let mut out = Vec::with_capacity(part.len() * 2);
                    for (j, root) in part.iter().enumerate() {
                        frames_of(k * per + j, *root, &mut out);
                    }
                    out
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().expect("a schema panicked"))
            .collect()
    })
}

/// A `registerfunction` frame, its tag first as the SDK writes it (an
/// engine reads a frame whose tag comes later through a slower path).
#[derive(Serialize)]
struct RegisterFunction<'a> {
    r#type: &'static str,
    id: &'a str,
    description: String,
    request_format: Value,
    response_format: Value,
}

/// A `registertrigger` frame for an HTTP route.
#[derive(Serialize)]
struct RegisterTrigger<'a> {
    r#type: &'static str,
    id: uuid::Uuid,
    trigger_type: &'static str,
    function_id: &'a str,
    config: HttpConfig,
}

#[derive(Serialize)]
struct HttpConfig {
    api_path: String,
    http_method: &'static str,
}

fn frames_of(i: usize, root: Root, out: &mut Vec<String>) {
    let id = format!("bench::f{i}");
    let function = RegisterFunction {
        r#type: "registerfunction",
        id: &id,
        description: format!("Function number {i}."),
        request_format: schema(Contract::Deserialize, root),
        response_format: schema(Contract::Serialize, SchemaGenerator::root_schema_for::<u64>),
    };
    let trigger = RegisterTrigger {
        r#type: "registertrigger",
        id: uuid::Uuid::new_v4(),
        trigger_type: "http",
        function_id: &id,
        config: HttpConfig {
            api_path: format!("/bench/{i}/:id"),
            http_method: "POST",
        },
    };
    // Serialising these types cannot fail: every key is a string.
    out.push(serde_json::to_string(&function).unwrap_or_default());
    out.push(serde_json::to_string(&trigger).unwrap_or_default());
}

fn schema(contract: Contract, root: Root) -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.contract = contract;
    root(&mut settings.into_generator()).to_value()
}
