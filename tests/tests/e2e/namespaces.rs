//! Namespaces: a namespaced worker binds and calls its own functions
//! without naming its namespace, and a call to another namespace must name
//! it (the miss says where to look).

use iii::http::{ApiRequest, ApiResponse};
use iii::trigger::{Http, Trigger};
use iii::{Error, Function};
use iii_tests::{engine, fid, http, route_live, serve, unique};
use serde_json::json;

/// A namespaced worker's triggers and calls find its own functions without
/// naming the namespace; the engine's built-ins are still reached in
/// `default`; an explicit namespace overrides.
#[tokio::test]
async fn a_namespaced_worker_binds_and_calls_its_own_functions() {
    let engine = engine().await;
    let ns = unique("tenant");
    let worker = engine
        .worker("ns-web")
        .namespace(&ns)
        .connect()
        .await
        .expect("connect");
    let hello = fid("tenant::hello");
    serve(
        &worker,
        Function::new(&hello, |req: ApiRequest| async move {
            Ok::<_, Error>(ApiResponse::ok(json!({"hi": req.path_params["who"]})))
        }),
    )
    .await;
    let path = format!("/{}/:who", unique("ns-hello"));
    worker
        .register_trigger(Trigger::new(&hello, Http::get(&path)))
        .expect("bind");
    worker.flush().await.expect("flush");
    let url = format!("{}{}", engine.http_url, path.replace(":who", "ada"));
    route_live("GET", &url).await;
    let reply = http("GET", &url, &[], b"").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"hi": "ada"}));

    let echo = fid("tenant::echo");
    serve(
        &worker,
        Function::new(&echo, |x: u8| async move { Ok::<_, Error>(x) }),
    )
    .await;
    let out: u8 = worker.call(&echo, &5).await.expect("its own namespace");
    assert_eq!(out, 5);
    worker
        .state()
        .set(&unique("ns-scope"), "k", &1)
        .await
        .expect("built-ins resolve in default");
    let err = worker
        .invoke(&echo)
        .namespace("default")
        .payload(&5)
        .call::<u8>()
        .await
        .expect_err("nothing by that id in default");
    assert_eq!(err.code(), "function_not_found", "{err}");
}

#[tokio::test]
async fn namespaces_are_strict_and_the_miss_says_where_to_look() {
    let engine = engine().await;
    let ns = unique("tenant");
    let owner = engine
        .worker("ns-owner")
        .namespace(&ns)
        .connect()
        .await
        .expect("connect");
    let caller = engine.connect("ns-caller").await;
    let id = fid("tenant::fn");
    serve(
        &owner,
        Function::new(&id, |x: u8| async move { Ok::<_, Error>(x) }),
    )
    .await;
    let err = caller
        .call::<u8, _>(&id, &1)
        .await
        .expect_err("not in default");
    let message = &err.remote_body().expect("remote").message;
    assert!(
        message.contains(&format!("It is registered in namespace(s): {ns}")),
        "{message}"
    );
    let out: u8 = caller
        .invoke(&id)
        .namespace(&ns)
        .payload(&7)
        .call()
        .await
        .expect("named namespace");
    assert_eq!(out, 7);
    let err = caller
        .invoke(&id)
        .namespace(" ")
        .call::<u8>()
        .await
        .expect_err("blank");
    assert!(err.to_string().contains("blank"), "{err}");
}
