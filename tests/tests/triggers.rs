//! Trigger bindings end to end: HTTP, state, pub/sub, custom trigger types.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iii::http::{ApiRequest, ApiResponse};
use iii::trigger::{Custom, Http, StateChange, Subscribe, Trigger};
use iii::trigger_type::{Binding, TriggerTypeHandler};
use iii::{Context, Error, Function, TriggerType};
use iii_tests::{engine, eventually, fid, http, serve, unique};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Waits until `GET url` stops answering 404 (the route is live).
async fn route_live(method: &str, url: &str) {
    eventually(
        Duration::from_secs(5),
        "the route to go live",
        || async move {
            let reply = http(method, url, &[], b"").await;
            (reply.status != 404).then_some(())
        },
    )
    .await;
}

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

#[tokio::test]
async fn invalid_configs_fail_before_anything_is_sent() {
    let engine = engine().await;
    let worker = engine.connect("strict").await;
    let err = worker
        .register_trigger(Trigger::new("f", Http::new("FETCH", "/x")))
        .expect_err("method");
    assert!(err.to_string().contains("FETCH"), "{err}");
    let err = worker
        .register_trigger(Trigger::new("f", iii::trigger::Cron::new("*/5 * * * *")))
        .expect_err("five fields");
    assert!(err.to_string().contains("0 */5 * * * *"), "{err}");
    let err = worker
        .register_trigger(Trigger::new("f", iii::trigger::StreamChange::new("")))
        .expect_err("stream_name");
    assert!(err.to_string().contains("stream_name"), "{err}");
}

#[tokio::test]
async fn engine_refusals_reach_the_trigger_handle() {
    let engine = engine().await;
    let worker = engine.connect("web").await;
    // An http binding without api_path, which the typed config cannot express.
    let handle = worker
        .register_trigger(Trigger::new(
            fid("web::x"),
            Custom::new("http", json!({"http_method": "GET"})),
        ))
        .expect("sent");
    let refusal = tokio::time::timeout(Duration::from_secs(5), handle.rejected())
        .await
        .expect("refused");
    assert_eq!(refusal.code, "trigger_registration_failed");
    assert!(refusal.message.contains("api_path"), "{}", refusal.message);
}

#[tokio::test]
async fn state_changes_fire_state_triggers() {
    let engine = engine().await;
    let worker = engine.connect("watcher").await;
    let id = fid("watch::users");
    let scope = unique("users");
    let (tx, mut rx) = mpsc::unbounded_channel();
    worker
        .register_function(Function::new(&id, move |event: Value| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event);
                Ok::<(), Error>(())
            }
        }))
        .expect("register");
    worker.flush().await.expect("flush");
    worker
        .register_trigger(Trigger::new(&id, StateChange::any().scope(&scope)))
        .expect("bind");
    worker.flush().await.expect("flush");
    let state = worker.state();
    // Writes to other scopes must not fire this binding.
    state
        .set(&unique("elsewhere"), "k", &1)
        .await
        .expect("set elsewhere");
    eventually(Duration::from_secs(5), "a created event", || {
        let (state, scope) = (state.clone(), scope.clone());
        async move { state.set(&scope, "ada", &json!({"v": 1})).await.ok() }
    })
    .await;
    let event = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("fired")
        .expect("event");
    assert_eq!(event["type"], "state");
    assert_eq!(event["scope"], json!(scope));
    assert_eq!(event["key"], "ada");
    assert_eq!(event["new_value"], json!({"v": 1}));
}

#[tokio::test]
async fn publish_reaches_subscribers_of_the_topic() {
    let engine = engine().await;
    let (sub, publisher) = (engine.connect("sub").await, engine.connect("pub").await);
    let id = fid("news::on_headline");
    let topic = unique("headlines");
    let (tx, mut rx) = mpsc::unbounded_channel();
    sub.register_function(Function::new(&id, move |event: Value| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event);
            Ok::<(), Error>(())
        }
    }))
    .expect("register");
    sub.flush().await.expect("flush");
    sub.register_trigger(Trigger::new(&id, Subscribe::new(&topic)))
        .expect("bind");
    sub.flush().await.expect("flush");
    // The binding is live once the subscriber's registrations are applied;
    // publish until one arrives.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let got = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no published message arrived"
        );
        let _: Value = publisher
            .call(
                "publish",
                &json!({"topic": topic, "data": {"headline": "x"}}),
            )
            .await
            .expect("publish");
        if let Ok(Some(got)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            break got;
        }
    };
    assert_eq!(got, json!({"headline": "x"}));
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct Every {
    millis: u64,
}

