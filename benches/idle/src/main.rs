//! Memory of a connected worker, in a binary shaped as a user's worker:
//! the SDK with its default features and tokio (this crate is kept out of
//! the workspace so that nothing else is linked in).
//!
//! - idle: one worker serving an echo function, settled after one call:
//!   its resident set size (VmRSS), its peak (VmHWM) and, from
//!   `/proc/self/smaps_rollup`, the part that is its own (private dirty:
//!   heap, stacks, written data) beside the pages of the binary and of
//!   libc it touched (clean, mapped from files, shared with every process
//!   running the same files);
//! - in flight (the SDK only): the heap one more invocation holds while
//!   its handler waits, counted by the global allocator over 1,000
//!   invocations held at once (after a first round of as many, so that
//!   buffers which only grow are grown already). The calls come from a
//!   bare client in this process, which keeps nothing per call.
//!
//! `iii-idle bare` measures the floor the same way (idle only): a bare
//! protocol client (the call benchmark's `benches/src/bare.rs`) in this
//! same binary, so that both figures count the same binary's pages.
//!
//! The engine is `III_URL`'s, and the figures are the worker's alone. Built
//! with `--features embedded`, the probe starts iii-embedded in this
//! process when `III_URL` is not set; the engine is then counted too.
//!
//! Run: `III_URL=ws://127.0.0.1:49134 cargo run --release --manifest-path benches/idle/Cargo.toml [-- bare]`
//! (or `tests/engine/run cargo run ...`, which starts the real engine).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use iii::{Error, Function, Worker};
use iii_protocol::{self as protocol, Message, RegisterFunction};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message as Frame;

// The floor's client; the call benchmark uses all of it, this probe a part.
#[allow(dead_code)]
#[path = "../../src/bare.rs"]
mod bare;

#[global_allocator]
static HEAP: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// Invocations held at once for the in-flight figure.
const HELD: usize = 1_000;
/// How long any one wait may take before the probe gives up.
const DEADLINE: Duration = Duration::from_secs(20);

fn status(field: &str) -> String {
    proc_field("/proc/self/status", field)
}

fn proc_field(file: &str, field: &str) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l[field.len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The input every call carries: the call benchmark's payload.
fn payload() -> Value {
    json!({"order": 42, "items": ["a", "b", "c"], "note": "benchmark payload"})
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let before = status("VmRSS:");
    let floor = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("bare") => true,
        Some(other) => {
            eprintln!("unknown mode {other:?}: give nothing (the SDK) or `bare` (the floor)");
            std::process::exit(2);
        }
    };
    let (engine, url) = match std::env::var("III_URL") {
        Ok(url) if !url.is_empty() => (None, url),
        _ => start_embedded().await?,
    };
    let on = match &engine {
        Some(_) => "iii-embedded, in this process".to_string(),
        None => url.clone(),
    };
    let who = if floor { "floor (bare client)" } else { "SDK" };
    let held = if floor {
        bare_idle(&url).await;
        None
    } else {
        Some(sdk_idle(&url).await?)
    };
    println!(
        "idle {who} worker on {on}: RSS {} (at main: {before}), peak {}; private dirty {}, file-backed pages (PSS) {}; heap in use {} kB",
        status("VmRSS:"),
        status("VmHWM:"),
        proc_field("/proc/self/smaps_rollup", "Private_Dirty:"),
        proc_field("/proc/self/smaps_rollup", "Pss_File:"),
        HEAP.allocated() / 1024,
    );
    if let Some((worker, gate, entered)) = held {
        let frame_len = bare::invoke_frame(bare::next_id(), "idle::hold", &payload()).len();
        let caller = bare::bare_connect(&url, "idle-caller", Vec::new()).await;
        let (caller, _) = hold_round(caller, &gate, &entered).await;
        let (_, per_call) = hold_round(caller, &gate, &entered).await;
        println!(
            "heap per invocation in flight ({HELD} held at once, handler waiting on its input, \
             {frame_len}-byte invokefunction frames): {per_call} bytes{}",
            if engine.is_some() {
                " (iii-embedded's share included)"
            } else {
                ""
            }
        );
        worker.shutdown().await;
    }
    if let Some(engine) = engine {
        engine.shutdown().await;
    }
    Ok(())
}

#[cfg(feature = "embedded")]
type Engine = iii_embedded::Engine;
#[cfg(not(feature = "embedded"))]
enum Engine {}

#[cfg(not(feature = "embedded"))]
impl Engine {
    async fn shutdown(self) {
        match self {}
    }
}

