//! Raw request bodies and streamed responses of `http` triggers, end to
//! end: the engine's `request_body` and `response` channels.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use iii::http::{ApiRequest, ApiResponse, StreamedResponse};
use iii::trigger::{Http, Trigger};
use iii::{Context, Error, Function, Worker};
use iii_tests::{
    TestEngine, engine, fid, http, http_open, pattern, pattern_mismatch, route_live, serve, unique,
};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

/// Serves `function` behind `method /<unique>/<name>` and returns the URL
/// once the route answers.
async fn route(
    engine: &TestEngine,
    worker: &Worker,
    function: Function,
    method: &'static str,
    name: &str,
) -> String {
    let id = function.id().to_string();
    serve(worker, function).await;
    let path = format!("/{}/{name}", unique("bodies"));
    worker
        .register_trigger(Trigger::new(&id, Http::new(method, &path)))
        .expect("bind");
    worker.flush().await.expect("flush");
    let url = format!("{}{path}", engine.http_url);
    route_live(method, &url).await;
    url
}

#[tokio::test]
async fn every_body_reaches_the_handler_raw_and_json_bodies_parsed_too() {
    let engine = engine().await;
    let worker = engine.connect("bodies").await;
    let f = Function::new(fid("web::raw"), |req: ApiRequest| async move {
        let raw = req.body_bytes().await?;
        Ok::<_, Error>(ApiResponse::ok(json!({
            "len": raw.len(),
            "mismatch": pattern_mismatch(&raw),
            "text": (raw.len() < 100).then(|| String::from_utf8_lossy(&raw).into_owned()),
            "parsed": req.body,
        })))
    });
    let url = route(&engine, &worker, f, "POST", "raw").await;

    let reply = http(
        "POST",
        &url,
        &[("content-type", "text/plain")],
        b"hello there",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["text"], "hello there");
    assert_eq!(body["parsed"], Value::Null, "only JSON bodies are parsed");

    let form = b"a=1&b=two+words";
    let reply = http(
        "POST",
        &url,
        &[("content-type", "application/x-www-form-urlencoded")],
        form,
    )
    .await;
    assert_eq!(reply.json()["text"], "a=1&b=two+words");

    let json_text = br#"{ "a" : 1,  "b": [1, 2] }"#;
    let reply = http(
        "POST",
        &url,
        &[("content-type", "application/json")],
        json_text,
    )
    .await;
    let body = reply.json();
    assert_eq!(body["parsed"], json!({"a": 1, "b": [1, 2]}));
    assert_eq!(
        body["text"], r#"{ "a" : 1,  "b": [1, 2] }"#,
        "the raw bytes of a JSON body, exactly as sent (what a signature covers)"
    );

    let big = pattern(0, 3 * 1024 * 1024 + 11);
    let reply = http(
        "POST",
        &url,
        &[("content-type", "application/octet-stream")],
        &big,
    )
    .await;
    let body = reply.json();
    assert_eq!(body["len"], big.len());
    assert_eq!(body["mismatch"], Value::Null);

    let reply = http("POST", &url, &[], b"").await;
    assert_eq!(reply.json()["len"], 0, "no body reads as empty");
}

#[tokio::test]
async fn a_body_is_read_from_the_engine_once_and_kept() {
    let engine = engine().await;
    let worker = engine.connect("bodies").await;
    let f = Function::new(
        fid("web::twice"),
        |req: ApiRequest, ctx: Context| async move {
            // Many readers at once, clones of the request among them: one
            // read from the engine, the same bytes for every one.
            let racers = (0..16).map(|_| {
                let req = req.clone();
                tokio::spawn(async move { req.body_bytes().await })
            });
            let raced = futures_util::future::join_all(racers).await;
            let first = req.body_bytes().await?;
            let again = req.body_bytes().await?;
            let all_alike = raced
                .into_iter()
                .all(|r| r.ok().and_then(Result::ok).as_ref() == Some(&first));
            let via_context = ctx.request().expect("an http fire").body_bytes().await?;
            let reader = req.body_reader().await.map(|_| ()).unwrap_err();
            Ok::<_, Error>(ApiResponse::ok(json!({
                "same": all_alike && first == again && again == via_context,
                "text": String::from_utf8_lossy(&first),
                "reader": reader.to_string(),
            })))
        },
    );
    let url = route(&engine, &worker, f, "POST", "twice").await;
    let reply = http("POST", &url, &[("content-type", "text/plain")], b"once").await;
    let body = reply.json();
    assert_eq!(body["same"], true, "{body}");
    assert_eq!(body["text"], "once");
    assert!(
        body["reader"]
            .as_str()
            .unwrap_or("")
            .contains("read already"),
        "{body}"
    );
}

