//! How a worker reads frames: results in the shape asked for, and
//! invocations with the caller's id aside, each meaning what
//! [`crate::decode`] reads.

use serde_json::Value;

use crate::{Incoming, IncomingInvoke, Message, ResultValue, Shape, decode, decode_incoming};

/// An invocation is read with its caller's id aside: the same frame as
/// [`decode`] reads, the id out of the payload, wherever it comes, and only
/// from the payload's own object; and what [`decode`] refuses, it refuses.
#[test]
fn an_invocation_is_read_with_the_callers_id_aside() {
    let read = |frame: &str| match decode_incoming(frame, |_| unreachable!("no result")) {
        Ok(Incoming::Invoke(invoke)) => Ok(invoke),
        Ok(other) => panic!("{frame} read as {other:?}"),
        Err(e) => Err(e),
    };
    let id = "df67d10f-0000-4000-8000-000000000003";
    let frames = [
        format!(
            r#"{{"type":"invokefunction","invocation_id":"{id}","function_id":"f","data":{{"_caller_worker_id":"w-1","a":1}}}}"#
        ),
        format!(
            r#"{{"type":"invokefunction","invocation_id":"{id}","function_id":"f","data":{{"a":1,"_caller_worker_id":"w-1","b":[2]}},"traceparent":"00-x","baggage":"k=v","namespace":"n","metadata":{{"m":1}},"action":{{"type":"void"}},"extra":true}}"#
        ),
        r#"{"type":"invokefunction","function_id":"f","data":{"a":{"_caller_worker_id":"nested, kept"},"_caller_worker_id":7}}"#.to_string(),
        r#"{"type":"invokefunction","function_id":"f","data":{"_caller_worker_id":"w-1","_caller_worker_id":{"w":2}}}"#.to_string(),
        r#"{"type":"invokefunction","function_id":"f","data":{"_caller_worker_id":null}}"#.to_string(),
        r#"{"type":"invokefunction","function_id":"f","data":{}}"#.to_string(),
        r#"{"type":"invokefunction","function_id":"f","data":[{"_caller_worker_id":"w"}]}"#.to_string(),
        r#"{"type":"invokefunction","function_id":"f","data":"text","invocation_id":null}"#.to_string(),
        r#"{"type":"invokefunction","function_id":"f","data":-1.5e3}"#.to_string(),
        r#"{"type":"invokefunction","function_id":"f","data":null}"#.to_string(),
        r#"{"function_id":"late::tag","data":{"x":1,"_caller_worker_id":"w-3"},"type":"invokefunction"}"#.to_string(),
        // serde_json reads an object whose first key is its raw-value key
        // as the JSON text in that key's string.
        r#"{"type":"invokefunction","function_id":"f","data":{"$serde_json::private::RawValue":"[1,{\"_caller_worker_id\":2}]"}}"#.to_string(),
        r#"{"type":"invokefunction","function_id":"f","data":{"a":1,"$serde_json::private::RawValue":"[1]"}}"#.to_string(),
        r#"{"type":"invokefunction","function_id":"f","data":{"$serde_json::private::RawValue":"{\"_caller_worker_id\":\"w-4\",\"n\":1}"}}"#.to_string(),
    ];
    for frame in &frames {
        let Message::InvokeFunction(whole) = decode(frame).expect("decode") else {
            panic!("not an invocation: {frame}")
        };
        assert_eq!(
            read(frame).expect("read"),
            IncomingInvoke::from(whole),
            "{frame}"
        );
    }
    assert_eq!(
        read(&frames[0]).expect("read").caller_worker_id.as_deref(),
        Some("w-1")
    );
    assert_eq!(
        read(&frames[2]).expect("read").caller_worker_id.as_deref(),
        Some("7")
    );
    for (frame, why) in [
        (r#"{"type":"invokefunction","data":{}}"#, "no function_id"),
        (r#"{"type":"invokefunction","function_id":"f"}"#, "no data"),
        (
            r#"{"type":"invokefunction","function_id":"f","data":1,"data":2}"#,
            "two payloads",
        ),
        (
            r#"{"type":"invokefunction","function_id":"f","data":{"_caller_worker_id":}}"#,
            "bad JSON",
        ),
        (
            r#"{"type":"invokefunction","function_id":"f","data":{},"invocation_id":"x"}"#,
            "no uuid",
        ),
        (
            r#"{"type":"invokefunction","function_id":"f","data":{"$serde_json::private::RawValue":"[1,"}}"#,
            "raw text that is not JSON",
        ),
        (
            r#"{"type":"invokefunction","function_id":"f","data":{"$serde_json::private::RawValue":1}}"#,
            "raw text that is not a string",
        ),
    ] {
        assert!(decode(frame).is_err(), "decode takes {why}");
        assert!(read(frame).is_err(), "decode_incoming takes {why}");
    }
}

/// The SDK reads results with [`decode_incoming`]: in either shape, every
/// result frame means what it means to [`decode`], and every other frame
/// is the same.
#[test]
fn a_result_read_in_either_shape_means_what_decode_reads() {
    let id = "df67d10f-0000-4000-8000-000000000003";
    let results = [
        format!(
            r#"{{"type":"invocationresult","invocation_id":"{id}","function_id":"f","result":{{"a":[1,2.5,null,"x"]}}}}"#
        ),
        format!(
            r#"{{"type":"invocationresult","invocation_id":"{id}","function_id":"f","result":null}}"#
        ),
        format!(r#"{{"type":"invocationresult","invocation_id":"{id}","function_id":"f"}}"#),
        format!(
            r#"{{"type":"invocationresult","invocation_id":"{id}","function_id":"f","result":7,"error":{{"code":"c","message":"m"}}}}"#
        ),
        format!(
            r#"{{"invocation_id":"{id}","result":"late tag","function_id":"f","type":"invocationresult"}}"#
        ),
        format!(
            r#"{{"type":"invocationresult","result":[true],"function_id":"f","invocation_id":"{id}"}}"#
        ),
        format!(
            r#"{{"type":"invocationresult","invocation_id":"{id}","function_id":"f","result":"s","traceparent":"00-x","extra":[1]}}"#
        ),
    ];
    for shape in [Shape::Tree, Shape::Text] {
        for frame in &results {
            let Message::InvocationResult(tree) = decode(frame).expect("decode") else {
                panic!("not a result: {frame}")
            };
            let mut asked = Vec::new();
            let read = decode_incoming(frame, |id| {
                asked.push(*id);
                shape
            });
            let Incoming::Result(read) = read.expect("decode_incoming") else {
                panic!("not read as a result: {frame}")
            };
            assert_eq!(
                (read.invocation_id, read.function_id.as_str()),
                (tree.invocation_id, tree.function_id.as_str())
            );
            // Asked once the id is known, and only if there is a value.
            let id_first = frame.find("invocation_id") < frame.find("\"result\"");
            let value_read = read.result.is_some() || frame.contains("\"result\":null");
            assert_eq!(asked.len(), usize::from(id_first && value_read), "{frame}");
            match (&read.result, shape, id_first) {
                (Some(ResultValue::Tree(_)), Shape::Tree, true) => {}
                (Some(ResultValue::Text(_)), _, _) if shape == Shape::Text || !id_first => {}
                (None, _, _) => {}
                (other, ..) => panic!("{frame} read as {other:?} when {shape:?} was asked"),
            }
            match (tree.into_outcome(), read.into_outcome()) {
                (Ok(value), Ok(read)) => assert_eq!(
                    read.map(ResultValue::into_value).unwrap_or(Value::Null),
                    value,
                    "{frame}"
                ),
                (Err(a), Err(b)) => assert_eq!(a, b, "{frame}"),
                (a, b) => panic!("{frame}: {a:?} against {b:?}"),
            }
        }
    }
    for frame in [
        r#"{"type":"ping"}"#,
        r#"{"type":"registertrigger","id":"t","trigger_type":"cron","function_id":"f","config":{}}"#,
    ] {
        assert_eq!(
            decode_incoming(frame, |_| Shape::Text).expect("decode_incoming"),
            Incoming::Message(decode(frame).expect("decode"))
        );
    }
    let deep = |levels: usize| {
        format!(
            r#"{{"type":"invocationresult","invocation_id":"{id}","function_id":"f","result":{}{}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    };
    for (frame, why) in [
        (
            format!(r#"{{"type":"invocationresult","invocation_id":"{id}"}}"#),
            "no function_id",
        ),
        (
            r#"{"type":"invocationresult","function_id":"f"}"#.to_string(),
            "no invocation_id",
        ),
        (
            format!(
                r#"{{"type":"invocationresult","invocation_id":"{id}","function_id":"f","result":[1,}}"#
            ),
            "bad JSON",
        ),
        (
            format!(r#"{{"type":"invocationresult","invocation_id":"{id}","function_id":"f"}} x"#),
            "trailing text",
        ),
        (
            format!(
                r#"{{"type":"invocationresult","invocation_id":"{id}","function_id":"f","result":1,"result":2}}"#
            ),
            "two results",
        ),
        (
            format!(
                r#"{{"type":"invocationresult","invocation_id":"{id}","function_id":"f","function_id":"g"}}"#
            ),
            "two function ids",
        ),
        (
            format!(r#"{{"type":"invocationresult","invocation_id":"{id}","function_id":7}}"#),
            "a number for a function id",
        ),
        (deep(crate::depth::MAX_FRAME_DEPTH), "nested too deep"),
    ] {
        assert!(decode(&frame).is_err(), "decode takes {why}");
        for shape in [Shape::Tree, Shape::Text] {
            assert!(
                decode_incoming(&frame, |_| shape).is_err(),
                "{shape:?} takes {why}"
            );
        }
    }
    for shape in [Shape::Tree, Shape::Text] {
        assert!(decode_incoming(&deep(crate::depth::MAX_FRAME_DEPTH - 1), |_| shape).is_ok());
    }
    assert!(decode(&deep(crate::depth::MAX_FRAME_DEPTH - 1)).is_ok());
}
