//! Publishing: messages reach `subscribe` triggers of their topic, and a
//! handler's durable publications reach `queue` triggers.

use std::time::Duration;

use iii::trigger::{Subscribe, Trigger};
use iii::{Context, Error, Function};
use iii_tests::{engine, fid, serve, unique};
use serde_json::{Value, json};
use tokio::sync::mpsc;

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