#[tokio::test]
async fn a_large_body_streams_through_a_reader() {
    let engine = engine().await;
    let worker = engine.connect("bodies").await;
    let f = Function::new(fid("web::upload"), |req: ApiRequest| async move {
        let mut reader = req.body_reader().await?;
        let (mut len, mut mismatch, mut buf) = (0u64, None, vec![0u8; 8192]);
        loop {
            let n = reader.read(&mut buf).await.map_err(Error::other)?;
            if n == 0 {
                break;
            }
            let expected = pattern(len, n);
            if mismatch.is_none() && buf[..n] != expected[..] {
                mismatch = Some(len);
            }
            len += n as u64;
        }
        Ok::<_, Error>(ApiResponse::ok(json!({"len": len, "mismatch": mismatch})))
    });
    let url = route(&engine, &worker, f, "PUT", "upload").await;
    let big = pattern(0, 20 * 1024 * 1024);
    let reply = http(
        "PUT",
        &url,
        &[("content-type", "application/octet-stream")],
        &big,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"len": big.len(), "mismatch": null}));
}

#[tokio::test]
async fn an_unread_body_does_not_hold_up_the_request() {
    let engine = engine().await;
    let worker = engine.connect("bodies").await;
    let f = Function::new(fid("web::ignore"), |_req: ApiRequest| async move {
        Ok::<_, Error>(ApiResponse::ok(json!({"ignored": true})))
    });
    let url = route(&engine, &worker, f, "POST", "ignore").await;
    let big = pattern(0, 8 * 1024 * 1024);
    for _ in 0..2 {
        let reply = http("POST", &url, &[("content-type", "text/plain")], &big).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
}

#[tokio::test]
async fn a_streamed_response_sends_its_head_then_each_chunk_as_it_comes() {
    let engine = engine().await;
    let worker = engine.connect("bodies").await;
    let next = Arc::new(Notify::new());
    let release = next.clone();
    let f = Function::new(fid("web::events"), move |req: ApiRequest| {
        let next = next.clone();
        // Only a `?live` request waits (not the probe that finds the route).
        let live = req.query_params.contains_key("live");
        async move {
            let (response, body) = StreamedResponse::channel(201);
            tokio::spawn(async move {
                body.send("data: one\n\n").await?;
                if live {
                    next.notified().await;
                }
                body.send("data: two\n\n").await
            });
            Ok::<_, Error>(
                response
                    .header("content-type", "text/event-stream")
                    .header("x-stream", "yes"),
            )
        }
    });
    let url = route(&engine, &worker, f, "GET", "events").await;
    let response = http_open("GET", &format!("{url}?live"), &[], Bytes::new()).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["x-stream"], "yes");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let mut body = response.into_body();
    let first = body.frame().await.expect("a chunk").expect("read");
    assert_eq!(
        first.into_data().expect("data"),
        "data: one\n\n",
        "the first chunk arrives before the second is produced"
    );
    release.notify_one();
    let mut rest = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("read").into_data() {
            rest.extend_from_slice(&data);
        }
    }
    assert_eq!(rest, b"data: two\n\n", "then the body ends with the sender");
}

