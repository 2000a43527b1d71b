//! Channels across to a worker written with the official Python SDK
//! (`iii-sdk`, tests/python/channel_peer.py): refs Rust creates opened in
//! Python, and refs Python creates opened in Rust.
//!
//! Needs a Python with `iii-sdk` 0.23 installed: `III_PYTHON` names it
//! (`.ci/run` makes one), else `python3` is tried. Without one the test
//! says so and passes, so `cargo test` works on a bare machine; with
//! `III_PYTHON` set, it fails instead.

use iii::Error;
use iii::Function;
use iii::channel::ChannelReader;
use iii_tests::peer::Peer;
use iii_tests::{engine, fid, pattern, pattern_mismatch, serve, unique};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::process::Command;

/// A Python that imports `iii` from `iii-sdk`, or why there is none.
async fn python() -> Result<String, String> {
    let python = std::env::var("III_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args([
            "-c",
            "import importlib.metadata as m, iii; print(m.version('iii-sdk'))",
        ])
        .output()
        .await
        .map_err(|e| format!("`{python}` does not run ({e})"))?;
    if !probe.status.success() {
        return Err(format!("`{python}` cannot import the iii-sdk package"));
    }
    let version = String::from_utf8_lossy(&probe.stdout).trim().to_string();
    eprintln!("interop with iii-sdk {version} from `{python}`");
    Ok(python)
}

async fn called(peer: &Peer, worker: &iii::Worker, name: &str, payload: Value) -> Value {
    peer.call(worker, name, payload)
        .await
        .unwrap_or_else(|e| panic!("calling the peer's {name}: {e}"))
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Relayed {
    data: ChannelReader,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
struct Received {
    len: usize,
    mismatch: Option<usize>,
}

#[tokio::test]
async fn channels_cross_to_and_from_a_python_worker() {
    let python = match python().await {
        Ok(python) => python,
        // A Python named explicitly (as CI does) must work: no silent skip.
        Err(why) if std::env::var_os("III_PYTHON").is_some() => {
            panic!("III_PYTHON is set, but {why}")
        }
        Err(why) => {
            eprintln!(
                "skipping the Python interop test: {why}; `pip install iii-sdk==0.23.0` and set III_PYTHON to run it"
            );
            return;
        }
    };
    let engine = engine().await;
    let worker = engine.connect("interop").await;
    let rust_sink = fid("rust::sink");
    serve(
        &worker,
        Function::new(&rust_sink, |mut input: Relayed| async move {
            let data = input.data.read_all().await?;
            Ok::<_, Error>(Received {
                len: data.len(),
                mismatch: pattern_mismatch(&data),
            })
        }),
    )
    .await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/channel_peer.py");
    let prefix = unique("py").replace('-', "_");
    let peer = Peer::start(&python, &[script], &engine.ws_url, prefix).await;
    peer.wait_served(&worker).await;
    let n = 1_000_003;

    // Rust creates, Python reads: bytes in odd sizes, and a text message.
    let mut channel = worker.create_channel().await.expect("create");
    let call = called(&peer, &worker, "sink", json!({"input": channel.reader_ref}));
    let write = async {
        channel.writer.send_text("hello from rust").await?;
        for piece in pattern(0, n).chunks(100_000) {
            channel.writer.send_bytes(piece.to_vec()).await?;
        }
        channel.writer.close().await
    };
    let (read, written) = tokio::join!(call, write);
    written.expect("write to Python");
    assert_eq!(
        read,
        json!({"len": n, "mismatch": null, "messages": ["hello from rust"]})
    );

    // Rust creates, Python writes.
    let mut channel = worker.create_channel().await.expect("create");
    let call = called(
        &peer,
        &worker,
        "source",
        json!({"output": channel.writer_ref, "n": n, "hello": "hello from python"}),
    );
    let (wrote, data) = tokio::join!(call, channel.reader.read_all());
    let data = data.expect("read from Python");
    assert_eq!(wrote, json!({"written": n}));
    assert_eq!((data.len(), pattern_mismatch(&data)), (n, None));
    assert_eq!(channel.reader.take_messages(), ["hello from python"]);

    // Python creates, Rust reads (a ref decoded into a `ChannelReader`).
    let relayed = called(
        &peer,
        &worker,
        "relay",
        json!({"target": rust_sink, "n": n}),
    )
    .await;
    assert_eq!(relayed, json!({"len": n, "mismatch": null}));

    peer.stop().await;
}