#[derive(Default)]
struct Recorder {
    registered: Mutex<Vec<(String, String, u64)>>,
    unregistered: Mutex<Vec<String>>,
}

struct Ticker(Arc<Recorder>, iii::Worker);

impl TriggerTypeHandler for Ticker {
    type Config = Every;
    async fn register(&self, binding: Binding<Every>) -> Result<(), Error> {
        if binding.config.millis == 0 {
            return Err(Error::new("invalid_config", "`millis` must be positive"));
        }
        self.0.registered.lock().expect("lock").push((
            binding.id.clone(),
            binding.function_id.clone(),
            binding.config.millis,
        ));
        // Fire once, as a real provider would on its schedule.
        self.1
            .invoke(&binding.function_id)
            .payload(&json!({"tick": 1}))
            .metadata(binding.metadata.unwrap_or(Value::Null))
            .void()
            .await
    }
    async fn unregister(&self, id: String) -> Result<(), Error> {
        self.0.unregistered.lock().expect("lock").push(id);
        Ok(())
    }
}

#[tokio::test]
async fn custom_trigger_type_provider_receives_fires_and_refuses() {
    let engine = engine().await;
    let provider = engine.connect("provider").await;
    let user = engine.connect("user").await;
    let ty = unique("ticker");
    let recorder = Arc::new(Recorder::default());
    provider
        .register_trigger_type(
            TriggerType::new(&ty, "ticks every N ms"),
            Ticker(recorder.clone(), provider.clone()),
        )
        .expect("provide");
    provider.flush().await.expect("flush");

    let id = fid("tick::on");
    let (tx, mut rx) = mpsc::unbounded_channel();
    user.register_function(Function::new(&id, move |tick: Value, ctx: Context| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((tick, ctx.metadata().cloned()));
            Ok::<(), Error>(())
        }
    }))
    .expect("register");
    user.flush().await.expect("flush");
    let good = user
        .register_trigger(
            Trigger::new(&id, Custom::new(&ty, json!({"millis": 50}))).metadata(json!({"m": "v"})),
        )
        .expect("bind");
    let (tick, meta) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("fired")
        .expect("tick");
    assert_eq!(tick, json!({"tick": 1}));
    assert_eq!(meta, Some(json!({"m": "v"})));
    assert_eq!(
        recorder.registered.lock().expect("lock")[0],
        (good.id().to_string(), format!("{id}:trigger:0"), 50),
        "the provider fires the binding's alias"
    );

    // A config the provider refuses comes back to the binding's owner.
    let bad = user
        .register_trigger(Trigger::new(&id, Custom::new(&ty, json!({"millis": 0}))))
        .expect("sent");
    let refusal = tokio::time::timeout(Duration::from_secs(5), bad.rejected())
        .await
        .expect("refused");
    assert_eq!(refusal.code, "invalid_config");
    // A config that does not decode names the field.
    let wrong = user
        .register_trigger(Trigger::new(
            &id,
            Custom::new(&ty, json!({"millis": "soon"})),
        ))
        .expect("sent");
    let refusal = tokio::time::timeout(Duration::from_secs(5), wrong.rejected())
        .await
        .expect("refused");
    assert_eq!(refusal.code, "deserialization_error");
    assert!(refusal.message.contains("`millis`"), "{}", refusal.message);

    good.unregister().expect("unbind");
    eventually(
        Duration::from_secs(5),
        "the provider to hear of the removal",
        || {
            let done = recorder
                .unregistered
                .lock()
                .expect("lock")
                .contains(&good.id().to_string());
            async move { done.then_some(()) }
        },
    )
    .await;
}

