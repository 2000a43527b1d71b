//! The registry's replay order and its summary.

use super::*;
use iii_protocol::{Message, RegisterService};
use serde_json::json;

fn function(id: &str) -> (RegisterFunction, Frame) {
    let message = RegisterFunction {
        id: id.into(),
        description: None,
        request_format: None,
        response_format: None,
        metadata: None,
        invocation: None,
    };
    let frame = encode(&Message::RegisterFunction(message.clone()));
    (message, frame)
}

fn trigger(id: &str, f: &str) -> RegisterTrigger {
    RegisterTrigger {
        id: id.into(),
        trigger_type: "http".into(),
        function_id: f.into(),
        config: json!({}),
        metadata: None,
        namespace: None,
        trigger_namespace: None,
    }
}

fn encode(message: &Message) -> Frame {
    let rules = crate::session::Rules { max_frame: 1 << 20 };
    rules.encode(message, || "a test frame".into()).unwrap()
}

fn add_function(r: &mut Registry, id: &str) {
    let (message, frame) = function(id);
    r.add_function(message, frame, Serving::Endpoint);
}

fn add_trigger(r: &mut Registry, t: RegisterTrigger) {
    let frame = encode(&Message::RegisterTrigger(t.clone()));
    r.add_trigger(t, frame, None);
}

fn ids(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match iii_protocol::decode(f.as_str()).unwrap() {
            Message::RegisterFunction(f) => format!("fn:{}", f.id),
            Message::RegisterTrigger(t) => format!("trigger:{}", t.id),
            Message::RegisterService(s) => format!("service:{}", s.id),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn replay_groups_by_kind_in_registration_order() {
    let mut r = Registry::default();
    add_trigger(&mut r, trigger("t2", "b"));
    add_function(&mut r, "zeta");
    add_trigger(&mut r, trigger("t1", "a"));
    add_function(&mut r, "alpha");
    let service = Message::RegisterService(RegisterService {
        id: "svc".into(),
        name: String::new(),
        description: None,
        parent_service_id: None,
    });
    r.add_service("svc", encode(&service));
    assert_eq!(ids(&r.replay(true)), ["service:svc", "fn:zeta", "fn:alpha"]);
    assert_eq!(ids(&r.bindings()), ["trigger:t2", "trigger:t1"]);
    // Replaying twice gives the same frames.
    assert_eq!(r.replay(true), r.replay(true));
    // An engine that takes no triggers gets functions and services only.
    assert_eq!(
        ids(&r.replay(false)),
        ["service:svc", "fn:zeta", "fn:alpha"]
    );
    assert_eq!(
        r.trigger_registrations(),
        ["the `http` trigger of `b`", "the `http` trigger of `a`"]
    );
}

#[test]
fn summary_names_functions_and_bindings_in_order() {
    let mut r = Registry::default();
    assert_eq!(r.summary(), "no functions; no triggers");
    add_function(&mut r, "greet");
    let mut get = trigger("t1", "greet");
    get.config = json!({"api_path": "/greet/:name", "http_method": "GET"});
    add_trigger(&mut r, get);
    let mut cron = trigger("t2", "greet");
    cron.trigger_type = "cron".into();
    cron.config = json!({"expression": "0 * * * * *"});
    add_trigger(&mut r, cron);
    assert_eq!(
        r.summary(),
        "1 function (greet); 2 triggers (http GET /greet/:name -> greet, cron 0 * * * * * -> greet)"
    );
    for n in 0..11 {
        add_function(&mut r, &format!("f{n}"));
    }
    let summary = r.summary();
    assert!(
        summary
            .starts_with("12 functions (greet, f0, f1, f2, f3, f4, f5, f6, f7, f8, and 2 more);"),
        "{summary}"
    );
}

/// A binding of one of the worker's functions keeps its config in its
/// alias only; the summary and the OpenAPI routes read it there.
#[test]
fn an_alias_bindings_config_is_read_from_its_alias() {
    let mut r = Registry::default();
    add_function(&mut r, "greet");
    let config = json!({"api_path": "/greet/:name", "http_method": "GET"});
    let (mut alias_fn, alias_frame) = function("greet:trigger:0");
    alias_fn.description = Some("Trigger 0 of `greet`".into());
    let alias = Alias {
        function_id: "greet".into(),
        info: Arc::new(TriggerInfo {
            id: "t1".into(),
            index: 0,
            kind: iii_protocol::TriggerKind::Http,
            trigger_type: "http".into(),
            config: config.clone(),
        }),
        metadata: None,
        condition: None,
    };
    r.add_function(alias_fn, alias_frame, Serving::Alias(Arc::new(alias)));
    let mut binding = trigger("t1", "greet:trigger:0");
    binding.config = config;
    let frame = encode(&Message::RegisterTrigger(binding.clone()));
    // As `register_trigger` stores it: the config moved to the alias.
    binding.config = Value::Null;
    r.add_trigger(binding, frame, Some("greet:trigger:0".into()));
    assert_eq!(
        r.summary(),
        "1 function (greet); 1 trigger (http GET /greet/:name -> greet)"
    );
    let routes = r.http_routes();
    assert_eq!(routes.len(), 1, "the route is found through the alias");
}
