//! The unit kit: what a handler does through a [`TestContext`] is
//! answered and recorded, in order, and nothing needs an engine.

use serde_json::{Value, json};

use super::*;
use crate::Context;
use crate::http::ApiRequest;
use crate::state::UpdateOp;
use crate::trigger::LogLevel;

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Order {
    id: String,
    cents: u64,
}

fn order() -> Order {
    Order {
        id: "o1".into(),
        cents: 1000,
    }
}

#[tokio::test]
async fn calls_get_canned_values_closures_and_errors_and_are_recorded_in_order() {
    let kit = TestContext::new();
    kit.answer("pricing::fee", &30)
        .answer_with("math::double", |x: i64| Ok(x * 2))
        .fail(
            "cards::charge",
            crate::Error::new("card_declined", "no funds"),
        );
    let ctx = kit.context();
    let fee: u64 = ctx.call("pricing::fee", &order()).await.expect("fee");
    let four: i64 = ctx.call("math::double", &2).await.expect("double");
    let declined = ctx
        .call::<Value, _>("cards::charge", &json!({"cents": 1030}))
        .await
        .expect_err("declined");
    assert_eq!((fee, four), (30, 4));
    assert_eq!(declined.code(), "card_declined");
    assert!(declined.to_string().contains("no funds"), "{declined}");
    assert!(
        matches!(&declined, crate::Error::Remote { function_id, .. } if function_id == "cards::charge"),
        "{declined:?}"
    );

    let calls = kit.calls();
    let ids: Vec<_> = calls.iter().map(Call::function_id).collect();
    assert_eq!(ids, ["pricing::fee", "math::double", "cards::charge"]);
    assert_eq!(calls[0].input::<Order>().expect("typed"), order());
    assert_eq!(calls[1].input_json(), &json!(2));
    assert_eq!(calls[2].kind(), &CallKind::Call);
    // The handler's calls carry its trace.
    let traceparent = calls[0].traceparent().expect("a traceparent");
    assert!(
        traceparent.contains(&ctx.trace().trace_id()),
        "{traceparent}"
    );
    // A typed view that does not fit names the call and the field.
    let wrong = calls[0].input::<(u8, u8)>().expect_err("not a pair");
    assert!(wrong.to_string().contains("pricing::fee"), "{wrong}");
}

#[tokio::test]
async fn a_call_without_an_answer_fails_naming_the_function_and_the_fix() {
    let kit = TestContext::new();
    let err = kit
        .context()
        .call::<Value, _>("inventory::reserve", &json!({}))
        .await
        .expect_err("no answer");
    assert_eq!(err.code(), "function_not_found");
    let text = err.to_string();
    assert!(
        text.contains("inventory::reserve") && text.contains("kit.answer(\"inventory::reserve\""),
        "{text}"
    );
    // Still recorded: the handler did make it.
    assert_eq!(kit.calls_to("inventory::reserve").len(), 1);
    // Channels say where to go instead.
    let err = kit.context().create_channel().await.expect_err("no engine");
    assert!(err.to_string().contains("Harness"), "{err}");
}

#[tokio::test]
async fn fire_and_forget_and_enqueued_calls_are_recorded_and_never_answered() {
    let kit = TestContext::new();
    kit.fail(
        "audit::record",
        crate::Error::msg("not run for a void call"),
    );
    let ctx = kit.context();
    ctx.worker()
        .invoke("audit::record")
        .payload(&"login")
        .metadata(json!({"who": "ada"}))
        .void()
        .await
        .expect("void succeeds whatever the callee would say");
    let first = ctx
        .worker()
        .invoke("emails::send")
        .payload(&json!({"to": "ada@example.com"}))
        .enqueue("emails")
        .await
        .expect("enqueue");
    let second = ctx
        .worker()
        .invoke("emails::send")
        .enqueue("emails")
        .await
        .expect("enqueue");
    assert_ne!(first, second, "each message gets its own receipt");
    let calls = kit.calls();
    assert_eq!(calls[0].kind(), &CallKind::Void);
    assert_eq!(calls[0].metadata(), Some(&json!({"who": "ada"})));
    assert_eq!(
        calls[1].kind(),
        &CallKind::Enqueue {
            queue: "emails".into()
        }
    );
    assert_eq!(calls[1].input_json()["to"], "ada@example.com");
}

#[tokio::test]
async fn calls_are_checked_as_the_engine_would_and_a_bad_id_is_not_recorded() {
    let kit = TestContext::new();
    let err = kit
        .context()
        .call::<Value, _>("", &1)
        .await
        .expect_err("an empty id");
    assert!(matches!(err, crate::Error::Invalid { .. }), "{err:?}");
    assert!(kit.events().is_empty(), "{:?}", kit.events());
}

