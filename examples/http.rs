//! HTTP routes: path parameters, query strings, JSON bodies, status codes
//! and headers.
//!
//! ```text
//! cargo run --example http
//! curl http://127.0.0.1:3111/todos/7?verbose=1
//! curl -X POST http://127.0.0.1:3111/todos -H 'content-type: application/json' -d '{"title":"write docs"}'
//! ```

use iii::http::{ApiRequest, ApiResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Deserialize, Serialize, schemars::JsonSchema)]
struct NewTodo {
    title: String,
}

/// Reads one todo.
#[iii::function(id = "todos::get")]
#[iii::trigger(http, path = "/todos/:id", method = "GET")]
async fn get(req: ApiRequest) -> ApiResponse<Value> {
    let verbose = req.query_params.get("verbose").is_some_and(|v| v == "1");
    let mut body = json!({"id": req.path_params["id"], "title": "write docs"});
    if verbose {
        body["user_agent"] = json!(req.headers.get("user-agent"));
    }
    ApiResponse::ok(body)
}

/// Creates a todo from a JSON body; answers 201 with a Location header.
#[iii::function(id = "todos::create")]
#[iii::trigger(http, path = "/todos", method = "POST")]
async fn create(req: ApiRequest<Option<NewTodo>>) -> ApiResponse<Value> {
    match req.body {
        Some(todo) => ApiResponse::new(201, json!({"id": 8, "title": todo.title}))
            .header("location", "/todos/8"),
        None => ApiResponse::new(400, json!({"error": "send a JSON body with a `title`"})),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let worker = iii_examples::worker("http-example", true).connect().await?;
    let base = iii_examples::http_url(&worker);
    println!("try:\n  curl {base}/todos/7?verbose=1");
    println!(
        "  curl -X POST {base}/todos -H 'content-type: application/json' -d '{{\"title\":\"x\"}}'"
    );
    worker.run().await?;
    Ok(())
}
