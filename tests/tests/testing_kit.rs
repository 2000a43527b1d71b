//! `iii::testing` as a user of the SDK meets it: a small todo service
//! written with the macros, unit-tested with `TestContext` and
//! `ApiRequest::builder` (no engine), then run whole on `Harness`
//! (the in-process engine, or the one `III_URL` and `III_HTTP_URL` name).
//!
//! A binary of its own: its `#[iii::function]`s would be registered by
//! every worker of the `e2e` binary that connects with the default
//! `Linked::All`.

use std::time::Duration;

use iii::http::{ApiRequest, ApiResponse};
use iii::state::UpdateOp;
use iii::testing::{CallKind, Harness, TestContext, WriteKind};
use iii::{Context, Error, Linked};
use iii_tests::unique;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
struct Todo {
    id: String,
    title: String,
    done: bool,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
struct NewTodo {
    title: String,
}

/// The state scope of a list's todos.
fn scope(list: &str) -> String {
    format!("kit-todos-{list}")
}

/// Adds a todo to a list: numbered by `kit::next_id`, stored in state,
/// announced on `kit.todo.added`.
#[iii::function(id = "kit::add_todo")]
#[iii::trigger(http, path = "/kit/lists/:list/todos", method = "POST")]
async fn add_todo(req: ApiRequest<NewTodo>, ctx: Context) -> Result<ApiResponse<Todo>, Error> {
    let list = req.path_param("list")?.to_string();
    let title = req.body.title.trim();
    if title.is_empty() {
        return Err(Error::http(400, "a todo needs a title"));
    }
    let n = ctx.call_fn::<next_id>(&list).await?;
    let todo = Todo {
        id: format!("t{n}"),
        title: title.to_string(),
        done: false,
    };
    ctx.state().set(&scope(&list), &todo.id, &todo).await?;
    ctx.publish("kit.todo.added", &todo).await?;
    ctx.logger()
        .info_with("todo added", &json!({"list": list, "id": todo.id}));
    let location = format!("/kit/lists/{list}/todos/{}", todo.id);
    Ok(ApiResponse::created(todo).header("location", location))
}

/// The next number of a list: a counter in state.
#[iii::function(id = "kit::next_id")]
async fn next_id(list: String, ctx: Context) -> Result<u64, Error> {
    let increment = UpdateOp::Increment {
        path: "n".into(),
        by: 1,
    };
    let change = ctx
        .state()
        .update("kit-counters", &list, vec![increment])
        .await?;
    change
        .new_value
        .and_then(|v| v["n"].as_u64())
        .ok_or_else(|| Error::msg(format!("the counter of `{list}` is not a number")))
}

/// Reads one todo.
#[iii::function(id = "kit::get_todo")]
#[iii::trigger(http, path = "/kit/lists/:list/todos/:id", method = "GET")]
async fn get_todo(req: ApiRequest, ctx: Context) -> Result<ApiResponse<Todo>, Error> {
    let (list, id) = (req.path_param("list")?, req.path_param("id")?);
    match ctx.state().get::<Todo>(&scope(list), id).await? {
        Some(todo) => Ok(ApiResponse::ok(todo)),
        None => Err(Error::http(404, format!("no todo `{id}` in `{list}`"))),
    }
}

/// Keeps a feed of added todos in a stream.
#[iii::function(id = "kit::feed")]
#[iii::trigger(subscribe, topic = "kit.todo.added")]
async fn feed(todo: Todo, ctx: Context) -> Result<(), Error> {
    ctx.stream::<Todo>("kit-feed")
        .set("added", &todo.title, &todo)
        .await?;
    Ok(())
}

// Unit tests: the handlers as plain functions, on a TestContext.

#[tokio::test]
async fn add_todo_numbers_stores_announces_and_logs() -> Result<(), Error> {
    let kit = TestContext::new();
    kit.answer_fn::<next_id>(|list| {
        assert_eq!(list, "home");
        Ok(7)
    });
    let req = ApiRequest::builder("POST", "/kit/lists/:list/todos")
        .path_param("list", "home")
        .json(NewTodo {
            title: " milk ".into(),
        })
        .build();
    let res = add_todo(req, kit.context()).await?;

    let milk = Todo {
        id: "t7".into(),
        title: "milk".into(),
        done: false,
    };
    assert_eq!((res.status_code, &res.body), (201, &milk));
    assert_eq!(res.headers["location"], "/kit/lists/home/todos/t7");
    let calls = kit.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].function_id(), calls[0].kind()),
        ("kit::next_id", &CallKind::Call)
    );
    let writes = kit.state_writes();
    assert_eq!(
        (writes[0].kind(), writes[0].scope(), writes[0].key()),
        (&WriteKind::Set, "kit-todos-home", "t7")
    );
    assert_eq!(
        kit.state::<Todo>("kit-todos-home", "t7")?,
        Some(milk.clone())
    );
    assert_eq!(kit.published()[0].topic(), "kit.todo.added");
    assert_eq!(kit.published()[0].data::<Todo>()?, milk);
    let logs = kit.logs();
    assert_eq!(logs[0].message(), "todo added");
    assert_eq!(logs[0].data::<Value>()?["id"], "t7");
    Ok(())
}

