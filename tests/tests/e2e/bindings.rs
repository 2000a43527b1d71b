//! Trigger bindings across kinds: configs refused before sending or by
//! the engine, `cron` fires, conditions and metadata as the engine treats
//! them for each kind, and which binding a fire came from.

use std::time::Duration;

use iii::http::ApiResponse;
use iii::trigger::{Custom, Http, Subscribe, Trigger};
use iii::{Context, Error, Function};
use iii_tests::{engine, eventually, fid, http, route_live, serve, unique};
use serde_json::{Value, json};
use tokio::sync::mpsc;

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

/// A binding the engine refuses fails `connect`, named by the function
/// the user bound and its trigger, instead of a WARN about an alias.
#[tokio::test]
async fn connect_fails_naming_a_binding_the_engine_refused() {
    use iii::trigger::{Cron, Trigger};
    let engine = engine().await;
    let id = fid("refused::tick");
    let error = engine
        .worker("refused")
        .linked(iii::linked::Linked::None)
        .function(iii::Function::new(&id, |_: serde_json::Value| async move {
            Ok::<_, Error>(())
        }))
        // Minute 61: the shape passes the SDK's check, the engine refuses.
        .trigger(Trigger::new(&id, Cron::new("0 61 * * * *")))
        .connect()
        .await
        .expect_err("the engine refuses minute 61");
    assert!(matches!(error, Error::BindingsRefused { .. }), "{error:?}");
    let text = error.to_string();
    let named = format!("the `cron` trigger of `{id}`");
    assert!(text.contains(&named) && text.contains("61"), "{text}");
    assert!(!text.contains(":trigger:"), "no alias in: {text}");
}