#[tokio::test]
async fn bindings_made_before_the_provider_are_replayed_to_it() {
    let engine = engine().await;
    let user = engine.connect("early").await;
    let ty = unique("late-type");
    let id = fid("late::fn");
    let ok = |_: Value| async move { Ok::<(), Error>(()) };
    serve(&user, Function::new(&id, ok)).await;
    let binding = user
        .register_trigger(Trigger::new(&id, Custom::new(&ty, json!({"millis": 5}))))
        .expect("parked");
    // Make sure the parked binding reached the engine before the provider.
    let _ = user.list_functions().await.expect("round trip");
    let provider = engine.connect("late-provider").await;
    let recorder = Arc::new(Recorder::default());
    provider
        .register_trigger_type(
            TriggerType::new(&ty, "late"),
            Ticker(recorder.clone(), provider.clone()),
        )
        .expect("provide");
    provider.flush().await.expect("flush");
    eventually(
        Duration::from_secs(5),
        "the parked binding to be replayed",
        || {
            let ids: Vec<String> = recorder
                .registered
                .lock()
                .expect("lock")
                .iter()
                .map(|r| r.0.clone())
                .collect();
            let want = binding.id().to_string();
            async move { ids.contains(&want).then_some(()) }
        },
    )
    .await;
}

#[tokio::test]
async fn discovery_lists_functions_and_trigger_types() {
    let engine = engine().await;
    let worker = engine.connect("lister").await;
    let id = fid("listed::fn");
    let f = Function::new(&id, |x: u8| async move { Ok::<_, Error>(x) })
        .description("listed for the test");
    serve(&worker, f).await;
    let hidden = fid("hidden::fn");
    serve(
        &worker,
        Function::new(&hidden, |x: u8| async move { Ok::<_, Error>(x) })
            .metadata(json!({"internal": true})),
    )
    .await;
    let functions = eventually(Duration::from_secs(5), "the function to be listed", || {
        let (worker, id) = (worker.clone(), id.clone());
        async move {
            let list = worker.list_functions().await.ok()?;
            list.iter().any(|f| f.function_id == id).then_some(list)
        }
    })
    .await;
    let me = functions
        .iter()
        .find(|f| f.function_id == id)
        .expect("listed");
    assert_eq!(me.description.as_deref(), Some("listed for the test"));
    assert_eq!(me.worker_name.as_deref(), Some(worker.name()));
    assert!(
        functions.iter().all(|f| f.function_id != hidden),
        "internal functions are hidden"
    );
    let types = worker.list_trigger_types(false).await.expect("types");
    assert!(types.iter().any(|t| t.id == "http"), "{types:?}");
}

#[tokio::test]
async fn state_round_trip() {
    let engine = engine().await;
    let worker = engine.connect("stateful").await;
    let state = worker.state();
    let scope = unique("scope");
    let change = state
        .set(&scope, "ada", &json!({"n": 1, "name": "B"}))
        .await
        .expect("set");
    assert_eq!(change.old_value, None);
    let change = state
        .update(
            &scope,
            "ada",
            vec![
                iii::state::UpdateOp::Increment {
                    path: "n".into(),
                    by: 5,
                },
                iii::state::UpdateOp::Set {
                    path: "name".into(),
                    value: json!("C"),
                },
            ],
        )
        .await
        .expect("update");
    assert_eq!(change.new_value, Some(json!({"n": 6, "name": "C"})));
    let got: Option<Value> = state.get(&scope, "ada").await.expect("get");
    assert_eq!(got, Some(json!({"n": 6, "name": "C"})));
    let missing: Option<Value> = state.get(&scope, "nobody").await.expect("get");
    assert_eq!(missing, None);
    let all: Vec<Value> = state.list(&scope).await.expect("list");
    assert_eq!(all.len(), 1);
    assert!(state.list_groups().await.expect("groups").contains(&scope));
    let deleted: Option<Value> = state.delete(&scope, "ada").await.expect("delete");
    assert_eq!(deleted, Some(json!({"n": 6, "name": "C"})));
    let err = worker
        .call::<Value, _>("state::set", &json!({"scope": "s"}))
        .await
        .expect_err("no key");
    assert_eq!(err.code(), "deserialization_error");
    assert!(err.to_string().contains("missing field `key`"), "{err}");
}

