//! `#[iii::function]` and `#[iii::trigger]` end to end: what the macros
//! register is what the builder registers, and it runs.
//!
//! A test binary of its own: every worker that connects with the default
//! `Linked::All` registers the linked functions of its binary, so these
//! would join the registrations of every other test in a shared binary
//! (and claim the same ids on one real engine at once).

use std::time::Duration;

use iii::http::{ApiRequest, ApiResponse};
use iii::{Context, Error, Function, Linked, Trigger, Worker};
use iii_tests::{engine, http};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
struct Greet {
    name: String,
}

#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema, PartialEq)]
struct Greeting {
    message: String,
}

/// Greets someone by name.
#[iii::function(id = "macros::greet", metadata = {"team": "greeters"})]
#[iii::trigger(http, path = "/macros/greet/:name", method = "get")]
#[iii::trigger(subscribe, topic = "macros.greet")]
#[iii::trigger(state, scope = "greetings", metadata = {"source": "state"})]
async fn greet(input: Greet) -> Result<Greeting, Error> {
    Ok(Greeting {
        message: format!("Hello, {}!", input.name),
    })
}

/// Answers over HTTP.
#[iii::function(id = "macros::http_hello")]
#[iii::trigger(http, path = "/macros/hello/:name")]
async fn http_hello(req: ApiRequest) -> ApiResponse<Greeting> {
    ApiResponse::ok(Greeting {
        message: format!("Hello, {}!", req.path_params["name"]),
    })
}

#[iii::function]
async fn double(x: i64) -> i64 {
    x * 2
}

#[iii::function(id = "macros::who")]
async fn who(_input: Value, ctx: Context) -> Option<String> {
    ctx.caller_worker_id().map(str::to_string)
}

#[derive(Debug)]
struct Boom;
impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom")
    }
}
impl std::error::Error for Boom {}

#[iii::function(id = "macros::std_error")]
async fn std_error() -> Result<(), Boom> {
    Err(Boom)
}

#[iii::function(id = "macros::coded")]
async fn coded() -> Result<(), Error> {
    Err(Error::new("teapot", "short and stout"))
}

#[iii::function(id = "macros::anyhow")]
async fn with_anyhow() -> anyhow::Result<u8> {
    Err(anyhow::anyhow!("inner cause").context("outer context"))
}

/// Lets through orders over 1,000 only.
#[iii::function(id = "macros::is_big")]
async fn is_big(order: ApiRequest) -> bool {
    order.body["amount"].as_u64().unwrap_or(0) > 1000
}

/// Wants a bearer token.
#[iii::function(id = "macros::auth")]
async fn auth(input: iii::http::MiddlewareInput) -> iii::http::MiddlewareVerdict {
    match input.request.headers.get("authorization") {
        Some(_) => iii::http::MiddlewareVerdict::Continue,
        None => iii::http::MiddlewareVerdict::respond(ApiResponse::new(
            401,
            json!({"error": "unauthorized"}),
        )),
    }
}

#[iii::function(id = "macros::take_order")]
#[iii::trigger(http, path = "/macros/orders", method = "POST", condition = is_big, middleware = [auth])]
async fn take_order(order: ApiRequest) -> ApiResponse {
    ApiResponse::new(201, order.body)
}

#[tokio::test]
async fn the_function_stays_callable_directly() {
    let out = greet(Greet { name: "Ada".into() })
        .await
        .expect("direct call");
    assert_eq!(out.message, "Hello, Ada!");
    assert_eq!(double(4).await, 8);
}

