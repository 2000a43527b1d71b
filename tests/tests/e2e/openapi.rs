//! A connected worker's OpenAPI document, served on one of its routes.

use std::time::Duration;

use iii::http::{ApiRequest, ApiResponse, MiddlewareInput, MiddlewareVerdict};
use iii::openapi::OpenApi;
use iii::trigger::Http;
use iii::{Error, Function, Trigger};
use iii_tests::{engine, eventually, fid, http, serve};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
struct Item {
    name: String,
}

/// The document lists the worker's routes, built with the builder API,
/// with their parameters, body and answer schemas, doc text, condition and
/// middleware, and itself; the engine serves it as JSON.
#[tokio::test]
async fn a_workers_document_is_served_on_a_route_and_names_what_it_binds() {
    let engine = engine().await;
    let worker = engine.connect("openapi").await;
    let (create, allow, auth, doc_id) = (
        fid("items::create"),
        fid("items::allow"),
        fid("items::auth"),
        fid("items::openapi"),
    );
    let prefix = format!("/{}", fid("api"));
    serve(
        &worker,
        Function::new(&allow, |_: Value| async { Ok::<_, Error>(true) }),
    )
    .await;
    serve(
        &worker,
        Function::new(&auth, |_: MiddlewareInput| async {
            Ok::<_, Error>(MiddlewareVerdict::Continue)
        }),
    )
    .await;
    let handler =
        |req: ApiRequest<Item>| async move { Ok::<_, Error>(ApiResponse::created(req.body)) };
    serve(
        &worker,
        Function::new(&create, handler).description("Creates an item.\n\nOf the kind in the path."),
    )
    .await;
    let route = Http::post(format!("{prefix}/items/:kind"))
        .condition(&allow)
        .middleware([&auth]);
    worker
        .register_trigger(Trigger::new(&create, route))
        .expect("bind");
    OpenApi::new("Items", "2.0.0")
        .function_id(&doc_id)
        .serve(&worker, &format!("{prefix}/openapi.json"))
        .expect("serve");
    worker.flush().await.expect("flush");

    let url = format!("{}{prefix}/openapi.json", engine.http_url);
    let reply = eventually(Duration::from_secs(5), "the document's route", || async {
        let reply = http("GET", &url, &[], b"").await;
        (reply.status == 200).then_some(reply)
    })
    .await;
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"], json!({"title": "Items", "version": "2.0.0"}));
    let op = &doc["paths"][format!("{prefix}/items/{{kind}}")]["post"];
    assert_eq!(op["operationId"], json!(create), "{doc:#}");
    assert_eq!(op["summary"], "Creates an item.");
    assert_eq!(
        op["parameters"],
        json!([{"name": "kind", "in": "path", "required": true, "schema": {"type": "string"}}])
    );
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/Item"})
    );
    assert_eq!(
        op["responses"]["200"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/Item"}),
        "one component for the body going in and out"
    );
    assert_eq!(
        doc["components"]["schemas"]["Item"]["required"],
        json!(["name"])
    );
    assert_eq!(op["x-iii-condition"], json!(allow));
    assert_eq!(op["x-iii-middleware"], json!([auth]));
    let served = &doc["paths"][format!("{prefix}/openapi.json")]["get"];
    assert_eq!(served["operationId"], json!(doc_id));
    // The condition and middleware are functions, not routes.
    assert_eq!(
        doc["paths"].as_object().map(|p| p.len()),
        Some(2),
        "{doc:#}"
    );
}