#[tokio::test]
async fn add_todo_refuses_a_blank_title_before_doing_anything() {
    let kit = TestContext::new();
    let req = ApiRequest::builder("POST", "/kit/lists/:list/todos")
        .path_param("list", "home")
        .json(NewTodo { title: "  ".into() })
        .build();
    let err = add_todo(req, kit.context()).await.expect_err("blank");
    assert_eq!(err.http_status(), Some(400));
    assert!(kit.events().is_empty(), "{:?}", kit.events());
}

#[tokio::test]
async fn add_todo_passes_on_a_failing_counter() {
    let kit = TestContext::new();
    kit.fail("kit::next_id", Error::new("unavailable", "state is down"));
    let req = ApiRequest::builder("POST", "/kit/lists/:list/todos")
        .path_param("list", "home")
        .json(NewTodo {
            title: "milk".into(),
        })
        .build();
    let err = add_todo(req, kit.context()).await.expect_err("no number");
    assert_eq!(err.code(), "unavailable");
    assert!(kit.published().is_empty() && kit.state_writes().is_empty());
}

#[tokio::test]
async fn next_id_counts_per_list_in_state() -> Result<(), Error> {
    let kit = TestContext::new();
    assert_eq!(next_id("home".into(), kit.context()).await?, 1);
    assert_eq!(next_id("home".into(), kit.context()).await?, 2);
    assert_eq!(next_id("work".into(), kit.context()).await?, 1);
    assert_eq!(
        kit.state::<Value>("kit-counters", "home")?,
        Some(json!({"n": 2}))
    );
    Ok(())
}

#[tokio::test]
async fn get_todo_reads_state_and_a_missing_one_is_a_404() -> Result<(), Error> {
    let kit = TestContext::new();
    let milk = Todo {
        id: "t1".into(),
        title: "milk".into(),
        done: true,
    };
    kit.set_state("kit-todos-home", "t1", &milk)?;
    let req = |id: &str| {
        ApiRequest::builder("GET", "/kit/lists/:list/todos/:id")
            .path_param("list", "home")
            .path_param("id", id)
            .build()
    };
    assert_eq!(get_todo(req("t1"), kit.context()).await?.body, milk);
    let err = get_todo(req("t2"), kit.context()).await.expect_err("none");
    assert_eq!(err.http_status(), Some(404));
    assert!(kit.state_writes().is_empty(), "reads only");
    Ok(())
}

#[tokio::test]
async fn feed_writes_the_stream() -> Result<(), Error> {
    let kit = TestContext::new();
    let milk = Todo {
        id: "t1".into(),
        title: "milk".into(),
        done: false,
    };
    feed(milk.clone(), kit.context()).await?;
    let writes = kit.stream_writes();
    assert_eq!(
        (writes[0].stream(), writes[0].group(), writes[0].item()),
        ("kit-feed", "added", Some("milk"))
    );
    assert_eq!(writes[0].value::<Todo>()?, Some(milk));
    Ok(())
}

// Integration tests: the whole service on an engine.