#[tokio::test]
async fn cron_fires_with_the_engine_payload_and_refuses_bad_expressions() {
    let engine = engine().await;
    let worker = engine.connect("cron").await;
    let id = fid("cron::tick");
    let (tx, mut rx) = mpsc::unbounded_channel();
    serve(
        &worker,
        Function::new(&id, move |fire: Value, ctx: Context| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((fire, ctx.metadata().cloned()));
                Ok::<(), Error>(())
            }
        }),
    )
    .await;
    let binding = worker
        .register_trigger(
            Trigger::new(&id, iii::trigger::Cron::new("*/1 * * * * *"))
                .metadata(json!({"job": "tick"})),
        )
        .expect("bind");
    let (fire, meta) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("fired within a second or two")
        .expect("fire");
    assert_eq!(fire["trigger"], "cron");
    assert_eq!(fire["job_id"], json!(binding.id()));
    let scheduled = fire["scheduled_time"].as_str().expect("scheduled_time");
    assert!(
        scheduled.ends_with("+00:00") && scheduled.len() == 25,
        "{scheduled}"
    );
    assert!(
        fire["actual_time"]
            .as_str()
            .is_some_and(|t| t.ends_with("+00:00")),
        "{fire}"
    );
    assert_eq!(meta, Some(json!({"job": "tick"})));

    // The typed config refuses five fields before sending; the engine
    // refuses them too when the config is sent raw.
    let raw = worker
        .register_trigger(Trigger::new(
            &id,
            Custom::new("cron", json!({"expression": "*/2 * * * *"})),
        ))
        .expect("sent");
    let refusal = tokio::time::timeout(Duration::from_secs(5), raw.rejected())
        .await
        .expect("refused");
    assert_eq!(refusal.code, "trigger_registration_failed");
    assert!(
        refusal
            .message
            .contains("Invalid cron expression '*/2 * * * *'"),
        "{}",
        refusal.message
    );
}

#[tokio::test]
async fn workers_available_fires_when_a_worker_connects() {
    let engine = engine().await;
    let watcher = engine.connect("watcher").await;
    let id = fid("watch::workers");
    let (tx, mut rx) = mpsc::unbounded_channel();
    serve(
        &watcher,
        Function::new(&id, move |event: Value| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event);
                Ok::<(), Error>(())
            }
        }),
    )
    .await;
    watcher
        .register_trigger(Trigger::new(&id, iii::trigger::WorkersAvailable))
        .expect("bind");
    watcher.flush().await.expect("flush");
    let newcomer = engine.connect("newcomer").await;
    let newcomer_id = newcomer.worker_id().expect("id");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let event = tokio::time::timeout_at(deadline.into(), rx.recv())
            .await
            .expect("an event for the newcomer")
            .expect("event");
        if event["worker_id"] == json!(newcomer_id) && event["event"] == "worker_connected" {
            break;
        }
    }
}

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

/// A handler publishes through its context: `emit` reaches `subscribe`
/// triggers, `publish_durable` reaches `queue` triggers.
#[tokio::test]
async fn handlers_emit_to_subscribers_and_publish_durably() {
    let engine = engine().await;
    let worker = engine.connect("emitter").await;
    let (topic, jobs) = (unique("emitted"), unique("jobs"));
    let (on_event, on_job, emit) = (fid("ev::on"), fid("ev::job"), fid("ev::emit"));
    let (tx, mut events) = mpsc::unbounded_channel();
    let (jtx, mut queued) = mpsc::unbounded_channel();
    for (id, tx) in [(&on_event, tx), (&on_job, jtx)] {
        serve(
            &worker,
            Function::new(id, move |event: Value| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(event);
                    Ok::<(), Error>(())
                }
            }),
        )
        .await;
    }
    let (t, j) = (topic.clone(), jobs.clone());
    serve(
        &worker,
        Function::new(&emit, move |order: Value, ctx: Context| {
            let (t, j) = (t.clone(), j.clone());
            async move {
                ctx.emit(&t, &order).await?;
                ctx.worker().publish_durable(&j, &order).await?;
                Ok::<(), Error>(())
            }
        }),
    )
    .await;
    worker
        .register_trigger(Trigger::new(&on_event, Subscribe::new(&topic)))
        .expect("bind");
    worker
        .register_trigger(Trigger::new(&on_job, iii::trigger::Queue::new(&jobs)))
        .expect("bind");
    worker.flush().await.expect("flush");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let (mut event, mut job) = (None, None);
    while event.is_none() || job.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "got {event:?} and {job:?}"
        );
        let () = worker.call(&emit, &json!({"id": 1})).await.expect("emit");
        tokio::time::sleep(Duration::from_millis(50)).await;
        event = event.or_else(|| events.try_recv().ok());
        job = job.or_else(|| queued.try_recv().ok());
    }
    assert_eq!(event, Some(json!({"id": 1})));
    assert_eq!(job, Some(json!({"id": 1})));
    let err = worker.publish(" ", &1).await.expect_err("no topic");
    assert!(err.to_string().contains("topic"), "{err}");
}