#[tokio::test]
async fn state_is_kept_in_memory_and_writes_are_recorded() {
    let kit = TestContext::new();
    kit.set_state("users", "grace", &json!({"visits": 9}))
        .expect("seed");
    let state = kit.context().state();
    assert_eq!(state.get::<Value>("users", "ada").await.expect("get"), None);
    let change = state
        .set("users", "ada", &json!({"visits": 1}))
        .await
        .expect("set");
    assert_eq!(change.old_value, None);
    state
        .update(
            "users",
            "ada",
            vec![UpdateOp::Increment {
                path: "visits".into(),
                by: 2,
            }],
        )
        .await
        .expect("update");
    let ada: Option<Value> = state.get("users", "ada").await.expect("get");
    assert_eq!(ada, Some(json!({"visits": 3})));
    assert_eq!(
        state.list::<Value>("users").await.expect("list").len(),
        2,
        "the seeded value and the new one"
    );
    assert_eq!(
        state
            .delete::<Value>("users", "grace")
            .await
            .expect("delete"),
        Some(json!({"visits": 9}))
    );
    assert_eq!(
        state.list_groups().await.expect("groups"),
        vec!["users".to_string()]
    );
    assert_eq!(
        kit.state::<Value>("users", "ada").expect("typed"),
        Some(json!({"visits": 3}))
    );

    let writes = kit.state_writes();
    let kinds: Vec<_> = writes.iter().map(|w| w.kind().clone()).collect();
    assert_eq!(
        kinds,
        [WriteKind::Set, WriteKind::Update, WriteKind::Delete],
        "reads and seeds are not writes"
    );
    assert_eq!((writes[1].scope(), writes[1].key()), ("users", "ada"));
    assert_eq!(
        writes[1].value::<Value>().expect("typed"),
        Some(json!({"visits": 3}))
    );
    assert_eq!(writes[2].value_json(), None);
    assert!(kit.calls().is_empty(), "state is not a call");
}

#[tokio::test]
async fn a_canned_answer_overrides_a_builtin() {
    let kit = TestContext::new();
    kit.fail(
        "state::get",
        crate::Error::new("unavailable", "state is down"),
    );
    let err = kit
        .context()
        .state()
        .get::<Value>("users", "ada")
        .await
        .expect_err("made to fail");
    assert_eq!(err.code(), "unavailable");
    assert_eq!(kit.calls_to("state::get").len(), 1);
}

#[tokio::test]
async fn streams_are_kept_in_memory_and_writes_and_events_are_recorded() {
    let kit = TestContext::new();
    let ctx = kit.context();
    let todos = ctx.stream::<Order>("todos");
    todos.set("inbox", "t1", &order()).await.expect("set");
    todos
        .set(
            "inbox",
            "t2",
            &Order {
                id: "o2".into(),
                cents: 5,
            },
        )
        .await
        .expect("set");
    assert_eq!(todos.get("inbox", "t1").await.expect("get"), Some(order()));
    let ids: Vec<_> = todos
        .list("inbox")
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(ids, ["o1", "o2"], "in the order first stored");
    todos
        .update(
            "inbox",
            "t1",
            vec![UpdateOp::Increment {
                path: "cents".into(),
                by: 1,
            }],
        )
        .await
        .expect("update");
    assert_eq!(
        todos
            .delete("inbox", "t2")
            .await
            .expect("delete")
            .map(|o| o.cents),
        Some(5)
    );
    todos
        .send("inbox", "typing", &json!({"who": "ada"}))
        .await
        .expect("send");
    assert_eq!(
        kit.stream_item::<Order>("todos", "inbox", "t1")
            .expect("typed")
            .map(|o| o.cents),
        Some(1001)
    );
    assert_eq!(ctx.worker().list_streams().await.expect("all").len(), 1);

    let writes = kit.stream_writes();
    let kinds: Vec<_> = writes.iter().map(|w| w.kind().clone()).collect();
    assert_eq!(
        kinds,
        [
            WriteKind::Set,
            WriteKind::Set,
            WriteKind::Update,
            WriteKind::Delete,
            WriteKind::Send {
                event_type: "typing".into()
            }
        ]
    );
    assert_eq!(
        (writes[0].stream(), writes[0].group(), writes[0].item()),
        ("todos", "inbox", Some("t1"))
    );
    assert_eq!(writes[0].value::<Order>().expect("typed"), Some(order()));
    assert_eq!(writes[4].item(), None);
    assert_eq!(writes[4].value_json(), Some(&json!({"who": "ada"})));
}

