//! The frame decoder under random and mutated input: it never panics,
//! whatever arrives, and what it accepts survives a round trip.
//!
//! 100,000 cases of each property in the normal test run; set
//! `III_FUZZ_CASES` for a longer one (for example 10,000,000).

use iii_protocol::{
    Incoming, IncomingInvoke, Message, ResultValue, Shape, decode, decode_incoming, encode,
    salvage::salvage,
};
use proptest::prelude::*;

/// Valid frames of every kind, as peers send them.
const FRAMES: &[&str] = &[
    r#"{"type":"workerregistered","worker_id":"39728b2c-0000-4000-8000-000000000001","reattach_token":"6f5a7a43-0000-4000-8000-000000000002"}"#,
    r#"{"type":"invokefunction","invocation_id":"df67d10f-0000-4000-8000-000000000003","function_id":"greet::hello","data":{"name":"Ada","tags":[1,2.5,null,true],"nested":{"a":{"b":[]}}},"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","metadata":{"m":1}}"#,
    r#"{"type":"invocationresult","invocation_id":"df67d10f-0000-4000-8000-000000000003","function_id":"greet::hello","result":{"message":"Hello, Ada!"}}"#,
    r#"{"type":"invocationresult","invocation_id":"df67d10f-0000-4000-8000-000000000003","function_id":"f","error":{"code":"invocation_failed","message":"boom","stacktrace":"at f"}}"#,
    r#"{"type":"registerfunction","id":"probe::hello","description":"say hello","request_format":{"type":"object"},"metadata":{"team":"probe"}}"#,
    r#"{"type":"registertrigger","id":"t-1","trigger_type":"http","function_id":"probe::hello","config":{"api_path":"/hello/:name","http_method":"GET"},"metadata":{"k":"v"},"namespace":"billing"}"#,
    r#"{"type":"triggerregistrationresult","id":"t-1","trigger_type":"cron","function_id":"f","error":{"code":"trigger_registration_failed","message":"bad cron"}}"#,
    r#"{"type":"unregistertrigger","id":"t-1","trigger_type":"http"}"#,
    r#"{"type":"registertriggertype","id":"ticker","description":"ticks","trigger_request_format":{"type":"object"}}"#,
    r#"{"type":"registrationrejected","code":"FUNCTION_NAMESPACE_CONFLICT","namespace":"default","function_id":"c::h","owner_worker_id":"w-2"}"#,
    r#"{"type":"reattach","previous_worker_id":"w-1","reattach_token":"t"}"#,
    r#"{"type":"error","error":{"code":"AUTH_ERROR","message":"unauthorized"}}"#,
    r#"{"type":"ping"}"#,
    r#"{"function_id":"late::tag","data":[1,2,3],"type":"invokefunction","invocation_id":null}"#,
    r#"{"type":"invokefunction","invocation_id":"df67d10f-0000-4000-8000-000000000003","function_id":"f","data":{"a":1,"_caller_worker_id":"w-1","b":{"_caller_worker_id":"w-2"}}}"#,
    r#"{"type":"invokefunction","function_id":"f","data":{"_caller_worker_id":["w"],"_caller_worker_id":"w-1"},"invocation_id":null}"#,
];

fn cases() -> u32 {
    std::env::var("III_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

/// What every input must satisfy: no panic; and when it decodes, it
/// encodes, and decodes again to the same message, and the SDK's reading
/// of it (`decode_incoming`) means the same.
fn check(text: &str) {
    let _ = salvage(text);
    let tree = decode_incoming(text, |_| Shape::Tree);
    let read = decode_incoming(text, |_| Shape::Text);
    let decoded = decode(text);
    // Read as trees, exactly what decode takes (as text, a number past
    // f64's range is kept too, and fails only where it is decoded).
    assert_eq!(tree.is_ok(), decoded.is_ok(), "{text}");
    if let Ok(message) = decoded {
        for read in [tree, read] {
            let read = read.expect("what decode takes, decode_incoming takes");
            match (message.clone(), read) {
                (Message::InvocationResult(tree), Incoming::Result(read)) => {
                    let read = read.into_outcome().map(|v| v.map(ResultValue::into_value));
                    assert_eq!(tree.into_outcome(), read.map(|v| v.unwrap_or_default()));
                }
                (Message::InvokeFunction(whole), Incoming::Invoke(read)) => {
                    assert_eq!(read, IncomingInvoke::from(whole), "{text}");
                }
                (message, Incoming::Message(same)) => assert_eq!(message, same),
                (message, other) => panic!("{message:?} read as {other:?}"),
            }
        }
        let again = encode(&message).expect("what decodes encodes");
        let back: Message = decode(&again).expect("what it encodes decodes");
        assert_eq!(
            serde_json::to_value(&back).expect("json"),
            serde_json::to_value(&message).expect("json"),
            "a round trip changed {text}"
        );
    }
}

/// A mutation of a valid frame.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Replace(usize, u8),
    Duplicate(usize, usize),
    /// A value nested this deep, in place of a byte range.
    Nest(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0..2_000usize;
    prop_oneof![
        at.clone().prop_map(Mutation::Truncate),
        (at.clone(), 0..50usize).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (
            at.clone(),
            prop::collection::vec(
                prop_oneof![
                    Just(b'{'),
                    Just(b'}'),
                    Just(b'['),
                    Just(b']'),
                    Just(b'"'),
                    Just(b':'),
                    Just(b','),
                    Just(b'\\'),
                    any::<u8>()
                ],
                1..16
            )
        )
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
        (at.clone(), any::<u8>()).prop_map(|(a, b)| Mutation::Replace(a, b)),
        (at.clone(), 1..64usize).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        (at, 0..20usize, 100..3_000usize).prop_map(|(a, n, d)| Mutation::Nest(a, n, d)),
    ]
}

fn apply(frame: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = frame.to_vec();
    for m in mutations {
        let len = bytes.len();
        let at = |i: usize| if len == 0 { 0 } else { i % (len + 1) };
        match m {
            Mutation::Truncate(i) => bytes.truncate(at(*i)),
            Mutation::Delete(i, n) => {
                let start = at(*i);
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            Mutation::Insert(i, b) => {
                let start = at(*i);
                bytes.splice(start..start, b.iter().copied());
            }
            Mutation::Replace(i, b) => {
                if !bytes.is_empty() {
                    let i = i % bytes.len();
                    bytes[i] = *b;
                }
            }
            Mutation::Duplicate(i, n) => {
                let start = at(*i);
                let end = (start + n).min(bytes.len());
                let piece = bytes[start..end].to_vec();
                bytes.splice(end..end, piece);
            }
            Mutation::Nest(i, n, depth) => {
                let start = at(*i);
                let end = (start + n).min(bytes.len());
                let nested = format!("{}{}", "[".repeat(*depth), "]".repeat(*depth));
                bytes.splice(start..end, nested.into_bytes());
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_input_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_frames_never_panic_and_what_decodes_round_trips(
        frame in 0..FRAMES.len(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let bytes = apply(FRAMES[frame].as_bytes(), &mutations);
        check(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn every_seed_frame_decodes() {
    for frame in FRAMES {
        check(frame);
        assert!(decode(frame).is_ok(), "{frame}");
    }
}