/// What the engine does with a binding's condition and metadata differs by
/// kind; iii-embedded must do exactly the same. (Raw configs through
/// `Custom`, since the typed builders refuse what the engine ignores.)
#[tokio::test]
async fn conditions_and_metadata_follow_the_engine_for_each_kind() {
    let engine = engine().await;
    let worker = engine.connect("fidelity").await;
    let (no, fails) = (fid("cond::no"), fid("cond::fails"));
    serve(
        &worker,
        Function::new(&no, |_: Value| async move { Ok::<_, Error>(false) }),
    )
    .await;
    serve(
        &worker,
        Function::new(&fails, |_: Value| async move {
            Err::<bool, _>(Error::new("cond_broke", "the condition failed"))
        }),
    )
    .await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let handler = fid("cond::handler");
    serve(
        &worker,
        Function::new(&handler, move |data: Value, ctx: Context| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((data, ctx.metadata().cloned()));
                Ok::<_, Error>(ApiResponse::ok(json!({})))
            }
        }),
    )
    .await;

    // http: an exact `false` answers 422; a failing condition answers 500
    // with its own code.
    for (condition, status, code) in [(&no, 422, "CONDITION_NOT_MET"), (&fails, 500, "cond_broke")]
    {
        let path = format!("/{}", unique("guarded"));
        worker
            .register_trigger(Trigger::new(
                &handler,
                Http::get(&path).condition(condition),
            ))
            .expect("bind");
        worker.flush().await.expect("flush");
        let url = format!("{}{}", engine.http_url, path);
        route_live("GET", &url).await;
        let reply = http("GET", &url, &[], b"").await;
        assert_eq!(reply.status, status, "{}", reply.text());
        assert_eq!(reply.json()["error"]["code"], code);
        if status == 422 {
            assert_eq!(
                reply.json(),
                json!({"error": {"code": "CONDITION_NOT_MET", "message": "Request condition not met"}, "skipped": true})
            );
        }
    }

    // subscribe: the engine evaluates no condition and passes no metadata;
    // for a binding to one of its own functions, the SDK does both.
    let topic = unique("filtered");
    let even = fid("cond::even");
    serve(
        &worker,
        Function::new(&even, |n: Value| async move {
            Ok::<_, Error>(n["n"].as_u64().unwrap_or(1).is_multiple_of(2))
        }),
    )
    .await;
    let binding = Subscribe::new(&topic).condition(&even);
    worker
        .register_trigger(Trigger::new(&handler, binding).metadata(json!({"m": 1})))
        .expect("bind");
    worker.flush().await.expect("flush");
    let (data, metadata) = eventually(Duration::from_secs(5), "a subscribe fire", || {
        let worker = worker.clone();
        let topic = topic.clone();
        let got = seen.try_recv().ok();
        async move {
            if got.is_none() {
                let _ = worker.publish(&topic, &json!({"n": 1})).await;
                let _ = worker.publish(&topic, &json!({"n": 2})).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            got
        }
    })
    .await;
    assert_eq!(
        data,
        json!({"n": 2}),
        "the SDK asked the condition, which said no to 1"
    );
    assert_eq!(
        metadata,
        Some(json!({"m": 1})),
        "and passed the binding's metadata"
    );
    while let Ok((later, _)) = seen.try_recv() {
        assert_eq!(later, json!({"n": 2}), "an odd message got through");
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
    assert_eq!(served.status, 200, "{}", served.text());
    assert_eq!(served.json(), json!({"secret": "42"}));
    let order: Vec<String> = std::iter::from_fn(|| calls.try_recv().ok()).collect();
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

/// One handler bound to six kinds learns, on each fire, which binding it
/// was: kind, index and fields, with the binding's metadata on every kind
/// (the engine passes none with subscribe and queue fires).
#[tokio::test]
async fn each_fire_says_which_trigger_it_was() {
    use iii::trigger::{Cron, Queue, StateChange, StreamChange, TriggerKind};
    let engine = engine().await;
    let worker = engine.connect("many-triggers").await;
    let id = fid("many::handler");
    let (tx, mut fires) = mpsc::unbounded_channel();
    serve(
        &worker,
        Function::new(&id, move |_: Value, ctx: Context| {
            let tx = tx.clone();
            async move {
                let t = ctx.trigger().cloned();
                let method = ctx.request().map(|r| r.method.clone());
                let _ = tx.send((t, ctx.metadata().cloned(), method));
                Ok::<_, Error>(ApiResponse::ok(json!({})))
            }
        }),
    )
    .await;
    let (path, topic, jobs, scope, stream) = (
        format!("/{}", unique("many")),
        unique("many-topic"),
        unique("many-jobs"),
        unique("many-scope"),
        unique("many-stream"),
    );
    let bindings = [
        Trigger::new(&id, Http::post(&path)),
        Trigger::new(&id, Cron::new("* * * * * *")),
        Trigger::new(&id, Subscribe::new(&topic)),
        Trigger::new(&id, StateChange::any().scope(&scope)),
        Trigger::new(&id, StreamChange::new(&stream)),
        Trigger::new(&id, Queue::new(&jobs)),
    ];
    for (index, binding) in bindings.into_iter().enumerate() {
        worker
            .register_trigger(binding.metadata(json!({"index": index})))
            .expect("bind");
    }
    worker.flush().await.expect("flush");
    route_live("POST", &format!("{}{}", engine.http_url, path)).await;

    let mut seen = std::collections::BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.len() < 6 {
        assert!(
            std::time::Instant::now() < deadline,
            "only saw {:?}",
            seen.keys().collect::<Vec<_>>()
        );
        worker.publish(&topic, &json!({})).await.expect("publish");
        worker
            .publish_durable(&jobs, &json!({}))
            .await
            .expect("publish durably");
        worker.state().set(&scope, "k", &1).await.expect("state");
        worker
            .stream::<Value>(&stream)
            .set("g", "i", &json!(1))
            .await
            .expect("stream");
        http("POST", &format!("{}{}", engine.http_url, path), &[], b"").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        while let Ok((trigger, metadata, method)) = fires.try_recv() {
            let trigger = trigger.expect("every fire of these bindings says which it was");
            assert_eq!(
                metadata,
                Some(json!({"index": trigger.index})),
                "{trigger:?}"
            );
            let http = trigger.kind == TriggerKind::Http;
            assert_eq!(
                method.as_deref(),
                http.then_some("POST"),
                "the request, for http fires only"
            );
            seen.insert(trigger.index, trigger);
        }
    }
    let kinds: Vec<TriggerKind> = seen.values().map(|t| t.kind).collect();
    assert_eq!(
        kinds,
        [
            TriggerKind::Http,
            TriggerKind::Cron,
            TriggerKind::Subscribe,
            TriggerKind::State,
            TriggerKind::Stream,
            TriggerKind::Queue
        ]
    );
    assert_eq!(
        (seen[&0].method(), seen[&0].path()),
        (Some("POST"), Some(path.as_str()))
    );
    assert_eq!(seen[&1].expression(), Some("* * * * * *"));
    assert_eq!(seen[&2].topic(), Some(topic.as_str()));
    assert_eq!(seen[&3].scope(), Some(scope.as_str()));
    assert_eq!(seen[&4].stream_name(), Some(stream.as_str()));
    assert_eq!(seen[&5].topic(), Some(jobs.as_str()));

    let direct: Option<TriggerKind> = {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let probe = fid("many::probe");
        serve(
            &worker,
            Function::new(&probe, move |_: Value, ctx: Context| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(ctx.trigger().map(|t| t.kind));
                    Ok::<_, Error>(())
                }
            }),
        )
        .await;
        let () = worker.call(&probe, &json!({})).await.expect("call");
        rx.recv().await.expect("ran")
    };
    assert_eq!(direct, None, "a direct call has no trigger");
}
