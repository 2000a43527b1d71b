//! The quickstart: a worker with one function behind an HTTP route.
//!
//! ```text
//! cargo run --example quickstart
//! curl http://127.0.0.1:3111/greet/world
//! ```
//!
//! With `III_URL` unset it starts the in-process engine (HTTP on
//! 127.0.0.1:3111); with `III_URL=ws://host:49134` it joins that engine.

use iii::http::{ApiRequest, ApiResponse};
use serde::Serialize;

#[derive(Serialize, schemars::JsonSchema)]
struct Greeting {
    message: String,
}

/// Greets whoever is named in the path.
#[iii::function(id = "greetings::greet")]
#[iii::trigger(http, path = "/greet/:name", method = "GET")]
async fn greet(req: ApiRequest) -> ApiResponse<Greeting> {
    let name = req
        .path_params
        .get("name")
        .map_or("stranger", String::as_str);
    ApiResponse::ok(Greeting {
        message: format!("Hello, {name}!"),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();

    // No III_URL: bring our own engine, the way tests and local development do.
    let (embedded, builder) = iii_examples::engine_on_3111_or_env("quickstart").await?;
    let http_base = match &embedded {
        Some(engine) => engine.http_url(),
        None => std::env::var("III_HTTP_URL").unwrap_or_else(|_| "http://127.0.0.1:3111".into()),
    };

    // Connecting registers every `#[iii::function]` and its triggers.
    let worker = builder.connect().await?;
    println!(
        "greetings::greet is live. Try:\n\n    curl {http_base}/greet/world\n\nctrl-c to stop."
    );
    worker.run().await?;
    if let Some(engine) = embedded {
        engine.shutdown().await;
    }
    Ok(())
}