#[tokio::test]
async fn publishes_and_log_lines_are_recorded_with_the_invocations_trace() {
    let kit = TestContext::new();
    let ctx = kit.context();
    ctx.publish("orders.paid", &order()).await.expect("publish");
    ctx.emit("orders.shipped", &json!({"id": "o1"}))
        .await
        .expect("emit");
    ctx.worker()
        .publish_durable("orders.audit", &1)
        .await
        .expect("durable");
    ctx.logger().info("checked out");
    ctx.logger().warn_with("slow card", &json!({"ms": 1200}));
    let err = ctx.publish(" ", &1).await.expect_err("no topic");
    assert!(err.to_string().contains("topic"), "{err}");

    let published = kit.published();
    let topics: Vec<_> = published.iter().map(Published::topic).collect();
    assert_eq!(topics, ["orders.paid", "orders.shipped", "orders.audit"]);
    assert_eq!(published[0].data::<Order>().expect("typed"), order());
    assert!(!published[1].is_durable() && published[2].is_durable());

    let logs = kit.logs();
    assert_eq!(logs.len(), 2);
    assert_eq!(
        (logs[0].level(), logs[0].message()),
        (LogLevel::Info, "checked out")
    );
    assert_eq!(logs[1].level(), LogLevel::Warn);
    assert_eq!(logs[1].data::<Value>().expect("data")["ms"], 1200);
    assert_eq!(logs[0].trace_id(), Some(ctx.trace().trace_id().as_str()));
    assert_eq!(logs[0].span_id(), Some(ctx.trace().span_id().as_str()));

    // All of it, in the order it happened.
    let order_of_events: Vec<&str> = kit
        .events()
        .iter()
        .map(|e| match e {
            Event::Published(_) => "publish",
            Event::Log(_) => "log",
            _ => "other",
        })
        .collect();
    assert_eq!(
        order_of_events,
        ["publish", "publish", "publish", "log", "log"]
    );
    kit.clear();
    assert!(kit.events().is_empty());
}

#[tokio::test]
async fn an_invocation_carries_what_the_test_gives_it() {
    let kit = TestContext::named("shop");
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let req = ApiRequest::builder("GET", "/x").build();
    let ctx: Context = kit
        .invocation()
        .function_id("shop::checkout")
        .caller_worker_id("w-1")
        .metadata(json!({"tenant": "acme"}))
        .traceparent(parent)
        .baggage("k=v")
        .request(req)
        .build();
    assert_eq!(ctx.function_id(), "shop::checkout");
    assert_eq!(ctx.caller_worker_id(), Some("w-1"));
    assert_eq!(ctx.trace().trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(ctx.baggage(), Some("k=v"));
    assert_eq!(ctx.request().map(|r| r.path.as_str()), Some("/x"));
    assert_eq!(ctx.worker().name(), "shop");
    assert_eq!(ctx.invocation_id(), None);
    ctx.logger().info("hi");
    assert_eq!(
        kit.logs()[0].trace_id(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
}

#[tokio::test]
async fn a_built_request_has_its_parts_and_its_raw_body() {
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct NewTodo {
        title: String,
    }
    let req = ApiRequest::builder("post", "/todos/:list")
        .path_param("list", "home")
        .query_param("notify", "1")
        .header("X-Request-Id", "abc")
        .json(NewTodo {
            title: "milk".into(),
        })
        .build();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/todos/:list");
    assert_eq!(req.path_param("list").expect("list"), "home");
    assert_eq!(req.query_param("notify"), Some("1"));
    assert_eq!(req.headers["x-request-id"], "abc");
    assert_eq!(req.headers["content-type"], "application/json");
    assert_eq!(
        req.body,
        NewTodo {
            title: "milk".into()
        }
    );
    assert_eq!(
        req.body_bytes().await.expect("raw"),
        br#"{"title":"milk"}"#.as_slice()
    );
    let err = req.body_reader().await.expect_err("no engine");
    assert!(err.to_string().contains("body_bytes"), "{err}");

    // No body given: reading it says why there is none.
    let bare = ApiRequest::builder("GET", "/").build();
    assert_eq!(bare.body, Value::Null);
    let err = bare.body_bytes().await.expect_err("no body");
    assert!(err.to_string().contains("request_body"), "{err}");
}

#[tokio::test]
async fn eventually_returns_the_value_or_fails_naming_what_it_waited_for() {
    let mut polls = 0;
    let three = eventually(std::time::Duration::from_secs(5), "three polls", || {
        polls += 1;
        let n = polls;
        async move { (n >= 3).then_some(n) }
    })
    .await
    .expect("the third poll");
    assert_eq!(three, 3);
    let started = std::time::Instant::now();
    let err = eventually(
        std::time::Duration::from_millis(100),
        "the impossible",
        || async { None::<()> },
    )
    .await
    .expect_err("never");
    assert!(started.elapsed() >= std::time::Duration::from_millis(100));
    assert!(err.to_string().contains("the impossible"), "{err}");
}
