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

/// The handlers as plain functions, then the example whole on
/// `iii::testing::Harness` (`cargo test -p iii-examples --example http`).
#[cfg(test)]
mod tests {
    use super::*;
    use iii::testing::Harness;

    #[tokio::test]
    async fn get_reads_the_id_and_says_more_when_asked() {
        let req = ApiRequest::builder("GET", "/todos/:id")
            .path_param("id", "7")
            .query_param("verbose", "1")
            .header("User-Agent", "curl/8")
            .build();
        let res = get(req).await;
        assert_eq!(res.status_code, 200);
        assert_eq!(
            res.body,
            json!({"id": "7", "title": "write docs", "user_agent": "curl/8"})
        );
        let quiet = ApiRequest::builder("GET", "/todos/:id")
            .path_param("id", "7")
            .build();
        assert_eq!(get(quiet).await.body.get("user_agent"), None);
    }

    #[tokio::test]
    async fn create_answers_201_with_a_location_or_400_without_a_body() {
        let req = ApiRequest::builder("POST", "/todos")
            .json(Some(NewTodo {
                title: "test it".into(),
            }))
            .build();
        let res = create(req).await;
        assert_eq!(res.status_code, 201);
        assert_eq!(res.headers["location"], "/todos/8");
        let res = create(ApiRequest::builder("POST", "/todos").json(None).build()).await;
        assert_eq!(res.status_code, 400);
    }

    #[tokio::test]
    async fn the_routes_answer_over_http() -> Result<(), iii::Error> {
        let app = Harness::start().await?;
        let res = app
            .request("GET", "/todos/7?verbose=1")
            .header("user-agent", "harness")
            .send()
            .await?;
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>()?["user_agent"], "harness");
        let res = app
            .post_json("/todos", &json!({"title": "write docs"}))
            .await?;
        assert_eq!(res.status(), 201);
        assert_eq!(res.header("location"), Some("/todos/8"));
        assert_eq!(res.json::<Value>()?["title"], "write docs");
        app.shutdown().await;
        Ok(())
    }
}
