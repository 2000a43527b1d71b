//! The quickstart: a worker with one function behind an HTTP route, as the
//! README gives it.
//!
//! ```text
//! cargo run --example quickstart
//! curl http://127.0.0.1:3111/greet/world
//! ```
//!
//! With `III_URL` unset it starts the in-process engine, whose HTTP
//! triggers answer on 127.0.0.1:3111; with `III_URL=ws://host:49134` it
//! joins that engine.

use iii::embedded::Engine;
use iii::http::{ApiRequest, ApiResponse};

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Greeting {
    message: String,
}

/// Greets whoever is named in the path.
#[iii::function(id = "greetings::greet")]
#[iii::trigger(http, path = "/greet/:name", method = "GET")]
async fn greet(req: ApiRequest) -> Result<ApiResponse<Greeting>, iii::Error> {
    let name = req.path_param("name")?;
    Ok(ApiResponse::ok(Greeting {
        message: format!("Hello, {name}!"),
    }))
}

#[tokio::main]
async fn main() -> Result<(), iii::Error> {
    tracing_subscriber::fmt::init();
    // III_URL (the engine's worker socket), III_WORKER_NAME, III_NAMESPACE.
    // Without III_URL, an in-process engine serves on 127.0.0.1:3111.
    // Connecting registers every #[iii::function] and its triggers.
    iii::Worker::from_env()
        .name("greeter")
        .embedded_engine(Engine::builder().http_port(3111))
        .connect()
        .await?
        .run()
        .await
}
