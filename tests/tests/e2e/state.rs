//! State end to end: the typed client's round trip, and `state` triggers
//! fired by writes to their scope.

use std::time::Duration;

use iii::trigger::{StateChange, Trigger};
use iii::{Error, Function};
use iii_tests::{engine, eventually, fid, unique};
use serde_json::{Value, json};
use tokio::sync::mpsc;

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
