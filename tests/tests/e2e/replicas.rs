//! Replicas of one worker: on one engine, and one on each of several
//! engines sharing a Redis (those tests need `redis-server` and the iii
//! engine binary; without them they say so and pass).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iii::trigger::{Cron, Http};
use iii::{Error, Function, Trigger, Worker};
use iii_tests::cluster::Cluster;
use iii_tests::{engine, eventually, fid, http, unique};
use serde_json::{Value, json};

/// A replica: the same function and binding, under a name of its own.
fn replica(ws_url: &str, function_id: &str, path: &str) -> iii::WorkerBuilder {
    Worker::builder()
        .url(ws_url)
        .name(unique("replica"))
        .linked(iii::linked::Linked::None)
        .default_timeout(Duration::from_secs(10))
        .function(Function::new(function_id, |_: Value| async move {
            Ok::<_, Error>(iii::http::ApiResponse::ok(json!({"served": true})))
        }))
        .trigger(Trigger::new(function_id, Http::get(path)))
}

/// On one engine a second replica's functions are refused (one live
/// owner per function id), and its bindings, which share the first's ids,
/// must not touch the first's: once it leaves, the first still serves.
#[tokio::test]
async fn a_second_replica_on_one_engine_leaves_the_first_ones_bindings_alone() {
    let engine = engine().await;
    let id = fid("replica::serve");
    let path = format!("/{}", fid("replica"));
    let first = replica(&engine.ws_url, &id, &path)
        .connect()
        .await
        .expect("first");
    let url = format!("{}{path}", engine.http_url);
    let reply = http("GET", &url, &[], b"").await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let second = replica(&engine.ws_url, &id, &path)
        .connect()
        .await
        .expect("second");
    second.flush().await.expect("flush");
    second.shutdown().await;

    // The engine removes the bindings a worker owns when it leaves.
    first.flush().await.expect("flush");
    let reply = http("GET", &url, &[], b"").await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"served": true})),
        "the first replica's route survives the second's departure"
    );
}

/// Two engines on one Redis, or `None` after saying why not.
async fn two_engines() -> Option<Cluster> {
    Cluster::start(2)
        .await
        .inspect_err(|why| eprintln!("skipped: {why}"))
        .ok()
}

/// Fires of each cron binding, by scheduled tick, with the engine each
/// came through.
type Ticks = Arc<Mutex<BTreeMap<String, Vec<usize>>>>;

fn counting(function_id: &str, engine: usize, ticks: &Ticks) -> Function {
    let ticks = ticks.clone();
    Function::new(function_id, move |fire: Value| {
        let ticks = ticks.clone();
        async move {
            let tick = fire["scheduled_time"].as_str().unwrap_or("?").to_string();
            ticks
                .lock()
                .expect("lock")
                .entry(tick)
                .or_default()
                .push(engine);
            Ok::<_, Error>(())
        }
    })
}

/// Replicas on two engines sharing one Redis: a cron job fires once per
/// tick, because both bindings have the same id (the engine's lock is
/// keyed by it); with ids of their own, it fires on both.
#[tokio::test]
async fn a_cron_job_bound_by_replicas_on_two_engines_fires_once_per_tick() {
    let Some(cluster) = two_engines().await else {
        return;
    };
    let (shared, own) = (fid("replica::shared"), fid("replica::own"));
    let (shared_ticks, own_ticks): (Ticks, Ticks) = Default::default();
    let mut workers = Vec::new();
    for (n, engine) in cluster.engines.iter().enumerate() {
        let worker = Worker::builder()
            .url(&engine.ws_url)
            .name(unique("cron-replica"))
            .linked(iii::linked::Linked::None)
            .function(counting(&shared, n, &shared_ticks))
            .trigger(Trigger::new(&shared, Cron::new("* * * * * *")))
            .function(counting(&own, n, &own_ticks))
            .trigger(Trigger::new(&own, Cron::new("* * * * * *")).id(format!("{own}-{n}")))
            .connect()
            .await
            .expect("connect");
        workers.push(worker);
    }
    let whole = |ticks: &Ticks| {
        // The first and last ticks may have been cut by the start and end.
        let ticks = ticks.lock().expect("lock");
        let all: Vec<Vec<usize>> = ticks.values().cloned().collect();
        all.get(1..all.len().saturating_sub(1))
            .unwrap_or_default()
            .to_vec()
    };
    eventually(Duration::from_secs(20), "8 whole ticks", || {
        let n = whole(&shared_ticks).len().min(whole(&own_ticks).len());
        async move { (n >= 8).then_some(()) }
    })
    .await;
    for worker in &workers {
        worker.shutdown().await;
    }
    let shared = whole(&shared_ticks);
    assert!(
        shared.iter().all(|fires| fires.len() == 1),
        "a shared id fires once per tick: {shared:?}"
    );
    let own = whole(&own_ticks);
    assert!(
        own.iter().all(|fires| {
            let mut engines = fires.clone();
            engines.sort_unstable();
            engines == [0, 1]
        }),
        "ids of their own fire on both engines each tick: {own:?}"
    );
}

