//! HTTP routes: path parameters, query strings, JSON bodies, status codes
//! and headers, and the API's OpenAPI document.
//!
//! ```text
//! cargo run --example http
//! curl http://127.0.0.1:3111/todos/7?verbose=1
//! curl -X POST http://127.0.0.1:3111/todos -H 'content-type: application/json' -d '{"title":"write docs"}'
//! curl http://127.0.0.1:3111/openapi.json
//! cargo run --example http -- openapi    # prints the document and exits
//! ```

use iii::http::{ApiRequest, ApiResponse};
use iii::openapi::OpenApi;
use serde::{Deserialize, Serialize};

/// What a client sends to create a todo.
#[derive(Deserialize, Serialize, schemars::JsonSchema)]
struct NewTodo {
    /// What there is to do.
    title: String,
}

/// A todo.
#[derive(Deserialize, Serialize, schemars::JsonSchema)]
struct Todo {
    id: u64,
    title: String,
    /// The client's user agent, when asked for with `?verbose=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
}

/// The path of one todo.
#[derive(Deserialize)]
struct TodoPath {
    id: u64,
}

/// Reads one todo.
///
/// `?verbose=1` adds the client's user agent.
#[iii::function(id = "todos::get")]
#[iii::trigger(http, path = "/todos/:id", method = "GET")]
async fn get(req: ApiRequest) -> Result<ApiResponse<Todo>, iii::Error> {
    // A non-numeric id answers 400, naming `id`.
    let TodoPath { id } = req.path()?;
    let verbose = req.query_param("verbose") == Some("1");
    Ok(ApiResponse::ok(Todo {
        id,
        title: "write docs".into(),
        user_agent: verbose.then(|| req.headers.get("user-agent").cloned().unwrap_or_default()),
    }))
}

/// Creates a todo from a JSON body.
///
/// Answers 201 with a `location` header; a body without a `title` answers
/// 400, naming it.
#[iii::function(id = "todos::create")]
#[iii::trigger(http, path = "/todos", method = "POST")]
async fn create(req: ApiRequest<NewTodo>) -> ApiResponse<Todo> {
    let todo = Todo {
        id: 8,
        title: req.body.title,
        user_agent: None,
    };
    ApiResponse::created(todo).header("location", "/todos/8")
}

/// The document of this program's routes.
fn openapi() -> OpenApi {
    OpenApi::new("Todos", "1.0.0").description("The http example's API.")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "openapi") {
        let doc = openapi().server("http://127.0.0.1:3111").linked();
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let worker = iii_examples::worker("http-example", true).connect().await?;
    let base = iii_examples::http_url(&worker);
    openapi().server(&base).serve(&worker, "/openapi.json")?;
    println!("try:\n  curl {base}/todos/7?verbose=1");
    println!(
        "  curl -X POST {base}/todos -H 'content-type: application/json' -d '{{\"title\":\"x\"}}'"
    );
    println!("  curl {base}/openapi.json");
    worker.run().await?;
    Ok(())
}

/// The handlers as plain functions (`cargo test -p iii-examples --example
/// http`); CI runs the example and `curl`s its routes and document.
#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn get_reads_the_id_and_says_more_when_asked() -> Result<(), iii::Error> {
        let req = ApiRequest::builder("GET", "/todos/:id")
            .path_param("id", "7")
            .query_param("verbose", "1")
            .header("User-Agent", "curl/8")
            .build();
        let res = get(req).await?;
        assert_eq!(res.status_code, 200);
        assert_eq!(
            (res.body.id, res.body.user_agent.as_deref()),
            (7, Some("curl/8"))
        );
        let quiet = ApiRequest::builder("GET", "/todos/:id")
            .path_param("id", "7")
            .build();
        assert_eq!(get(quiet).await?.body.user_agent, None);
        let bad = ApiRequest::builder("GET", "/todos/:id")
            .path_param("id", "seven")
            .build();
        let err = get(bad).await.err().expect("a non-numeric id fails");
        assert_eq!(err.http_status(), Some(400));
        assert!(err.to_string().contains("`id`"), "{err}");
        Ok(())
    }

    #[tokio::test]
    async fn create_answers_201_with_a_location() {
        let req = ApiRequest::builder("POST", "/todos")
            .json(NewTodo {
                title: "test it".into(),
            })
            .build();
        let res = create(req).await;
        assert_eq!(res.status_code, 201);
        assert_eq!(res.headers["location"], "/todos/8");
        assert_eq!(res.body.title, "test it");
    }
}
