//! What an `http`-bound function answers its client: the status a
//! failure chose (400 for input that does not decode, `Error::http`, a
//! code's status), 500 with an error id for accidents, a plain value as
//! the body of a 200, and parameters decoded into types.

use iii::http::{ApiRequest, ApiResponse};
use iii::trigger::Http;
use iii::{Error, Function, Trigger};
use iii_tests::{engine, fid, http, serve, unique};
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

/// Binds `f` to `method path` and returns the route's URL.
async fn route(worker: &iii::Worker, base: &str, method: &str, f: Function) -> String {
    let id = f.id().to_string();
    serve(worker, f).await;
    let path = format!("/{}", unique("answers"));
    let http = match method {
        "POST" => Http::post(&path),
        _ => Http::get(&path),
    };
    worker
        .register_trigger(Trigger::new(&id, http))
        .expect("bind");
    worker.flush().await.expect("flush");
    format!("{base}{path}")
}

#[tokio::test]
async fn failures_answer_the_status_the_handler_chose_and_accidents_hide_their_text() {
    let engine = engine().await;
    let worker = engine.connect("answers").await;
    let base = &engine.http_url;

    // Input that does not decode: 400, naming the field.
    let typed = Function::new(fid("answers::typed"), |req: ApiRequest<Order>| async move {
        let _ = req.body;
        Ok::<_, Error>(ApiResponse::ok(json!({"paid": true})))
    });
    let url = route(&worker, base, "POST", typed).await;
    let reply = http(
        "POST",
        &url,
        &[("content-type", "application/json")],
        br#"{"amount":"ten"}"#,
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], "deserialization_error");
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("amount"), "{message}");

    // A status the handler chose, by `Error::http` or by its code.
    let missing = Function::new(fid("answers::missing"), |_: ApiRequest| async move {
        Err::<ApiResponse, _>(Error::http(404, "no user 7"))
    });
    let url = route(&worker, base, "GET", missing).await;
    let reply = http("GET", &url, &[], b"").await;
    assert_eq!(
        (reply.status, reply.json()),
        (
            404,
            json!({"error": {"code": "not_found", "message": "no user 7"}})
        )
    );
    let taken = Function::new(fid("answers::taken"), |_: ApiRequest| async move {
        Err::<ApiResponse, _>(Error::new("conflict", "the name is taken"))
    });
    let url = route(&worker, base, "GET", taken).await;
    assert_eq!(http("GET", &url, &[], b"").await.status, 409);

    // A panic: 500 with an error id, and not a word of its text.
    let panics = Function::new(fid("answers::panics"), |_: ApiRequest| async move {
        if true {
            panic!("the secret key is hunter2");
        }
        Ok::<_, Error>(ApiResponse::ok(json!({})))
    });
    let url = route(&worker, base, "GET", panics).await;
    let reply = http("GET", &url, &[], b"").await;
    assert_eq!(reply.status, 500);
    assert!(!reply.text().contains("hunter2"), "{}", reply.text());
    let error_id = reply.json()["error"]["error_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(error_id.len(), 12, "{}", reply.text());

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
    let url = route(&worker, base, "GET", calls).await;
    let reply = http("GET", &url, &[], b"").await;
    assert_eq!(reply.status, 500);
    assert!(!reply.text().contains("nowhere"), "{}", reply.text());
}

#[tokio::test]
async fn a_plain_value_is_the_body_of_a_200_and_parameters_decode_into_types() {
    let engine = engine().await;
    let worker = engine.connect("plain").await;
    let base = &engine.http_url;
    let plain = Function::new(fid("answers::plain"), |_: ApiRequest| async move {
        Ok::<_, Error>(Receipt { id: 7, total: 30 })
    });
    let url = route(&worker, base, "GET", plain).await;
    let reply = http("GET", &url, &[], b"").await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"id": 7, "total": 30}))
    );

    let paged = Function::new(fid("answers::paged"), |req: ApiRequest| async move {
        let page: Page = req.query()?;
        Ok::<_, Error>(ApiResponse::ok(
            json!({"page": page.page, "size": page.size}),
        ))
    });
    let url = route(&worker, base, "GET", paged).await;
    let reply = http("GET", &format!("{url}?page=3"), &[], b"").await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"page": 3, "size": null}))
    );
    let reply = http("GET", &format!("{url}?size=9"), &[], b"").await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("page"), "{message}");
    let reply = http("GET", &format!("{url}?page=three"), &[], b"").await;
    assert_eq!(reply.status, 400, "{}", reply.text());
}
