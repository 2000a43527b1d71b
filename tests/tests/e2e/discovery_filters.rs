//! The engine's filters on its listings, through the SDK's `*_where`
//! calls: each filter picks what the engine picks, on both engines.

use std::time::Duration;

use iii::discovery::{FunctionFilter, TriggerFilter, TriggerTypeFilter, WorkerFilter};
use iii::trigger::{Http, Trigger};
use iii::trigger_type::{Binding, TriggerTypeHandler};
use iii::{Error, Function, TriggerType, Worker};
use iii_tests::{engine, eventually, fid, serve, unique};
use serde_json::{Value, json};

fn echo(id: &str) -> Function {
    Function::new(id, |x: Value| async move { Ok::<_, Error>(x) })
}

/// The ids of `listed`, in order.
fn ids(listed: &[iii::discovery::FunctionInfo]) -> Vec<&str> {
    listed.iter().map(|f| f.function_id.as_str()).collect()
}

/// Waits until `worker` sees the function `id` listed.
async fn until_listed(worker: &Worker, id: &str) {
    eventually(Duration::from_secs(5), "the function listed", || async {
        let filter = FunctionFilter::new().prefix(id).include_internal(true);
        let listed = worker.list_functions_where(&filter).await.ok()?;
        listed.iter().any(|f| f.function_id == id).then_some(())
    })
    .await;
}

#[tokio::test]
async fn functions_are_filtered_by_prefix_worker_search_and_internal() {
    let engine = engine().await;
    let (a, b) = (
        engine.connect("filter-a").await,
        engine.connect("filter-b").await,
    );
    let u = fid("flt");
    let (a1, a2, hidden, b1) = (
        format!("{u}::alpha::one"),
        format!("{u}::alpha::two"),
        format!("{u}::alpha::hidden"),
        format!("{u}::beta::one"),
    );
    serve(&a, echo(&a1).description("Sends MAIL to a user")).await;
    serve(&a, echo(&a2)).await;
    serve(&a, echo(&hidden).metadata(json!({"internal": true}))).await;
    serve(&b, echo(&b1)).await;
    until_listed(&a, &b1).await;
    until_listed(&a, &hidden).await;

    let alpha = a
        .list_functions_where(&FunctionFilter::new().prefix(format!("{u}::alpha::")))
        .await
        .expect("list");
    assert_eq!(
        ids(&alpha),
        [a1.as_str(), a2.as_str()],
        "prefix, internal hidden"
    );
    let with_internal = FunctionFilter::new()
        .prefix(format!("{u}::alpha::"))
        .include_internal(true);
    let alpha = a.list_functions_where(&with_internal).await.expect("list");
    assert_eq!(ids(&alpha), [hidden.as_str(), a1.as_str(), a2.as_str()]);

    let of_b = a
        .list_functions_where(&FunctionFilter::new().worker(b.name()))
        .await
        .expect("list");
    assert_eq!(ids(&of_b), [b1.as_str()], "worker, by name");
    let of_both = FunctionFilter::new()
        .prefix(&u)
        .workers([a.name(), b.name()]);
    let of_both = a.list_functions_where(&of_both).await.expect("list");
    assert_eq!(ids(&of_both), [a1.as_str(), a2.as_str(), b1.as_str()]);
    let connection = a.worker_id().expect("connected");
    let none = FunctionFilter::new().prefix(&u).worker(connection);
    assert!(
        a.list_functions_where(&none)
            .await
            .expect("list")
            .is_empty(),
        "a connection id is not a name"
    );

    let mail = a
        .list_functions_where(&FunctionFilter::new().prefix(&u).search("sends mail"))
        .await
        .expect("list");
    assert_eq!(
        ids(&mail),
        [a1.as_str()],
        "search reads descriptions, any case"
    );
}

#[tokio::test]
async fn a_search_ranks_ids_that_start_with_it_then_hold_it_then_descriptions() {
    let engine = engine().await;
    let worker = engine.connect("filter-rank").await;
    let token = fid("rank");
    let starts = format!("{token}::first");
    let holds = format!("{}::pre{token}", fid("zz"));
    let described = fid("aa");
    serve(&worker, echo(&starts)).await;
    serve(&worker, echo(&holds)).await;
    serve(
        &worker,
        echo(&described).description(format!("about {token}")),
    )
    .await;
    until_listed(&worker, &described).await;
    let found = worker
        .list_functions_where(&FunctionFilter::new().search(token.to_uppercase()))
        .await
        .expect("list");
    assert_eq!(
        ids(&found),
        [starts.as_str(), holds.as_str(), described.as_str()],
        "by rank first, not by id"
    );
}