#[tokio::test]
async fn the_service_answers_over_http_and_its_subscriber_follows() -> Result<(), Error> {
    let app = Harness::start().await?;
    let list = unique("home");

    let res = app
        .post_json(
            &format!("/kit/lists/{list}/todos"),
            &json!({"title": "milk"}),
        )
        .await?;
    assert_eq!(res.status(), 201, "{:?}", res.text());
    let milk: Todo = res.json()?;
    assert_eq!((milk.id.as_str(), milk.title.as_str()), ("t1", "milk"));
    let location = res.header("Location").expect("a location").to_string();
    assert_eq!(location, format!("/kit/lists/{list}/todos/t1"));

    let res = app.get(&location).await?;
    assert_eq!((res.status(), res.json::<Todo>()?), (200, milk.clone()));
    let res = app.get(&format!("/kit/lists/{list}/todos/t9")).await?;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>()?["error"]["code"], "not_found");

    // A body that does not decode is the engine's 400, naming the field.
    let res = app
        .post_json(&format!("/kit/lists/{list}/todos"), &json!({"title": 7}))
        .await?;
    assert_eq!(res.status(), 400, "{:?}", res.text());
    assert!(res.text()?.contains("title"), "{:?}", res.text());

    // The subscriber runs in the background: wait for its write.
    let feed = app.worker().stream::<Todo>("kit-feed");
    let fed = app
        .eventually(
            Duration::from_secs(10),
            "the feed to get the todo",
            || async { feed.get("added", "milk").await.ok().flatten() },
        )
        .await?;
    assert_eq!(fed.id, "t1");

    // The worker calls the functions it serves, types checked.
    assert_eq!(app.worker().call_fn::<next_id>(&list).await?, 2);
    app.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_harness_serves_only_the_chosen_functions() -> Result<(), Error> {
    let app = Harness::builder()
        .linked(Linked::Only(vec!["kit::next_id".into()]))
        .start()
        .await?;
    let list = unique("only");
    assert_eq!(app.worker().call_fn::<next_id>(&list).await?, 1);
    let err = app
        .worker()
        .call::<Value, _>("kit::get_todo", &json!({}))
        .await
        .expect_err("not served");
    assert_eq!(err.code(), "function_not_found", "{err}");
    app.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn harnesses_run_side_by_side_on_ports_of_their_own() -> Result<(), Error> {
    if std::env::var("III_URL").is_ok() && std::env::var("III_HTTP_URL").is_ok() {
        // On one external engine the harnesses of a process take turns.
        eprintln!("skipped: an external engine is shared, not started per harness");
        return Ok(());
    }
    let (a, b) = tokio::try_join!(Harness::start(), Harness::start())?;
    assert_ne!(a.http_url(), b.http_url());
    let (list_a, list_b) = (unique("a"), unique("b"));
    let (path_a, path_b) = (
        format!("/kit/lists/{list_a}/todos"),
        format!("/kit/lists/{list_b}/todos"),
    );
    let body = json!({"title": "x"});
    let (ra, rb) = tokio::try_join!(a.post_json(&path_a, &body), b.post_json(&path_b, &body))?;
    assert_eq!((ra.status(), rb.status()), (201, 201));
    // Each engine holds only its own.
    let other = b.get(&format!("/kit/lists/{list_a}/todos/t1")).await?;
    assert_eq!(other.status(), 404);
    a.shutdown().await;
    b.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_dropped_harness_lets_the_next_one_start() -> Result<(), Error> {
    let first = Harness::start().await?;
    let name = first.worker().name().to_string();
    drop(first);
    let second = Harness::start().await?;
    assert_ne!(second.worker().name(), name, "names are unique");
    let list = unique("next");
    let res = second
        .post_json(&format!("/kit/lists/{list}/todos"), &json!({"title": "x"}))
        .await?;
    assert_eq!(res.status(), 201, "{:?}", res.text());
    second.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_request_to_nothing_fails_naming_it() {
    let app = Harness::builder()
        .linked(Linked::None)
        .start()
        .await
        .expect("the harness");
    let res = app.get("/kit/nowhere").await.expect("an answer");
    assert_eq!(res.status(), 404);
    let err = app
        .request("GE T", "/kit/nowhere")
        .send()
        .await
        .expect_err("not a method");
    assert!(err.to_string().contains("GE T"), "{err}");
    app.shutdown().await;
}
