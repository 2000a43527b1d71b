//! Looking around: the functions, trigger types and trigger bindings an
//! engine lists, and watching the set of functions and the workers that
//! come.

use std::time::Duration;

use futures_util::StreamExt;
use iii::trigger::{Http, Trigger};
use iii::{Error, Function};
use iii_tests::{engine, eventually, fid, serve, unique};
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[tokio::test]
async fn list_triggers_shows_live_bindings() {
    let engine = engine().await;
    let worker = engine.connect("binder").await;
    let id = fid("bound::fn");
    serve(
        &worker,
        Function::new(&id, |x: u8| async move { Ok::<_, Error>(x) }),
    )
    .await;
    let path = format!("/{}", unique("bound"));
    let handle = worker
        .register_trigger(Trigger::new(&id, Http::get(&path)))
        .expect("bind");
    worker.flush().await.expect("flush");
    let listed = worker.list_triggers(false).await.expect("list");
    let mine = listed
        .iter()
        .find(|t| t.id == handle.id())
        .unwrap_or_else(|| panic!("{listed:?}"));
    let alias = format!("{id}:trigger:0");
    assert_eq!(
        (mine.trigger_type.as_str(), mine.function_id.as_str()),
        ("http", id.as_str()),
        "the function the user bound, not its alias"
    );
    assert_eq!(
        mine.alias.as_deref(),
        Some(alias.as_str()),
        "a binding to the worker's own function targets its alias"
    );
    assert_eq!(mine.config["api_path"], path.as_str());
    assert_eq!(mine.worker_name.as_deref(), Some(worker.name()));
    handle.unregister().expect("unbind");
    worker.flush().await.expect("flush");
    let listed = worker.list_triggers(true).await.expect("list");
    assert!(
        listed.iter().all(|t| t.id != handle.id()),
        "gone once unregistered"
    );
}

/// The stream yields the function list when the set of functions changes
/// (the engine checks every 5 s), and dropping it withdraws its binding.
#[tokio::test]
async fn functions_available_streams_changes_until_dropped() {
    let engine = engine().await;
    let watcher = engine.connect("watcher").await;
    let mut changes = watcher.functions_available().expect("watch");
    let own = changes.function_id().to_string();
    watcher.flush().await.expect("flush");
    let other = engine.connect("newcomer").await;
    let id = fid("new::fn");
    serve(
        &other,
        Function::new(&id, |x: u8| async move { Ok::<_, Error>(x) }),
    )
    .await;
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(functions) = changes.next().await {
            if functions.iter().any(|f| f.function_id == id) {
                return functions;
            }
        }
        panic!("the stream ended");
    })
    .await
    .expect("the new function within 20 s");
    assert!(
        seen.iter().any(|f| f.function_id == own),
        "the list is unfiltered"
    );
    drop(changes);
    eventually(Duration::from_secs(5), "the watch's binding to go", || {
        let watcher = watcher.clone();
        let own = own.clone();
        async move {
            let triggers = watcher.list_triggers(true).await.ok()?;
            triggers.iter().all(|t| t.function_id != own).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn on_functions_available_calls_back_until_unsubscribed() {
    let engine = engine().await;
    let watcher = engine.connect("callback-watcher").await;
    let (tx, mut lists) = mpsc::unbounded_channel();
    let subscription = watcher
        .on_functions_available(move |functions| {
            let _ = tx.send(functions);
        })
        .expect("subscribe");
    watcher.flush().await.expect("flush");
    let other = engine.connect("callback-newcomer").await;
    let id = fid("callback::fn");
    serve(
        &other,
        Function::new(&id, |x: u8| async move { Ok::<_, Error>(x) }),
    )
    .await;
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(functions) = lists.recv().await {
            if functions.iter().any(|f| f.function_id == id) {
                return;
            }
        }
        panic!("the callback stopped");
    })
    .await
    .expect("called back within 20 s");
    subscription.unsubscribe();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while lists.recv().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the callback is dropped once unsubscribed");
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