/// The in-process engine, when the probe was built with it.
#[cfg(feature = "embedded")]
async fn start_embedded() -> Result<(Option<Engine>, String), Box<dyn std::error::Error>> {
    let engine = iii_embedded::Engine::start().await?;
    let url = engine.ws_url();
    Ok((Some(engine), url))
}

#[cfg(not(feature = "embedded"))]
async fn start_embedded() -> Result<(Option<Engine>, String), Box<dyn std::error::Error>> {
    Err(
        "no engine: set III_URL (tests/engine/run starts the real one), \
         or build with `--features embedded` to start iii-embedded in this process"
            .into(),
    )
}

/// What holds invocations in flight: the gate their handler waits at, and
/// how many have entered it.
type Held = (Worker, Arc<Semaphore>, Arc<AtomicUsize>);

/// An SDK worker serving an echo function, settled after one call, and
/// serving `idle::hold` (waits at the gate, then echoes).
async fn sdk_idle(url: &str) -> Result<Held, Box<dyn std::error::Error>> {
    let worker = Worker::builder().url(url).name("idle").connect().await?;
    worker.register_function(Function::new("idle::echo", |v: Value| async move {
        Ok::<_, Error>(v)
    }))?;
    let gate = Arc::new(Semaphore::new(0));
    let entered = Arc::new(AtomicUsize::new(0));
    let (g, e) = (gate.clone(), entered.clone());
    worker.register_function(Function::new("idle::hold", move |v: Value| {
        let (gate, entered) = (g.clone(), e.clone());
        async move {
            entered.fetch_add(1, Ordering::SeqCst);
            gate.acquire().await.expect("open").forget();
            Ok::<_, Error>(v)
        }
    }))?;
    worker.flush().await?;
    let _: Value = worker.call("idle::echo", &json!({"n": 1})).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok((worker, gate, entered))
}

/// A bare client serving the echo function, settled after one call to it.
async fn bare_idle(url: &str) {
    let register = Message::RegisterFunction(RegisterFunction {
        id: "idle::echo".into(),
        description: None,
        request_format: None,
        response_format: None,
        metadata: None,
        invocation: None,
    });
    let mut socket = bare::bare_connect(url, "idle-bare", vec![register]).await;
    let id = bare::next_id();
    let call = bare::invoke_frame(id, "idle::echo", &json!({"n": 1}));
    socket.send(call).await.expect("send");
    // Answer the invocation the call becomes, until the call's own answer.
    loop {
        let frame = socket.next().await.expect("open").expect("frame");
        if let Frame::Text(text) = &frame
            && let Ok(Message::InvocationResult(r)) = protocol::decode(text)
            && r.invocation_id == id
        {
            break;
        }
        if let Some(reply) = bare::bare_answer(frame) {
            socket.send(reply).await.expect("send");
        }
    }
    tokio::spawn(bare::bare_callee(socket));
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// Sends [`HELD`] calls to `idle::hold`, waits until every handler waits
/// at the gate, reads the heap, opens the gate and waits for every answer.
/// Returns the socket and the heap each held invocation added.
async fn hold_round(
    mut caller: bare::Socket,
    gate: &Semaphore,
    entered: &AtomicUsize,
) -> (bare::Socket, isize) {
    entered.store(0, Ordering::SeqCst);
    let data = payload();
    let mut ids = std::collections::HashSet::with_capacity(HELD);
    let before = HEAP.allocated() as isize;
    for _ in 0..HELD {
        let id = bare::next_id();
        ids.insert(id);
        caller
            .feed(bare::invoke_frame(id, "idle::hold", &data))
            .await
            .expect("send");
    }
    caller.flush().await.expect("flush");
    let started = Instant::now();
    while entered.load(Ordering::SeqCst) < HELD {
        assert!(
            started.elapsed() < DEADLINE,
            "only {} of {HELD} invocations reached their handler in {DEADLINE:?}",
            entered.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let during = HEAP.allocated() as isize;
    gate.add_permits(HELD);
    let answered = tokio::time::timeout(DEADLINE, async {
        while !ids.is_empty() {
            let frame = caller.next().await.expect("open").expect("frame");
            if let Frame::Text(text) = frame
                && let Ok(Message::InvocationResult(r)) = protocol::decode(&text)
            {
                ids.remove(&r.invocation_id);
            }
        }
    })
    .await;
    assert!(answered.is_ok(), "{} calls were not answered", ids.len());
    (caller, (during - before) / HELD as isize)
}