struct Quiet;

impl TriggerTypeHandler for Quiet {
    type Config = Value;
    async fn register(&self, _: Binding<Value>) -> Result<(), Error> {
        Ok(())
    }
    async fn unregister(&self, _: String) -> Result<(), Error> {
        Ok(())
    }
}

#[tokio::test]
async fn trigger_types_and_bindings_are_filtered() {
    let engine = engine().await;
    let (a, b) = (
        engine.connect("filter-ta").await,
        engine.connect("filter-tb").await,
    );
    let u = fid("fltt");
    let ty = format!("{u}::type");
    a.register_trigger_type(TriggerType::new(&ty, "A Unique Ticker"), Quiet)
        .expect("provide");
    let (fa, fb) = (format!("{u}::a"), format!("{u}::b"));
    serve(&a, echo(&fa)).await;
    serve(&b, echo(&fb)).await;
    let path = format!("/{}", unique("fltt"));
    for (worker, f, route) in [(&a, &fa, "a"), (&a, &fa, "a2"), (&b, &fb, "b")] {
        worker
            .register_trigger(Trigger::new(f, Http::get(format!("{path}/{route}"))))
            .expect("bind");
        worker.flush().await.expect("flush");
    }
    let types = eventually(Duration::from_secs(5), "the type listed", || async {
        let found = a
            .list_trigger_types_where(&TriggerTypeFilter::new().prefix(&u))
            .await
            .ok()?;
        (!found.is_empty()).then_some(found)
    })
    .await;
    assert_eq!(
        types.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        [ty.as_str()]
    );
    assert_eq!(types[0].worker_name.as_deref(), Some(a.name()));
    let by_text = TriggerTypeFilter::new().search("unique ticker");
    let by_text = a.list_trigger_types_where(&by_text).await.expect("list");
    assert!(by_text.iter().any(|t| t.id == ty), "{by_text:?}");
    let http = a
        .list_trigger_types_where(&TriggerTypeFilter::new().worker("iii-http"))
        .await
        .expect("list");
    assert_eq!(
        http.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["http"]
    );

    let of_fa = TriggerFilter::new().function_id(&fa);
    let of_fa = b.list_triggers_where(&of_fa).await.expect("list");
    assert_eq!(of_fa.len(), 2, "{of_fa:?}");
    assert!(of_fa.iter().all(|t| t.function_id == fa));
    let of_b = TriggerFilter::new().worker(b.name()).trigger_type("http");
    let of_b = a.list_triggers_where(&of_b).await.expect("list");
    assert_eq!(
        of_b.iter()
            .map(|t| t.function_id.as_str())
            .collect::<Vec<_>>(),
        [fb.as_str()]
    );
    let all = TriggerFilter::new().search(u.to_uppercase());
    assert_eq!(a.list_triggers_where(&all).await.expect("list").len(), 3);
    let none = TriggerFilter::new().search(&u).trigger_type("cron");
    assert!(a.list_triggers_where(&none).await.expect("list").is_empty());
}

#[tokio::test]
async fn workers_are_filtered_by_name_runtime_and_status() {
    let engine = engine().await;
    let a = engine.connect("filter-wa").await;
    let _b = engine.connect("filter-wb").await;
    let mine = WorkerFilter::new().search(a.name().to_uppercase());
    let mine = a.list_workers_where(&mine).await.expect("list");
    assert_eq!(
        mine.iter().map(|w| w.name.as_deref()).collect::<Vec<_>>(),
        [Some(a.name())]
    );
    let rust = WorkerFilter::new()
        .search(a.name())
        .runtime("rust")
        .status("connected");
    assert_eq!(a.list_workers_where(&rust).await.expect("list").len(), 1);
    let not_node = WorkerFilter::new().search(a.name()).runtime("node");
    assert!(
        a.list_workers_where(&not_node)
            .await
            .expect("list")
            .is_empty()
    );
    let engine_own = a
        .list_workers_where(&WorkerFilter::new().runtime("engine"))
        .await
        .expect("list");
    assert!(
        engine_own
            .iter()
            .any(|w| w.name.as_deref() == Some("iii-http")
                && w.status.as_deref() == Some("available")),
        "the engine's own workers: {engine_own:?}"
    );
}
