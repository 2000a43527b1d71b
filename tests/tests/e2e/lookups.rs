//! Looking up one function, trigger type, binding or worker, and the
//! engine's health: the engine's `*::info` functions, on both engines.

use iii::trigger::{Http, Trigger};
use iii::{Error, Function};
use iii_tests::{engine, fid, serve, unique};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Named {
    name: String,
}

#[tokio::test]
async fn a_function_its_binding_its_type_and_its_worker_are_looked_up() {
    let engine = engine().await;
    let worker = engine.connect("lookup").await;
    let id = fid("lookup::greet");
    let f = Function::new(&id, |n: Named| async move { Ok::<_, Error>(n.name) })
        .description("greets by name");
    serve(&worker, f).await;
    let path = format!("/{}", unique("lookup"));
    let binding = worker
        .register_trigger(Trigger::new(&id, Http::get(&path)))
        .expect("bind");
    worker.flush().await.expect("flush");

    let function = worker.function_info(&id).await.expect("function");
    assert_eq!(function.info.worker_name.as_deref(), Some(worker.name()));
    assert_eq!(function.info.description.as_deref(), Some("greets by name"));
    let schema = function.request_schema.expect("the input's schema");
    assert!(schema["properties"]["name"].is_object(), "{schema}");

    let bound = worker.trigger_info(binding.id()).await.expect("binding");
    assert_eq!(bound.info.function_id, id, "the function, not its alias");
    assert_eq!(bound.info.trigger_type, "http");
    assert_eq!(bound.info.worker_name.as_deref(), Some(worker.name()));
    let ty = bound.trigger.expect("its type");
    assert_eq!(ty.info.id, "http");
    assert!(bound.function.is_some(), "the function it fires");

    let http = worker.trigger_type_info("http").await.expect("type");
    assert_eq!(http.info.worker_name.as_deref(), Some("iii-http"));
    assert!(http.instance_count >= 1, "{http:?}");

    let me = worker.worker_info(worker.name()).await.expect("worker");
    assert_eq!(me.worker.name.as_deref(), Some(worker.name()));
    assert!(me.functions.iter().any(|f| f.function_id == id), "{me:?}");
    assert!(
        me.registered_triggers
            .iter()
            .any(|t| t.id == binding.id() && t.function_id == id),
        "{me:?}"
    );
}

#[tokio::test]
async fn lookups_of_what_is_not_there_fail_not_found_naming_it() {
    let engine = engine().await;
    let worker = engine.connect("lookup-missing").await;
    let missing = fid("no::such");
    let cases = [
        worker.function_info(&missing).await.map(|_| ()),
        worker.trigger_type_info(&missing).await.map(|_| ()),
        worker.trigger_info(&missing).await.map(|_| ()),
        worker.worker_info(&missing).await.map(|_| ()),
    ];
    for outcome in cases {
        let err = outcome.expect_err("not there");
        assert_eq!(err.code(), "NOT_FOUND", "{err}");
        assert!(err.to_string().contains(&missing), "{err}");
    }
}

#[tokio::test]
async fn the_engine_reports_its_health() {
    let engine = engine().await;
    let worker = engine.connect("health").await;
    let health = worker.health().await.expect("health");
    assert_eq!(health.status, "healthy");
    for part in ["otel", "metrics", "logs", "spans"] {
        let status = health.components.get(part).map(|c| c["status"].clone());
        assert!(
            status
                .as_ref()
                .is_some_and(|s| s == "healthy" || s == "disabled"),
            "{part}: {health:?}"
        );
    }
    assert!(health.version.is_some_and(|v| !v.is_empty()));
}
