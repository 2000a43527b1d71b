//! What an `http`-bound function answers its client: the status a
//! failure chose (400 for input that does not decode, `Error::http`, a
//! code's status), 500 with an error id for accidents, a plain value as
//! the body of a 200, and parameters decoded into types.
//!
//! They run on `iii::testing::Harness`: one builder with every route, and
//! its HTTP client.

use iii::http::{ApiRequest, ApiResponse};
use iii::testing::{Harness, HarnessBuilder, Response};
use iii::trigger::Http;
use iii::{Error, Function, Linked, Trigger};
use iii_tests::{fid, unique};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Order {
    #[allow(dead_code)] // decoded: its type is what is tested
    amount: u64,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Receipt {
    id: u64,
    total: u64,
}

#[derive(Debug, serde::Deserialize)]
struct Page {
    page: u32,
    size: Option<u32>,
}

/// A harness serving no linked function (this binary has none to share).
fn harness(name: &str) -> HarnessBuilder {
    Harness::builder().name(name).linked(Linked::None)
}

/// Adds `f`, bound to `method` on a path of its own; returns the path.
fn route(builder: HarnessBuilder, method: &str, f: Function) -> (HarnessBuilder, String) {
    let path = format!("/{}", unique("answers"));
    let http = match method {
        "POST" => Http::post(&path),
        _ => Http::get(&path),
    };
    let id = f.id().to_string();
    (builder.function(f).trigger(Trigger::new(id, http)), path)
}

/// The `error.message` of a JSON error answer.
fn message(reply: &Response) -> String {
    let body: Value = reply.json().expect("a JSON error");
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn failures_answer_the_status_the_handler_chose_and_accidents_hide_their_text() {
    let app = harness("answers");
    // Input that does not decode: 400, naming the field.
    let typed = Function::new(fid("answers::typed"), |req: ApiRequest<Order>| async move {
        let _ = req.body;
        Ok::<_, Error>(ApiResponse::ok(json!({"paid": true})))
    });
    let (app, typed) = route(app, "POST", typed);
    // A status the handler chose, by `Error::http` or by its code.
    let missing = Function::new(fid("answers::missing"), |_: ApiRequest| async move {
        Err::<ApiResponse, _>(Error::http(404, "no user 7"))
    });
    let (app, missing) = route(app, "GET", missing);
    let taken = Function::new(fid("answers::taken"), |_: ApiRequest| async move {
        Err::<ApiResponse, _>(Error::new("conflict", "the name is taken"))
    });
    let (app, taken) = route(app, "GET", taken);
    // A panic: 500 with an error id, and not a word of its text.
    let panics = Function::new(fid("answers::panics"), |_: ApiRequest| async move {
        if true {
            panic!("the secret key is hunter2");
        }
        Ok::<_, Error>(ApiResponse::ok(json!({})))
    });
    let (app, panics) = route(app, "GET", panics);
    // An internal failure (a call inside the handler) is hidden too.
    let calls = Function::new(
        fid("answers::calls"),
        |_: ApiRequest, ctx: iii::Context| async move {
            ctx.worker()
                .call::<Value, _>("nowhere::at_all", &json!({}))
                .await?;
            Ok::<_, Error>(ApiResponse::ok(json!({})))
        },
    );
    let (app, calls) = route(app, "GET", calls);
    let app = app.start().await.expect("the harness");

    let reply = app
        .request("POST", &typed)
        .header("content-type", "application/json")
        .body(r#"{"amount":"ten"}"#)
        .send()
        .await
        .expect("typed");
    assert_eq!(reply.status(), 400, "{:?}", reply.text());
    let body: Value = reply.json().expect("json");
    assert_eq!(body["error"]["code"], "deserialization_error");
    assert!(message(&reply).contains("amount"), "{}", message(&reply));

    let reply = app.get(&missing).await.expect("missing");
    assert_eq!(
        (reply.status(), reply.json::<Value>().expect("json")),
        (
            404,
            json!({"error": {"code": "not_found", "message": "no user 7"}})
        )
    );
    assert_eq!(app.get(&taken).await.expect("taken").status(), 409);

    let reply = app.get(&panics).await.expect("panics");
    assert_eq!(reply.status(), 500);
    let text = reply.text().expect("text");
    assert!(!text.contains("hunter2"), "{text}");
    let body: Value = reply.json().expect("json");
    let error_id = body["error"]["error_id"].as_str().unwrap_or_default();
    assert_eq!(error_id.len(), 12, "{text}");

    let reply = app.get(&calls).await.expect("calls");
    assert_eq!(reply.status(), 500);
    let text = reply.text().expect("text");
    assert!(!text.contains("nowhere"), "{text}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_plain_value_is_the_body_of_a_200_and_parameters_decode_into_types() {
    let plain = Function::new(fid("answers::plain"), |_: ApiRequest| async move {
        Ok::<_, Error>(Receipt { id: 7, total: 30 })
    });
    let (app, plain) = route(harness("plain"), "GET", plain);
    let paged = Function::new(fid("answers::paged"), |req: ApiRequest| async move {
        let page: Page = req.query()?;
        Ok::<_, Error>(ApiResponse::ok(
            json!({"page": page.page, "size": page.size}),
        ))
    });
    let (app, paged) = route(app, "GET", paged);
    let app = app.start().await.expect("the harness");

    let reply = app.get(&plain).await.expect("plain");
    assert_eq!(
        (reply.status(), reply.json::<Value>().expect("json")),
        (200, json!({"id": 7, "total": 30}))
    );
    assert_eq!(reply.header("Content-Type"), Some("application/json"));

    let reply = app.get(&format!("{paged}?page=3")).await.expect("paged");
    assert_eq!(
        (reply.status(), reply.json::<Value>().expect("json")),
        (200, json!({"page": 3, "size": null}))
    );
    let reply = app.get(&format!("{paged}?size=9")).await.expect("paged");
    assert_eq!(reply.status(), 400, "{:?}", reply.text());
    assert!(message(&reply).contains("page"), "{}", message(&reply));
    let reply = app
        .get(&format!("{paged}?page=three"))
        .await
        .expect("paged");
    assert_eq!(reply.status(), 400, "{:?}", reply.text());
    app.shutdown().await;
}
