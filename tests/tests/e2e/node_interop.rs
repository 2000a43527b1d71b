//! Calls and channels across to a worker written with the official Node
//! SDK (npm `iii-sdk` 0.22.1, the newest the registry serves;
//! tests/node/peer.mjs): values and error codes both ways, and channel
//! bytes both ways.
//!
//! Needs Node.js (`III_NODE` names it, else `node`) and the peer's
//! packages: `npm ci` in tests/node (`.ci/run` does it). Without them the
//! test says so and passes, so `cargo test` works on a bare machine; with
//! `III_NODE` set, it fails instead.

use iii::channel::ChannelReader;
use iii::{Error, Function, Worker};
use iii_tests::peer::Peer;
use iii_tests::{engine, fid, pattern, pattern_mismatch, serve, unique};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::process::Command;

const PEER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/node");

/// A Node.js that runs, with the peer's packages installed, or why not.
async fn node() -> Result<String, String> {
    let node = std::env::var("III_NODE").unwrap_or_else(|_| "node".into());
    let probe = Command::new(&node)
        .arg("--version")
        .output()
        .await
        .map_err(|e| format!("`{node}` does not run ({e})"))?;
    if !probe.status.success() {
        return Err(format!("`{node} --version` failed"));
    }
    let manifest = format!("{PEER_DIR}/node_modules/iii-sdk/package.json");
    let manifest = std::fs::read_to_string(&manifest)
        .map_err(|_| format!("the peer's packages are not installed ({manifest} is missing)"))?;
    let version = serde_json::from_str::<Value>(&manifest)
        .ok()
        .and_then(|m| m["version"].as_str().map(String::from))
        .unwrap_or_else(|| "?".into());
    eprintln!(
        "interop with iii-sdk {version} (npm) on Node {}",
        String::from_utf8_lossy(&probe.stdout).trim()
    );
    Ok(node)
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Upload {
    data: ChannelReader,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
struct Received {
    len: usize,
    mismatch: Option<usize>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Charge {
    #[allow(dead_code)] // read by the decoder: its type is what is tested
    amount: u64,
}

/// Serves the Rust functions the Node worker calls; returns their ids:
/// echo, fail, typed and sink.
async fn serve_rust(worker: &Worker) -> [String; 4] {
    let ids = [
        fid("rust::echo"),
        fid("rust::fail"),
        fid("rust::typed"),
        fid("rust::sink"),
    ];
    serve(
        worker,
        Function::new(&ids[0], |v: Value| async move { Ok::<_, Error>(v) }),
    )
    .await;
    serve(
        worker,
        Function::new(&ids[1], |_: Value| async move {
            Err::<(), _>(Error::new("card_declined", "insufficient funds ✗"))
        }),
    )
    .await;
    serve(
        worker,
        Function::new(
            &ids[2],
            |_: Charge| async move { Ok::<_, Error>("charged") },
        ),
    )
    .await;
    serve(
        worker,
        Function::new(&ids[3], |mut upload: Upload| async move {
            let data = upload.data.read_all().await?;
            Ok::<_, Error>(Received {
                len: data.len(),
                mismatch: pattern_mismatch(&data),
            })
        }),
    )
    .await;
    ids
}

/// `value` without the `_caller_worker_id` the engine adds to objects,
/// and what it was.
fn without_caller(mut value: Value) -> (Value, Option<Value>) {
    let caller = value
        .as_object_mut()
        .and_then(|o| o.remove(iii_protocol::CALLER_WORKER_ID));
    (value, caller)
}

#[tokio::test]
async fn a_node_worker_and_a_rust_worker_call_each_other() {
    let node = match node().await {
        Ok(node) => node,
        // A Node named explicitly (as CI does) must work: no silent skip.
        Err(why) if std::env::var_os("III_NODE").is_some() => {
            panic!("III_NODE is set, but {why}")
        }
        Err(why) => {
            eprintln!(
                "skipping the Node interop test: {why}; run `npm ci` in tests/node (and set III_NODE if `node` is elsewhere)"
            );
            return;
        }
    };
    let engine = engine().await;
    let worker = engine.connect("node-interop").await;
    let [echo, fail, typed, sink] = serve_rust(&worker).await;
    let script = format!("{PEER_DIR}/peer.mjs");
    let prefix = unique("node").replace('-', "_");
    let peer = Peer::start(&node, &[&script], &engine.ws_url, prefix).await;
    peer.wait_served(&worker).await;

    // Rust calls Node: values come back as sent (numbers within 2^53:
    // Node's numbers are doubles).
    let values = [
        json!({"a": {"b": [1, 2, {"c": null}]}, "s": "héllo ✓ 😀 \u{0} \"q\"", "n": -0.5, "t": true}),
        json!([1, "two", [3], {"four": 4}, null]),
        json!("just a string ✓"),
        json!(9_007_199_254_740_991_i64),
        json!(null),
    ];
    for value in values {
        let answer = peer.call(&worker, "echo", value.clone()).await;
        let (echoed, caller) = without_caller(answer.expect("echo from Node"));
        assert_eq!(echoed, value);
        if value.is_object() {
            // The engine told the Node worker who called.
            assert_eq!(caller, worker.worker_id().map(Value::String));
        }
    }

    // A Node handler's error reaches Rust: the Node SDK sends every thrown
    // error as `invocation_failed` with the thrown message.
    let failed = peer
        .call(
            &worker,
            "fail",
            json!({"code": "E_CUSTOM", "message": "it broke ✗"}),
        )
        .await;
    match failed {
        Err(Error::Remote { body, .. }) => {
            assert_eq!(
                (body.code.as_str(), body.message.as_str()),
                ("invocation_failed", "it broke ✗")
            );
        }
        other => panic!("expected the Node error, got {other:?}"),
    }

    // Node calls Rust: the value, the handler's own error code, and the
    // SDK's refusal of input that does not decode, naming the field.
    let payload = json!({"order": 7, "items": ["a", "b"], "note": "ünïcode"});
    let called = peer
        .call(&worker, "call", json!({"target": echo, "payload": payload}))
        .await
        .expect("Node calls Rust");
    assert_eq!(called, json!({"ok": payload}));
    let called = peer
        .call(&worker, "call", json!({"target": fail, "payload": {}}))
        .await
        .expect("Node calls Rust");
    assert_eq!(
        called,
        json!({"error": {"code": "card_declined", "message": "card_declined: insufficient funds ✗"}})
    );
    let called = peer
        .call(
            &worker,
            "call",
            json!({"target": typed, "payload": {"amount": "ten"}}),
        )
        .await
        .expect("Node calls Rust");
    assert_eq!(called["error"]["code"], "deserialization_error", "{called}");
    let message = called["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("amount"), "the field is named: {message}");

    // A channel Rust creates: Node reads what Rust writes...
    let n = 1_000_003;
    let mut channel = worker.create_channel().await.expect("create");
    let read = peer.call(&worker, "sink", json!({"input": channel.reader_ref}));
    let write = async {
        channel.writer.send_text("hello from rust").await?;
        for piece in pattern(0, n).chunks(100_000) {
            channel.writer.send_bytes(piece.to_vec()).await?;
        }
        channel.writer.close().await
    };
    let (read, written) = tokio::join!(read, write);
    written.expect("write to Node");
    assert_eq!(
        read.expect("Node reads"),
        json!({"len": n, "mismatch": null, "messages": ["hello from rust"]})
    );

    // ...and Rust reads what Node writes, through a Rust function that
    // takes the reader as its input.
    let channel = worker.create_channel().await.expect("create");
    let wrote = peer.call(
        &worker,
        "source",
        json!({"output": channel.writer_ref, "n": n, "hello": "hello from node"}),
    );
    let upload = json!({"data": channel.reader_ref});
    let relayed = worker.call::<Received, _>(&sink, &upload);
    let (wrote, relayed) = tokio::join!(wrote, relayed);
    assert_eq!(wrote.expect("Node writes"), json!({"written": n}));
    assert_eq!(
        relayed.expect("Rust reads"),
        Received {
            len: n,
            mismatch: None
        }
    );

    peer.stop().await;
}
