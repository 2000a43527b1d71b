//! Round trips of the literal frames given in the protocol notes.

use serde_json::{Value, json};

use super::*;

/// Decodes `frame`, re-encodes it and checks the JSON is the same value.
fn round_trip(frame: &str) -> Message {
    let message = decode(frame).unwrap_or_else(|e| panic!("decode {frame}: {e}"));
    let again: Value = serde_json::from_str(&encode(&message).expect("encode")).expect("json");
    let original: Value = serde_json::from_str(frame).expect("json");
    assert_eq!(again, original, "re-encoded frame differs");
    message
}

#[test]
fn worker_registered_first_frame() {
    let m = round_trip(
        r#"{"type":"workerregistered","worker_id":"39728b2c-0000-4000-8000-000000000001","reattach_token":"6f5a7a43-0000-4000-8000-000000000002"}"#,
    );
    let Message::WorkerRegistered(m) = m else {
        panic!("wrong variant")
    };
    assert_eq!(
        m.reattach_token.as_deref(),
        Some("6f5a7a43-0000-4000-8000-000000000002")
    );
}

#[test]
fn worker_registered_without_token_from_older_engines() {
    let Message::WorkerRegistered(m) = round_trip(r#"{"type":"workerregistered","worker_id":"w"}"#)
    else {
        panic!("wrong variant")
    };
    assert_eq!(m.reattach_token, None);
}

#[test]
fn register_function_as_observed() {
    let m = decode(
        r#"{"type":"registerfunction","id":"probe::hello","description":"say hello","request_format":{"type":"object"},"response_format":null,"metadata":{"team":"probe"}}"#,
    )
    .expect("decode");
    let Message::RegisterFunction(f) = m else {
        panic!("wrong variant")
    };
    assert_eq!(f.id, "probe::hello");
    assert_eq!(
        f.request_format.map(|r| r.to_value()),
        Some(json!({"type":"object"}))
    );
    assert_eq!(f.response_format, None, "null and absent are the same");
    assert_eq!(f.metadata, Some(json!({"team":"probe"})));
}

/// A format is passed on as the text it came as when the tag comes first
/// (as peers write it), and encodes unchanged; after the other keys, the
/// slow path keeps the same JSON.
#[test]
fn register_function_formats_stay_text() {
    let format =
        r#"{"type":"object","properties":{"n":{"type":"integer","minimum":0}},"required":["n"]}"#;
    let decoded = |frame: String| match decode(&frame).expect("decode") {
        Message::RegisterFunction(f) => f,
        other => panic!("wrong variant {other:?}"),
    };
    let f = decoded(format!(
        r#"{{"type":"registerfunction","id":"f","request_format":{format}}}"#
    ));
    assert_eq!(f.request_format.as_ref().map(RawJson::get), Some(format));
    let again = serde_json::to_string(&Message::RegisterFunction(f)).expect("encode");
    assert!(again.contains(format), "{again}");
    let late = decoded(format!(
        r#"{{"id":"f","request_format":{format},"type":"registerfunction"}}"#
    ));
    assert_eq!(
        late.request_format.map(|r| r.to_value()),
        serde_json::from_str(format).ok()
    );
    let bad = r#"{"type":"registerfunction","id":"f","request_format":{"type":}}"#;
    assert!(decode(bad).is_err(), "a format that is not JSON is refused");
}

/// Kept as text, a format still stops where a tree would: at the depth
/// the engine decodes, and not one level deeper.
#[test]
fn a_format_nests_no_deeper_than_the_engine_decodes() {
    let frame = |levels: usize| {
        format!(
            r#"{{"type":"registerfunction","id":"f","request_format":{}1{}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    };
    // The frame's object is one level.
    let deepest = depth::MAX_FRAME_DEPTH - 1;
    assert_eq!(depth::too_deep(&frame(deepest)), None);
    decode(&frame(deepest)).expect("the deepest format decodes");
    let error = decode(&frame(deepest + 1)).expect_err("one level more is refused");
    assert!(error.to_string().contains("recursion limit"), "{error}");
}

#[test]
fn register_function_with_http_invocation() {
    round_trip(
        r#"{"type":"registerfunction","id":"ext::lambda","invocation":{"url":"https://example.test/fn","method":"PUT","timeout_ms":5000,"headers":{"x-a":"1"},"auth":{"type":"api_key","header":"x-key","value_key":"KEY_ENV"}}}"#,
    );
    round_trip(
        r#"{"type":"registerfunction","id":"ext::b","invocation":{"url":"http://h/","auth":{"type":"bearer","token_key":"T"}}}"#,
    );
    round_trip(
        r#"{"type":"registerfunction","id":"ext::c","invocation":{"url":"http://h/","auth":{"type":"hmac","secret_key":"S"}}}"#,
    );
}

#[test]
fn register_trigger_as_observed() {
    let Message::RegisterTrigger(t) = round_trip(
        r#"{"type":"registertrigger","id":"t-hello","trigger_type":"http","function_id":"probe::hello","config":{"api_path":"/hello/:name","http_method":"GET"}}"#,
    ) else {
        panic!("wrong variant")
    };
    assert_eq!(t.config["api_path"], "/hello/:name");
    round_trip(
        r#"{"type":"registertrigger","id":"c-bind-1","trigger_type":"probe-type","function_id":"c::handler","config":{"every":1},"metadata":{"mk":"mv"},"namespace":"ns","trigger_namespace":"tns"}"#,
    );
}

#[test]
fn register_trigger_without_config_is_rejected_like_the_engine() {
    let err =
        decode(r#"{"type":"registertrigger","id":"t","trigger_type":"http","function_id":"f"}"#)
            .expect_err("config is required");
    assert!(err.to_string().contains("config"), "{err}");
}

#[test]
fn trigger_registration_result_with_and_without_error() {
    round_trip(
        r#"{"type":"triggerregistrationresult","id":"t","trigger_type":"cron","function_id":"f","error":{"code":"trigger_registration_failed","message":"Invalid cron expression"}}"#,
    );
    round_trip(
        r#"{"type":"triggerregistrationresult","id":"t","trigger_type":"cron","function_id":"f"}"#,
    );
}

#[test]
fn unregister_trigger_both_forms() {
    round_trip(r#"{"type":"unregistertrigger","id":"c-bind-1","trigger_type":"probe-type"}"#);
    round_trip(r#"{"type":"unregistertrigger","id":"c-bind-1"}"#);
}

#[test]
fn register_trigger_type_requires_description() {
    round_trip(
        r#"{"type":"registertriggertype","id":"webhook","description":"d","trigger_request_format":{"type":"object"},"call_request_format":{"type":"object"},"namespace":"x"}"#,
    );
    assert!(decode(r#"{"type":"registertriggertype","id":"webhook"}"#).is_err());
}

#[test]
fn invoke_function_as_observed() {
    let Message::InvokeFunction(i) = round_trip(
        r#"{"type":"invokefunction","invocation_id":"df67d10f-0000-4000-8000-000000000003","function_id":"engine::workers::register","data":{"runtime":"python-probe","version":"0.0.1","name":"probe-http","os":"linux","pid":4242}}"#,
    ) else {
        panic!("wrong variant")
    };
    assert_eq!(i.data["pid"], 4242);
    round_trip(
        r#"{"type":"invokefunction","invocation_id":null,"function_id":"f","data":null,"action":{"type":"void"}}"#,
    );
    let Message::InvokeFunction(e) = round_trip(
        r#"{"type":"invokefunction","invocation_id":"df67d10f-0000-4000-8000-000000000004","function_id":"f","data":[1],"action":{"type":"enqueue","queue":"payments"},"metadata":{"m":1},"namespace":"n","traceparent":"00-ab-cd-01","baggage":"k=v"}"#,
    ) else {
        panic!("wrong variant")
    };
    assert_eq!(
        e.action,
        Some(TriggerAction::Enqueue {
            queue: "payments".into()
        })
    );
}

#[test]
fn invoke_function_requires_data_and_a_uuid() {
    assert!(decode(r#"{"type":"invokefunction","function_id":"f"}"#).is_err());
    assert!(
        decode(r#"{"type":"invokefunction","invocation_id":"nope","function_id":"f","data":1}"#)
            .is_err()
    );
}

#[test]
fn invocation_result_outcomes() {
    let Message::InvocationResult(r) = round_trip(
        r#"{"type":"invocationresult","invocation_id":"df67d10f-0000-4000-8000-000000000003","function_id":"engine::workers::register","result":{"success":true}}"#,
    ) else {
        panic!("wrong variant")
    };
    assert_eq!(r.into_outcome(), Ok(json!({"success":true})));
    let Message::InvocationResult(r) = round_trip(
        r#"{"type":"invocationresult","invocation_id":"df67d10f-0000-4000-8000-000000000003","function_id":"f","error":{"code":"invocation_failed","message":"boom","stacktrace":"at f"}}"#,
    ) else {
        panic!("wrong variant")
    };
    assert_eq!(
        r.into_outcome().expect_err("error").stacktrace.as_deref(),
        Some("at f")
    );
    let Message::InvocationResult(r) = decode(
        r#"{"type":"invocationresult","invocation_id":"df67d10f-0000-4000-8000-000000000003","function_id":"f","result":null}"#,
    )
    .expect("decode") else {
        panic!("wrong variant")
    };
    assert_eq!(r.into_outcome(), Ok(Value::Null));
    assert!(
        decode(
            r#"{"type":"invocationresult","invocation_id":"df67d10f-0000-4000-8000-000000000003"}"#
        )
        .is_err(),
        "function_id is required"
    );
}

#[test]
fn rejection_frames_as_observed() {
    round_trip(
        r#"{"type":"registrationrejected","code":"FUNCTION_NAMESPACE_CONFLICT","namespace":"default","function_id":"c::handler","owner_worker_id":"u"}"#,
    );
    round_trip(
        r#"{"type":"registrationrejected","code":"WORKER_NAMESPACE_CONFLICT","namespace":"default","worker_name":"probe-consumer","owner_worker_id":"u"}"#,
    );
    round_trip(r#"{"type":"error","error":{"code":"AUTH_ERROR","message":"unauthorized"}}"#);
}

#[test]
fn small_frames() {
    assert_eq!(round_trip(r#"{"type":"ping"}"#), Message::Ping);
    assert_eq!(round_trip(r#"{"type":"pong"}"#), Message::Pong);
    round_trip(r#"{"type":"reattach","previous_worker_id":"a","reattach_token":"b"}"#);
    round_trip(
        r#"{"type":"registerservice","id":"payments","name":"","description":"d","parent_service_id":"root"}"#,
    );
    round_trip(r#"{"type":"unregisterfunction","id":"f"}"#);
    round_trip(r#"{"type":"unregistertriggertype","id":"webhook"}"#);
}

#[test]
fn unknown_fields_are_ignored_and_unknown_types_are_errors() {
    let m = decode(r#"{"type":"pong","extra":1}"#).expect("extra fields are fine");
    assert_eq!(m, Message::Pong);
    let err = decode(r#"{"type":"teleport"}"#).expect_err("unknown type");
    assert!(err.to_string().contains("teleport"), "{err}");
}

#[test]
fn channel_refs_use_lowercase_directions() {
    let r: StreamChannelRef =
        serde_json::from_value(json!({"channel_id":"c","access_key":"k","direction":"write"}))
            .expect("ref");
    assert_eq!(r.direction, ChannelDirection::Write);
}

#[test]
fn the_tag_may_come_anywhere() {
    let late = decode(r#"{"worker_id":"w","reattach_token":"t","type":"workerregistered"}"#)
        .expect("late tag");
    assert_eq!(
        late,
        decode(r#"{"type":"workerregistered","worker_id":"w","reattach_token":"t"}"#)
            .expect("early tag")
    );
    let late_pong = decode(r#"{"extra":1,"type":"pong"}"#).expect("late tag");
    assert_eq!(late_pong, Message::Pong);
    let err = decode(r#"{"extra":1,"type":"teleport"}"#).expect_err("unknown");
    assert!(err.to_string().contains("teleport"), "{err}");
    let err = decode(r#"{"worker_id":"w"}"#).expect_err("no tag");
    assert!(err.to_string().contains("type"), "{err}");
    let err = decode(r#"{"type":7}"#).expect_err("number tag");
    assert!(err.to_string().contains("invalid type"), "{err}");
    let err = decode(r#"{"function_id":"f","type":"invokefunction"}"#).expect_err("no data");
    assert!(err.to_string().contains("data"), "{err}");
    assert!(decode("[1,2]").is_err());
}

#[test]
fn escaped_keys_and_tags_decode() {
    let m = decode(r#"{"t\u0079pe":"p\u006fng"}"#).expect("escaped");
    assert_eq!(m, Message::Pong);
}

/// JSON text is written into a frame as serde_json writes a `RawValue`:
/// the same bytes as it is, the same tree when serialised to a `Value`,
/// and `null` when nothing was set.
#[test]
fn raw_json_is_written_as_a_raw_value_is() {
    #[derive(serde::Serialize)]
    struct Holder<T> {
        before: u8,
        raw: T,
        after: &'static str,
    }
    let values = [
        json!({"a": [1, "x\"y"], "b": null, "c": {"d": 1.5}}),
        json!([]),
        json!("text with \u{1F600} and \\"),
        json!(null),
        json!(-12),
    ];
    for value in values {
        let ours = RawJson::from_serialize(&value).expect("encodes");
        let theirs = serde_json::value::to_raw_value(&value).expect("encodes");
        assert_eq!(ours.get(), theirs.get());
        let ours_held = Holder {
            before: 1,
            raw: &ours,
            after: "z",
        };
        let theirs_held = Holder {
            before: 1,
            raw: &*theirs,
            after: "z",
        };
        assert_eq!(
            serde_json::to_string(&ours_held).expect("encodes"),
            serde_json::to_string(&theirs_held).expect("encodes"),
        );
        assert_eq!(
            serde_json::to_value(&ours_held).expect("encodes"),
            serde_json::to_value(&theirs_held).expect("encodes"),
        );
        // Read back from a frame, the same text.
        let read: RawJson = serde_json::from_str(ours.get()).expect("reads");
        assert_eq!(read, ours);
    }
    assert_eq!(RawJson::NULL.get(), "null");
    assert_eq!(RawJson::from_value(&json!(null)), RawJson::NULL);
}

/// The borrowed form of `invokefunction` writes the same bytes as the
/// owned one, so senders and receivers share one wire shape.
#[test]
fn the_borrowed_invocation_encodes_as_the_owned_one() {
    let data = RawJson::from_serialize(&json!({"a": [1, 2]})).expect("raw");
    let action = crate::TriggerAction::Enqueue {
        queue: "emails".into(),
    };
    let metadata = json!({"m": true});
    let id = uuid::Uuid::nil();
    for (with_id, full) in [(false, false), (true, true)] {
        let borrowed = crate::InvokeFunctionRef {
            invocation_id: with_id.then_some(id),
            function_id: "f",
            data: &data,
            action: full.then_some(&action),
            metadata: full.then_some(&metadata),
            namespace: full.then_some("ns"),
            traceparent: full.then_some("00-tp"),
            baggage: full.then_some("k=v"),
        };
        let owned = Message::InvokeFunction(crate::InvokeFunction {
            invocation_id: with_id.then_some(id),
            function_id: "f".into(),
            data: json!({"a": [1, 2]}),
            action: full.then(|| action.clone()),
            metadata: full.then(|| metadata.clone()),
            namespace: full.then(|| "ns".into()),
            traceparent: full.then(|| "00-tp".into()),
            baggage: full.then(|| "k=v".into()),
        });
        let borrowed: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&borrowed).expect("encode")).expect("json");
        assert_eq!(borrowed, serde_json::to_value(&owned).expect("encode"));
    }
}

/// The borrowed `invocationresult` writes the same bytes as the owned one
/// for a value held as text or as a tree, `null` in either (left out), and
/// an error; so a callee that answers with JSON text is read as before.
#[test]
fn the_borrowed_result_encodes_as_the_owned_one() {
    let id = uuid::Uuid::nil();
    let text = |json: &str| {
        ResultValue::Text(RawJson::from(
            serde_json::value::RawValue::from_string(json.into()).expect("raw"),
        ))
    };
    let values = [
        (
            text(r#"{"a":[1,"x"],"b":null}"#),
            json!({"a": [1, "x"], "b": null}),
        ),
        (
            ResultValue::Tree(json!({"a": [1, "x"]})),
            json!({"a": [1, "x"]}),
        ),
        (text("7"), json!(7)),
        (text("null"), Value::Null),
        (ResultValue::Tree(Value::Null), Value::Null),
    ];
    for (value, tree) in &values {
        let borrowed = crate::InvocationResultRef::new(id, "f", Ok(value));
        let owned = InvocationResult::new(id, "f", Ok(tree.clone()));
        assert_eq!(
            serde_json::to_string(&borrowed).expect("encode"),
            serde_json::to_string(&Message::InvocationResult(owned)).expect("encode"),
            "{value:?}"
        );
        assert_eq!(borrowed.result.is_none(), tree.is_null(), "{value:?}");
    }
    let error = ErrorBody::new("boom", "it broke");
    let borrowed = crate::InvocationResultRef::new(id, "f", Err(&error));
    let owned = InvocationResult::new(id, "f", Err(error.clone()));
    assert_eq!(
        serde_json::to_string(&borrowed).expect("encode"),
        serde_json::to_string(&Message::InvocationResult(owned)).expect("encode"),
    );
}

/// Every borrowed registration writes the same text as its owned message.
#[test]
fn the_borrowed_registrations_encode_as_the_owned_ones() {
    let messages = [
        r#"{"type":"registerfunction","id":"f","description":"d","request_format":{"type":"object"},"metadata":{"k":1}}"#,
        r#"{"type":"registertrigger","id":"t","trigger_type":"http","function_id":"f","config":{"api_path":"/a"}}"#,
        r#"{"type":"registertriggertype","id":"custom","description":"c"}"#,
        r#"{"type":"registerservice","id":"s","name":"svc"}"#,
    ];
    for text in messages {
        let owned = decode(text).expect(text);
        let borrowed = match &owned {
            Message::RegisterFunction(m) => MessageRef::RegisterFunction(m),
            Message::RegisterTrigger(m) => MessageRef::RegisterTrigger(m),
            Message::RegisterTriggerType(m) => MessageRef::RegisterTriggerType(m),
            Message::RegisterService(m) => MessageRef::RegisterService(m),
            other => panic!("not a registration: {other:?}"),
        };
        assert_eq!(
            serde_json::to_string(&borrowed).expect("borrowed"),
            encode(&owned).expect("owned"),
            "{text}"
        );
        assert_eq!(borrowed.to_message(), owned);
    }
}

#[test]
fn ids_are_refused_when_blank_or_with_control_characters_and_taken_otherwise() {
    use crate::rules::validate_id;
    for ok in [
        "a",
        "billing::total",
        "a b",
        " leading",
        "trailing ",
        "façade::ü",
        "~!@#",
    ] {
        assert_eq!(validate_id(ok), Ok(()), "{ok:?}");
    }
    for (blank, why) in [("", "empty"), (" ", "empty"), ("\u{3000}", "empty")] {
        assert!(validate_id(blank).unwrap_err().contains(why), "{blank:?}");
    }
    for control in ["a\tb", "a\nb", "\u{7f}x", "x\u{85}"] {
        let error = validate_id(control).unwrap_err();
        assert!(error.contains("control character"), "{control:?}: {error}");
    }
}
