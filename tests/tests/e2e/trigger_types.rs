//! Custom trigger types: a provider gets the bindings made to its type
//! (those made before it came too), fires them, and refuses bad configs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iii::trigger::{Custom, Trigger};
use iii::trigger_type::{Binding, TriggerTypeHandler};
use iii::{Context, Error, Function, TriggerType};
use iii_tests::{engine, eventually, fid, serve, unique};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

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
