//! `http` triggers end to end: what a handler gets of the request and
//! what its answer becomes, raw bodies and errors, routes that go away,
//! handlers with nothing to return, and routes that clash.

use std::time::Duration;

use iii::http::{ApiRequest, ApiResponse};
use iii::trigger::{Http, Trigger};
use iii::{Context, Error, Function};
use iii_tests::{engine, eventually, fid, http, route_live, serve, unique};
use serde_json::{Value, json};

#[tokio::test]
async fn http_trigger_request_and_response_shapes() {
    let engine = engine().await;
    let worker = engine.connect("web").await;
    let id = fid("web::echo");
    let path = format!("/{}/:name", unique("echo"));
    let f = Function::new(&id, |req: ApiRequest, ctx: Context| async move {
        Ok::<_, Error>(
            ApiResponse::new(
                201,
                json!({
                    "name": req.path_params["name"],
                    "query": req.query_params,
                    "custom": req.headers.get("x-custom"),
                    "method": req.method,
                    "pattern": req.path,
                    "body": req.body,
                    "meta": ctx.metadata(),
                }),
            )
            .header("X-Probe", "yes"),
        )
    });
    serve(&worker, f).await;
    let trigger = Trigger::new(&id, Http::post(&path)).metadata(json!({"trigger_meta": 1}));
    worker.register_trigger(trigger).expect("bind");
    worker.flush().await.expect("flush");

    let url = format!("{}{}", engine.http_url, path.replace(":name", "world"));
    route_live("POST", &format!("{url}?warmup=1")).await;
    let reply = http(
        "POST",
        &format!("{url}?x=1&y=two&x=3"),
        &[("x-custom", "abc"), ("content-type", "application/json")],
        br#"{"a":1,"b":[1,2]}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.headers["x-probe"], "yes");
    assert_eq!(reply.headers["content-type"], "application/json");
    let body = reply.json();
    assert_eq!(body["name"], "world");
    assert_eq!(
        body["query"],
        json!({"x": "3", "y": "two"}),
        "last repeated value wins"
    );
    assert_eq!(body["custom"], "abc");
    assert_eq!(body["method"], "POST");
    assert_eq!(
        body["pattern"],
        json!(path),
        "the registered pattern, not the URL"
    );
    assert_eq!(body["body"], json!({"a": 1, "b": [1, 2]}));
    assert_eq!(body["meta"], json!({"trigger_meta": 1}));
}

#[tokio::test]
async fn http_raw_bodies_header_lists_errors_and_unknown_routes() {
    let engine = engine().await;
    let worker = engine.connect("web").await;
    let (text_fn, fail_fn) = (fid("web::text"), fid("web::fail"));
    let base = unique("raw");
    serve(&worker, Function::new(&text_fn, |_: Value| async move {
            Ok::<_, Error>(json!({"headers": ["Content-Type: text/plain", "X-Echo: 1"], "body": "plain text!"}))
        })).await;
    serve(
        &worker,
        Function::new(&fail_fn, |_: Value| async move {
            Err::<Value, _>(Error::new("teapot", "short and stout"))
        }),
    )
    .await;
    worker
        .register_trigger(Trigger::new(&text_fn, Http::get(format!("/{base}/text"))))
        .expect("bind");
    worker.flush().await.expect("flush");
    worker
        .register_trigger(Trigger::new(&fail_fn, Http::get(format!("/{base}/fail"))))
        .expect("bind");
    worker.flush().await.expect("flush");

    let text_url = format!("{}/{base}/text", engine.http_url);
    route_live("GET", &text_url).await;
    let reply = http("GET", &text_url, &[], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "plain text!");
    assert_eq!(reply.headers["content-type"], "text/plain");
    assert_eq!(reply.headers["x-echo"], "1");

    let reply = http("GET", &format!("{}/{base}/fail", engine.http_url), &[], b"").await;
    assert_eq!(reply.status, 500);
    let error = &reply.json()["error"];
    assert_eq!(error["code"], "teapot");
    assert_eq!(error["message"], "short and stout");

    let reply = http(
        "GET",
        &format!("{}/{base}/nothing-here", engine.http_url),
        &[],
        b"",
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn unregistered_http_trigger_stops_answering() {
    let engine = engine().await;
    let worker = engine.connect("web").await;
    let id = fid("web::gone");
    let path = format!("/{}", unique("gone"));
    serve(
        &worker,
        Function::new(&id, |_: Value| async move {
            Ok::<_, Error>(json!({"body": "here"}))
        }),
    )
    .await;
    let handle = worker
        .register_trigger(Trigger::new(&id, Http::get(&path)))
        .expect("bind");
    let url = format!("{}{path}", engine.http_url);
    route_live("GET", &url).await;
    handle.unregister().expect("unbind");
    eventually(Duration::from_secs(5), "the route to be removed", || {
        let url = url.clone();
        async move { (http("GET", &url, &[], b"").await.status == 404).then_some(()) }
    })
    .await;
}

/// A handler with nothing to return (`()` or `null`) bound to an http
/// route answers 204 at once. (The engine reads a `null` result as a
/// streamed response: the client used to wait 30 s for a 504.)
#[tokio::test]
async fn an_http_handler_that_returns_nothing_answers_204() {
    let engine = engine().await;
    let worker = engine.connect("web-nothing").await;
    let unit = fid("web::unit");
    let null = fid("web::null");
    serve(
        &worker,
        Function::new(&unit, |_: ApiRequest| async move { Ok::<(), Error>(()) }),
    )
    .await;
    serve(
        &worker,
        Function::new(&null, |_: Value| async move { Ok::<_, Error>(Value::Null) }),
    )
    .await;
    for id in [&unit, &null] {
        let path = format!("/{}", unique("nothing"));
        worker
            .register_trigger(Trigger::new(id, Http::post(&path)))
            .expect("bind");
        worker.flush().await.expect("flush");
        let url = format!("{}{}", engine.http_url, path);
        route_live("POST", &url).await;
        let started = std::time::Instant::now();
        let reply = http("POST", &url, &[], b"").await;
        assert_eq!(reply.status, 204, "{id}: {}", reply.text());
        assert!(reply.body.is_empty(), "{id}: {:?}", reply.text());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{id}: answered in {:?}",
            started.elapsed()
        );
    }
}

/// Routes as the engine keeps them: the same method and path again makes
/// the newest binding serve (and removing it leaves no route); the same
/// shape with other parameter names is refused, and the first one serves.
#[tokio::test]
async fn route_clashes_resolve_as_in_the_engine() {
    let engine = engine().await;
    let worker = engine.connect("routes").await;
    let (first, second) = (fid("routes::first"), fid("routes::second"));
    for (id, who) in [(&first, "first"), (&second, "second")] {
        serve(
            &worker,
            Function::new(id, move |_: ApiRequest| async move {
                Ok::<_, Error>(ApiResponse::ok(json!({"served_by": who})))
            }),
        )
        .await;
    }
    let base = unique("route");
    let path = format!("/{base}/:id");
    worker
        .register_trigger(Trigger::new(&first, Http::get(&path)))
        .expect("bind");
    worker.flush().await.expect("flush");
    let url = format!("{}/{base}/7", engine.http_url);
    route_live("GET", &url).await;
    let newer = worker
        .register_trigger(Trigger::new(&second, Http::get(&path)))
        .expect("bind");
    worker.flush().await.expect("flush");
    assert_eq!(
        http("GET", &url, &[], b"").await.json(),
        json!({"served_by": "second"})
    );

    let clash = worker
        .register_trigger(Trigger::new(&first, Http::get(format!("/{base}/:other"))))
        .expect("sent");
    let refusal = tokio::time::timeout(Duration::from_secs(5), clash.rejected())
        .await
        .expect("refused");
    assert_eq!(refusal.code, "trigger_registration_failed");
    assert!(
        refusal.message.contains("different path-parameter names"),
        "{}",
        refusal.message
    );
    assert_eq!(
        http("GET", &url, &[], b"").await.json(),
        json!({"served_by": "second"})
    );
    // The next flush reports the refusal, naming the function, once.
    let reported = worker.flush().await.expect_err("the clash is reported");
    assert!(
        matches!(&reported, Error::BindingsRefused { refusals } if refusals.len() == 1),
        "{reported:?}"
    );
    assert!(
        reported.to_string().contains(&format!("`{first}`")),
        "{reported}"
    );
    worker.flush().await.expect("reported once");

    newer.unregister().expect("unbind");
    worker.flush().await.expect("flush");
    eventually(Duration::from_secs(5), "the route to go", || async {
        (http("GET", &url, &[], b"").await.status == 404).then_some(())
    })
    .await;
}