/// The next event, within 10 s.
async fn next<T>(events: &mut tokio::sync::mpsc::UnboundedReceiver<T>) -> T {
    let event = tokio::time::timeout(Duration::from_secs(10), events.recv()).await;
    event.expect("an event within 10 s").expect("open")
}

/// What two engines on one Redis share, as the README says: state values;
/// `publish` reaches a subscriber on each engine; a `state` trigger fires
/// only on the engine that took the write.
#[tokio::test]
async fn what_engines_on_one_redis_share() {
    use iii::trigger::{StateChange, Subscribe};
    use tokio::sync::mpsc;
    let Some(cluster) = two_engines().await else {
        return;
    };
    let (scope, topic) = (fid("shared"), fid("news"));
    let (events_tx, mut events) = mpsc::unbounded_channel::<(usize, &'static str, Value)>();
    let mut workers = Vec::new();
    for (n, engine) in cluster.engines.iter().enumerate() {
        let (on_state, on_news) = (fid("replica::on_state"), fid("replica::on_news"));
        let (state_tx, news_tx) = (events_tx.clone(), events_tx.clone());
        let worker = Worker::builder()
            .url(&engine.ws_url)
            .name(unique("sharing"))
            .linked(iii::linked::Linked::None)
            .function(Function::new(&on_state, move |fire: Value| {
                let tx = state_tx.clone();
                async move {
                    let _ = tx.send((n, "state", fire["key"].clone()));
                    Ok::<_, Error>(())
                }
            }))
            .trigger(Trigger::new(&on_state, StateChange::any().scope(&scope)))
            .function(Function::new(&on_news, move |news: Value| {
                let tx = news_tx.clone();
                async move {
                    let _ = tx.send((n, "news", news));
                    Ok::<_, Error>(())
                }
            }))
            .trigger(Trigger::new(&on_news, Subscribe::new(&topic)))
            .connect()
            .await
            .expect("connect");
        workers.push(worker);
    }

    // A value written through one engine is read through the other.
    workers[0]
        .state()
        .set(&scope, "first", &json!({"by": 0}))
        .await
        .expect("set");
    let read: Option<Value> = workers[1].state().get(&scope, "first").await.expect("get");
    assert_eq!(read, Some(json!({"by": 0})));
    // Its trigger fired on the writing engine only: the next write, through
    // the other engine, fires there, and nothing came before it.
    assert_eq!(next(&mut events).await, (0, "state", json!("first")));
    workers[1]
        .state()
        .set(&scope, "second", &json!({"by": 1}))
        .await
        .expect("set");
    assert_eq!(next(&mut events).await, (1, "state", json!("second")));

    // A message published through one engine reaches a subscriber on each.
    workers[0]
        .publish(&topic, &json!({"headline": "x"}))
        .await
        .expect("publish");
    let mut got = vec![next(&mut events).await, next(&mut events).await];
    got.sort_by_key(|(n, ..)| *n);
    assert_eq!(
        got,
        [
            (0, "news", json!({"headline": "x"})),
            (1, "news", json!({"headline": "x"}))
        ]
    );
    for worker in &workers {
        worker.shutdown().await;
    }
}
