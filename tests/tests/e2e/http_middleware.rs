//! Middleware of `http` routes: functions the engine runs before the
//! handler, and in-process middleware wrapped around it.

use iii::http::{ApiRequest, ApiResponse};
use iii::trigger::{Http, Trigger};
use iii::{Context, Error, Function};
use iii_tests::{engine, fid, http, route_live, serve, unique};
use serde_json::json;
use tokio::sync::mpsc;

/// An http route's middleware runs after its condition and before its
/// handler, in order; one may answer at once (here 401) or let the request
/// go on. iii-embedded used to ignore them and serve the route unprotected.
#[tokio::test]
async fn route_middleware_guards_the_handler_in_order() {
    use iii::http::{MiddlewareInput, MiddlewareVerdict};
    let engine = engine().await;
    let worker = engine.connect("guarded").await;
    let (audit, auth, handler) = (fid("mw::audit"), fid("mw::auth"), fid("mw::handler"));
    let (tx, mut calls) = mpsc::unbounded_channel();
    let audit_tx = tx.clone();
    serve(
        &worker,
        Function::new(&audit, move |input: MiddlewareInput| {
            let tx = audit_tx.clone();
            async move {
                let _ = tx.send(format!("audit {} {}", input.phase, input.request.method));
                Ok::<_, Error>(MiddlewareVerdict::Continue)
            }
        }),
    )
    .await;
    let auth_tx = tx.clone();
    serve(
        &worker,
        Function::new(&auth, move |input: MiddlewareInput| {
            let tx = auth_tx.clone();
            async move {
                let _ = tx.send(format!("auth {:?}", input.request.path_params.get("id")));
                Ok::<_, Error>(
                    match input
                        .request
                        .headers
                        .get("authorization")
                        .map(String::as_str)
                    {
                        Some("Bearer good") => MiddlewareVerdict::Continue,
                        _ => MiddlewareVerdict::respond(
                            ApiResponse::new(401, json!({"error": "unauthorized"}))
                                .header("www-authenticate", "Bearer"),
                        ),
                    },
                )
            }
        }),
    )
    .await;
    serve(
        &worker,
        Function::new(&handler, move |req: ApiRequest| {
            let tx = tx.clone();
            async move {
                let _ = tx.send("handler".to_string());
                Ok::<_, Error>(ApiResponse::ok(json!({"secret": req.path_params["id"]})))
            }
        }),
    )
    .await;
    let path = format!("/{}/:id", unique("vault"));
    worker
        .register_trigger(Trigger::new(
            &handler,
            Http::get(&path).middleware([&audit, &auth]),
        ))
        .expect("bind");
    worker.flush().await.expect("flush");
    let url = format!("{}{}", engine.http_url, path.replace(":id", "42"));
    route_live("GET", &url).await;
    while calls.try_recv().is_ok() {}

    let refused = http("GET", &url, &[("authorization", "Bearer bad")], b"").await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert_eq!(refused.json(), json!({"error": "unauthorized"}));
    assert_eq!(
        refused.headers.get("www-authenticate").map(String::as_str),
        Some("Bearer")
    );
    let order: Vec<String> = std::iter::from_fn(|| calls.try_recv().ok()).collect();
    assert_eq!(
        order,
        ["audit preHandler GET", "auth Some(\"42\")"],
        "the handler did not run"
    );

    let served = http("GET", &url, &[("authorization", "Bearer good")], b"").await;
    let order: Vec<String> = std::iter::from_fn(|| calls.try_recv().ok()).collect();
    assert_eq!(
        served.status,
        200,
        "{} (the functions that ran: {order:?})",
        served.text()
    );
    assert_eq!(served.json(), json!({"secret": "42"}));
    assert_eq!(
        order,
        ["audit preHandler GET", "auth Some(\"42\")", "handler"]
    );
}

/// In-process middleware: the outermost sees the request first and the
/// response last; one may answer without calling on.
#[tokio::test]
async fn in_process_middleware_wraps_the_handler() {
    use iii::http::chain::{Chain, Next};
    let engine = engine().await;
    let worker = engine.connect("chained").await;
    let (tx, mut calls) = mpsc::unbounded_channel::<&'static str>();
    let (t1, t2, t3) = (tx.clone(), tx.clone(), tx);
    let handler = move |req: ApiRequest, _ctx: Context| {
        let tx = t3.clone();
        async move {
            let _ = tx.send("handler");
            Ok::<_, Error>(ApiResponse::ok(json!({"user": req.headers.get("x-user")})))
        }
    };
    let auth = move |req: ApiRequest, ctx: Context, next: Next| {
        let tx = t1.clone();
        async move {
            let _ = tx.send("auth");
            if !req.headers.contains_key("authorization") {
                return Ok(ApiResponse::new(401, json!({"error": "unauthorized"})));
            }
            let mut req = req;
            req.headers.insert("x-user".into(), "ada".into());
            next.run(req, ctx).await
        }
    };
    let stamp = move |req: ApiRequest, ctx: Context, next: Next| {
        let tx = t2.clone();
        async move {
            let _ = tx.send("stamp");
            Ok::<_, Error>(next.run(req, ctx).await?.header("x-stamped", "yes"))
        }
    };
    let id = fid("chained::get");
    serve(
        &worker,
        Function::new(
            &id,
            Chain::new(handler).with(stamp).with(auth).into_handler(),
        ),
    )
    .await;
    let path = format!("/{}", unique("chained"));
    worker
        .register_trigger(Trigger::new(&id, Http::get(&path)))
        .expect("bind");
    worker.flush().await.expect("flush");
    let url = format!("{}{}", engine.http_url, path);
    route_live("GET", &url).await;
    while calls.try_recv().is_ok() {}

    let refused = http("GET", &url, &[], b"").await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.headers.get("x-stamped").map(String::as_str),
        Some("yes"),
        "the outer one still stamps"
    );
    let order: Vec<_> = std::iter::from_fn(|| calls.try_recv().ok()).collect();
    assert_eq!(order, ["stamp", "auth"]);

    let served = http("GET", &url, &[("authorization", "Bearer t")], b"").await;
    assert_eq!(served.status, 200);
    assert_eq!(
        served.json(),
        json!({"user": "ada"}),
        "a middleware changed the request"
    );
    let order: Vec<_> = std::iter::from_fn(|| calls.try_recv().ok()).collect();
    assert_eq!(order, ["stamp", "auth", "handler"]);
}