#[tokio::test]
async fn streamed_responses_without_a_body_whole_ones_and_failures() {
    let engine = engine().await;
    let worker = engine.connect("bodies").await;
    let f = Function::new(fid("web::shapes"), |req: ApiRequest| async move {
        let which = req.query_params.get("as").cloned().unwrap_or_default();
        let response = match which.as_str() {
            "empty" => StreamedResponse::new(202).header("x-kind", "empty"),
            "whole" => StreamedResponse::from(ApiResponse::new(203, json!({"whole": true})))
                .header("x-kind", "whole"),
            "fails" => {
                StreamedResponse::new(200).body(futures_util::stream::iter([Err::<Bytes, _>(
                    Error::msg("the source is gone"),
                )]))
            }
            "cut" => StreamedResponse::new(200).body(futures_util::stream::iter([
                Ok(Bytes::from_static(b"partial")),
                Err(Error::msg("the source is gone")),
            ])),
            _ => StreamedResponse::new(700),
        };
        Ok::<_, Error>(response)
    });
    let url = route(&engine, &worker, f, "GET", "shapes").await;

    let reply = http("GET", &format!("{url}?as=empty"), &[], b"").await;
    assert_eq!((reply.status, reply.body.len()), (202, 0));
    assert_eq!(reply.headers["x-kind"], "empty");

    let reply = http("GET", &format!("{url}?as=whole"), &[], b"").await;
    assert_eq!(reply.status, 203);
    assert_eq!(reply.headers["x-kind"], "whole");
    assert_eq!(reply.json(), json!({"whole": true}));

    let reply = http("GET", &format!("{url}?as=fails"), &[], b"").await;
    assert_eq!(
        reply.status, 500,
        "a body that fails before its first chunk"
    );

    let reply = http("GET", &format!("{url}?as=cut"), &[], b"").await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (200, "partial"),
        "a body that fails later is cut short"
    );

    // A status out of range is the handler's bug: 500 with an error id
    // (the reason, naming 100..=599, goes to the worker's log only).
    let reply = http("GET", &format!("{url}?as=bad"), &[], b"").await;
    assert_eq!(reply.status, 500);
    assert!(!reply.text().contains("100..=599"), "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], "internal_error");
}

#[tokio::test]
async fn a_streamed_response_answers_only_an_http_fire() {
    let engine = engine().await;
    let (callee, caller) = engine.pair().await;
    let id = fid("web::direct");
    serve(
        &callee,
        Function::new(&id, |_: Value| async move {
            Ok::<_, Error>(StreamedResponse::new(200))
        }),
    )
    .await;
    let error = caller.call::<Value, _>(&id, &json!({})).await.unwrap_err();
    assert!(error.to_string().contains("http trigger fire"), "{error}");
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Respond {
    response: iii::channel::ChannelWriter,
}

#[tokio::test]
async fn a_response_written_on_the_channel_by_another_worker_streams() {
    use iii::channel::ResponseControl;
    let engine = engine().await;
    let (web, writer) = engine.pair().await;
    let write = fid("web::write_response");
    serve(
        &writer,
        Function::new(&write, |mut input: Respond| async move {
            let out = &mut input.response;
            out.send_json(&ResponseControl::SetStatus { status_code: 207 })
                .await?;
            let headers = [("x-by".to_string(), "writer".to_string())].into();
            out.send_json(&ResponseControl::SetHeaders { headers })
                .await?;
            out.send_bytes(&b"from the other worker"[..]).await?;
            out.close().await
        }),
    )
    .await;
    let f = Function::new(
        fid("web::delegate"),
        move |req: ApiRequest, ctx: Context| {
            let write = write.clone();
            async move {
                ctx.worker()
                    .call::<(), _>(&write, &json!({"response": req.response}))
                    .await?;
                Ok::<_, Error>(StreamedResponse::written_elsewhere())
            }
        },
    );
    let url = route(&engine, &web, f, "GET", "delegate").await;
    let reply = http("GET", &url, &[], b"").await;
    assert_eq!(reply.status, 207, "{}", reply.text());
    assert_eq!(reply.headers["x-by"], "writer");
    assert_eq!(reply.text(), "from the other worker");
}

#[tokio::test]
async fn a_cancelled_body_read_fails_later_reads_instead_of_emptying_them() {
    let engine = engine().await;
    let worker = engine.connect("bodies").await;
    let f = Function::new(fid("web::cancelled"), |req: ApiRequest| async move {
        // Polled once and dropped at its first wait: it has begun to attach
        // the body's one read end.
        let cancelled = futures_util::FutureExt::now_or_never(req.body_bytes());
        let later = req.body_bytes().await;
        Ok::<_, Error>(ApiResponse::ok(json!({
            "cancelled": cancelled.is_none(),
            "later": later.map(|b| b.len()).map_err(|e| e.to_string()),
        })))
    });
    let url = route(&engine, &worker, f, "POST", "cancelled").await;
    let reply = http("POST", &url, &[("content-type", "text/plain")], b"body").await;
    let body = reply.json();
    assert_eq!(body["cancelled"], true, "{body}");
    let later = body["later"]["Err"].as_str().unwrap_or_default();
    assert!(later.contains("cancelled"), "{body}");
}
