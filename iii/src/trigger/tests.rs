//! Trigger configs and bindings, checked without an engine.

use serde_json::{Value, json};

use super::*;
use iii_protocol::rules::validate_cron;

#[test]
fn http_config_uses_engine_field_names() {
    let c = Http::post("/orders/:id")
        .condition("orders::is_vip")
        .to_config()
        .expect("valid");
    assert_eq!(
        c,
        json!({"api_path":"/orders/:id","http_method":"POST","condition_function_id":"orders::is_vip"})
    );
    assert_eq!(
        Http::new("patch", "/x").to_config().expect("valid")["http_method"],
        "PATCH"
    );
    let e = Http::get("x").to_config().expect_err("no slash");
    assert!(e.to_string().contains("write `/x`"), "{e}");
}

#[test]
fn http_config_rejects_bad_methods_and_paths() {
    let e = Http::new("FETCH", "/a").to_config().expect_err("method");
    assert!(
        e.to_string().contains("`FETCH`") && e.to_string().contains("OPTIONS"),
        "{e}"
    );
    for (path, needle) in [
        ("", "empty"),
        ("/a b", "whitespace"),
        ("/a?x=1", "query"),
        ("/a/:/b", "without a name"),
    ] {
        let e = Http::get(path).to_config().expect_err(path);
        assert!(e.to_string().contains(needle), "{path}: {e}");
    }
}

#[test]
fn cron_needs_six_or_seven_fields() {
    assert!(validate_cron("*/2 * * * * *").is_ok());
    assert!(validate_cron("0 0 3 * * Mon 2027").is_ok());
    assert!(validate_cron("@daily").is_ok());
    assert!(
        validate_cron("@sometimes")
            .expect_err("named")
            .contains("@hourly")
    );
    assert!(
        validate_cron("*/2 * * * *")
            .expect_err("five")
            .contains("did you mean `0 */2 * * * *`")
    );
    assert!(validate_cron("*").expect_err("one").contains("1 fields"));
}

#[test]
fn stream_and_topics_are_required() {
    assert!(
        StreamChange::new("")
            .to_config()
            .expect_err("name")
            .to_string()
            .contains("stream_name")
    );
    assert!(Subscribe::new(" ").to_config().is_err());
    assert!(Queue::new("").to_config().is_err());
    assert_eq!(
        StreamChange::new("chat")
            .group("room1")
            .to_config()
            .expect("valid"),
        json!({"stream_name":"chat","group_id":"room1"})
    );
}

#[test]
fn builtin_types_have_engine_ids() {
    assert_eq!(Queue::new("t").trigger_type(), "durable:subscriber");
    assert_eq!(
        FunctionsAvailable.trigger_type(),
        "engine::functions-available"
    );
    assert_eq!(WorkersAvailable.trigger_type(), "engine::workers-available");
    assert_eq!(
        Log::level(LogLevel::Warn).to_config().expect("valid"),
        json!({"level":"warn"})
    );
    assert_eq!(
        StateChange::any()
            .scope("users")
            .to_config()
            .expect("valid"),
        json!({"scope":"users"})
    );
    let q = Queue::new("jobs").config(QueueConfig {
        max_retries: Some(3),
        ..Default::default()
    });
    assert_eq!(
        q.to_config().expect("valid"),
        json!({"topic":"jobs","queue_config":{"max_retries":3}})
    );
}

#[test]
fn custom_configs_must_be_objects() {
    assert!(Custom::new("webhook", json!([1])).to_config().is_err());
    assert_eq!(
        Custom::new("webhook", Value::Null)
            .to_config()
            .expect("valid"),
        json!({})
    );
    assert!(Custom::new("", json!({})).to_config().is_err());
}

#[test]
fn trigger_message_carries_everything() {
    let t = Trigger::new("f", Http::get("/x"))
        .metadata(json!({"m":1}))
        .namespace("ns");
    let m = t
        .clone()
        .into_message("id-1".into(), Some("mine"))
        .expect("valid");
    assert_eq!(m.trigger_type, "http");
    assert_eq!(m.metadata, Some(json!({"m":1})));
    assert_eq!(
        m.namespace.as_deref(),
        Some("ns"),
        "an explicit namespace wins"
    );
    let plain = Trigger::new("f", Http::get("/x"));
    let m = plain
        .clone()
        .into_message("id-2".into(), Some("mine"))
        .expect("valid");
    assert_eq!(
        m.namespace.as_deref(),
        Some("mine"),
        "the worker's by default"
    );
    let m = plain
        .clone()
        .into_message("id-3".into(), None)
        .expect("valid");
    assert_eq!(m.namespace, None, "a worker in `default` sends none");
    assert!(
        Trigger::new("f", Http::get("/x"))
            .namespace(" ")
            .validate()
            .is_err()
    );
    assert!(Trigger::new("", Http::get("/x")).validate().is_err());
}

/// The `#[iii::trigger]` docs in lib.rs restate the kinds table; they must
/// not drift from it.
#[test]
fn the_trigger_docs_follow_the_kinds_table() {
    use iii_protocol::TriggerKind;
    let docs = include_str!("../lib.rs");
    let rows: Vec<&str> = docs.lines().filter(|l| l.starts_with("/// | `")).collect();
    assert_eq!(rows.len(), TriggerKind::ALL.len(), "one row per kind");
    for kind in TriggerKind::ALL {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("/// | `{}", kind.name())))
            .unwrap_or_else(|| panic!("no row for `{kind}`"));
        for key in kind.keys() {
            if ["metadata", "condition", "middleware"].contains(&key.name) {
                continue; // documented once for every kind, below the table
            }
            let named = row.contains(&format!("`{}`", key.name))
                || row.contains(&format!("`{} =", key.name));
            assert!(named, "`{kind}` row lacks `{}`: {row}", key.name);
            if key.required {
                assert!(
                    row.contains(&format!("`{}` (required", key.name)),
                    "`{kind}` row does not say `{}` is required: {row}",
                    key.name
                );
            }
        }
        match kind.engine_type() {
            Some(ty) => assert!(row.ends_with(&format!("| `{ty}` |")), "{row}"),
            None => assert!(row.ends_with("| the custom type |"), "{row}"),
        }
    }
}

/// What the engine would drop from `t`, asked as `register_trigger` asks
/// it: of the message the trigger becomes.
fn engine_drops(t: &Trigger) -> Option<String> {
    let message = t.clone().into_message(String::new(), None).expect("valid");
    super::engine_drops(t.kind(), message.metadata.is_some(), Some(&message.config))
}

#[test]
fn what_the_engine_drops_is_known() {
    let queued = Trigger::new("f", Queue::new("jobs")).metadata(json!({"m": 1}));
    let dropped = engine_drops(&queued).expect("no metadata on durable:subscriber fires");
    assert!(dropped.contains("passes no binding metadata"), "{dropped}");
    let filtered = Trigger::new("f", Subscribe::new("news").condition("keep"));
    assert!(engine_drops(&filtered).is_some_and(|d| d.contains("condition")));
    assert_eq!(
        engine_drops(&Trigger::new("f", Subscribe::new("news"))),
        None
    );
    let raw =
        Trigger::new("f", Custom::new("subscribe", json!({"topic": "x"}))).metadata(json!({}));
    assert_eq!(engine_drops(&raw), None, "a raw config is sent as given");
}