#[tokio::test]
async fn linked_functions_register_on_connect_and_answer() {
    let engine = engine().await;
    let worker = engine
        .worker("macro-worker")
        .connect()
        .await
        .expect("connect");
    let caller = engine
        .worker("macro-caller")
        .linked(Linked::None)
        .connect()
        .await
        .expect("connect");

    let out: Greeting = caller
        .call("macros::greet", &json!({"name": "Ada"}))
        .await
        .expect("call");
    assert_eq!(out.message, "Hello, Ada!");
    let four: i64 = caller.call_fn::<double>(&2).await.expect("typed call");
    assert_eq!(four, 4);
    let who: Option<String> = caller.call_fn::<who>(&json!({})).await.expect("ctx");
    assert_eq!(who, caller.worker_id());

    let err = caller
        .call::<Value, _>("macros::std_error", &())
        .await
        .expect_err("std error");
    assert_eq!(err.code(), "invocation_failed");
    assert!(err.to_string().contains("boom"), "{err}");
    let err = caller
        .call::<Value, _>("macros::coded", &())
        .await
        .expect_err("coded");
    assert_eq!(err.code(), "teapot");
    let err = caller
        .call::<Value, _>("macros::anyhow", &())
        .await
        .expect_err("anyhow");
    assert!(
        err.to_string().contains("outer context: inner cause"),
        "{err}"
    );

    let url = format!("{}/macros/hello/world", engine.http_url);
    let reply = http("GET", &url, &[], b"").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"message": "Hello, world!"}));

    // `condition = is_big` and `middleware = [auth]`, wired by the macro.
    let orders = format!("{}/macros/orders", engine.http_url);
    let json_body = [("content-type", "application/json")];
    let big = br#"{"amount": 5000}"#;
    let reply = http("POST", &orders, &json_body, big).await;
    assert_eq!(reply.status, 401, "no token: {}", reply.text());
    let authed = [
        ("content-type", "application/json"),
        ("authorization", "Bearer t"),
    ];
    let reply = http("POST", &orders, &authed, br#"{"amount": 5}"#).await;
    assert_eq!(reply.status, 422, "too small: {}", reply.text());
    let reply = http("POST", &orders, &authed, big).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json(), json!({"amount": 5000}));

    let listed = worker.list_functions().await.expect("list");
    let greet_info = listed
        .iter()
        .find(|f| f.function_id == "macros::greet")
        .expect("listed");
    assert_eq!(
        greet_info.description.as_deref(),
        Some("Greets someone by name.")
    );
    assert_eq!(greet_info.metadata, Some(json!({"team": "greeters"})));
    let _ = tokio::time::timeout(Duration::from_secs(1), worker.shutdown()).await;
}

/// The builder registration equivalent to `greet` above.
fn greet_by_hand() -> (Function, Vec<Trigger>) {
    let function = Function::new("macros::greet", |input: Greet| async move {
        Ok::<_, Error>(Greeting {
            message: format!("Hello, {}!", input.name),
        })
    })
    .description("Greets someone by name.")
    .metadata(json!({"team": "greeters"}));
    let triggers = vec![
        Trigger::new(
            "macros::greet",
            iii::trigger::Http::get("/macros/greet/:name"),
        ),
        Trigger::new(
            "macros::greet",
            iii::trigger::Subscribe::new("macros.greet"),
        ),
        Trigger::new(
            "macros::greet",
            iii::trigger::StateChange::any().scope("greetings"),
        )
        .metadata(json!({"source": "state"})),
    ];
    (function, triggers)
}

#[test]
fn macros_and_the_builder_produce_the_same_frames() {
    let linked = iii::linked::functions()
        .find(|f| f.id() == "macros::greet")
        .expect("linked");
    let (by_hand, hand_triggers) = greet_by_hand();
    let from_macro = linked.function();
    assert_eq!(from_macro.id(), by_hand.id());
    assert_eq!(from_macro.get_description(), by_hand.get_description());
    assert_eq!(from_macro.get_metadata(), by_hand.get_metadata());
    assert_eq!(
        from_macro.get_request_format(),
        by_hand.get_request_format()
    );
    assert_eq!(
        from_macro.get_response_format(),
        by_hand.get_response_format()
    );
    assert_eq!(linked.triggers(), hand_triggers);
    assert!(linked.file().ends_with("macros.rs"), "{}", linked.file());
}

#[test]
fn schemas_come_from_the_types() {
    let linked = iii::linked::functions()
        .find(|f| f.id() == "macros::greet")
        .expect("linked");
    let function = linked.function();
    assert_eq!(
        function.get_request_format().expect("request")["properties"]["name"]["type"],
        "string"
    );
    assert_eq!(
        function.get_response_format().expect("response")["properties"]["message"]["type"],
        "string"
    );
    let double = iii::linked::functions()
        .find(|f| f.id() == "double")
        .expect("id defaults to the fn name");
    assert_eq!(
        double.function().get_request_format().expect("i64")["type"],
        "integer"
    );
}

#[tokio::test]
async fn duplicate_ids_and_missing_picks_fail_at_connect() {
    let engine = engine().await;
    let err = Worker::builder()
        .url(&engine.ws_url)
        .linked(Linked::Only(vec!["macros::nope".into()]))
        .connect()
        .await
        .expect_err("unknown id");
    assert!(err.to_string().contains("`macros::nope`"), "{err}");
}
