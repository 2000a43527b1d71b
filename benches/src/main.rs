//! Call benchmark, printing figures:
//!
//! - sequential round trips (one call at a time): p50 and p99 latency;
//! - 64 calls in flight at once: calls per second, and the process's CPU
//!   time per call (engine, caller and callee together);
//!
//! for every pairing of an SDK worker and the floor: a bare protocol client,
//! one task per socket, no locks, no spawns, ids without system calls, the
//! SDK's socket settings (no Nagle, 16 KiB reads), and frames queued while
//! more are ready and flushed together.
//!
//! The engine is iii-embedded, in this process, unless `III_URL` names a
//! running engine (`III_URL=ws://127.0.0.1:49134`): then the CPU figures
//! are the workers' alone, as a user of the real engine sees them.
//!
//! Everything shares one process and the machine's cores, so wall-clock
//! figures move with whatever else the machine runs. The last line compares
//! the SDK pair with the floor round by round, which is steadier.
//!
//! "lost" counts calls with no answer within 2 s, over all rounds (the real
//! engine 0.23.0-rc.4 drops about one answer in 10,000 under load); the
//! figures leave their wait out.
//!
//! Run: `cargo run --release -p iii-benches [-- SEQUENTIAL CONCURRENT ROUNDS]`
//! (defaults 2000, 64000, 7). `III_BENCH_ONLY=N` runs only scenario N
//! (0 floor, 1 sdk -> bare, 2 bare -> sdk, 3 sdk -> sdk), for profiling;
//! `III_BENCH_TYPED=1` makes the SDK workers decode into a struct of the
//! payload's shape instead of a `serde_json::Value`: the callee its input
//! (and it encodes its output from it), the caller each result;
//! `III_BENCH_JOINED=1` makes the SDK caller keep its calls in flight from
//! one task (a `FuturesUnordered`) instead of 64 spawned tasks.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use iii::{Error, Function, Worker};
use iii_protocol::{self as protocol, Message, RegisterFunction};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;
use uuid::Uuid;

const IN_FLIGHT: usize = 64;
/// How long a call waits for its answer before it counts as lost. The real
/// engine 0.23.0-rc.4 drops about one answer in 10,000 under load (the
/// callee answered; the caller never hears): the round goes on, and the
/// figures say how many were lost.
const ANSWER_DEADLINE: Duration = Duration::from_secs(2);
const FUNCTION: &str = "bench::echo";

struct Figures {
    p50: Duration,
    p99: Duration,
    per_second: f64,
    /// Process CPU time (user + system, all threads: engine, caller and
    /// callee) per call in the concurrent phase.
    cpu_per_call: Duration,
    /// Calls with no answer within [`ANSWER_DEADLINE`].
    lost: usize,
}

mod bare;
mod cpu;
use bare::{Socket, bare_callee, bare_connect, next_id};
use cpu::cpu_time;

fn invoke_frame(id: Uuid, data: &Value) -> Frame {
    bare::invoke_frame(id, FUNCTION, data)
}

impl Figures {
    /// The figures of a run: its sorted sequential latencies, then `total`
    /// concurrent calls that took `elapsed` and `cpu_used`.
    fn of(
        latencies: &[Duration],
        total: usize,
        elapsed: Duration,
        cpu_used: Duration,
        lost: usize,
    ) -> Figures {
        Figures {
            p50: percentile(latencies, 0.5),
            p99: percentile(latencies, 0.99),
            per_second: total as f64 / elapsed.as_secs_f64(),
            // `max(1)`: a run of sequential calls only (CONCURRENT 0) has none.
            cpu_per_call: cpu_used / total.max(1) as u32,
            lost,
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        // A run of concurrent calls only (SEQUENTIAL 0) has no latencies.
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn payload() -> Value {
    json!({"order": 42, "items": ["a", "b", "c"], "note": "benchmark payload"})
}

/// Which kind of peer serves `bench::echo`.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Bare,
    Sdk,
}

/// The SDK workers' first-step budget: the default, or
/// `III_BENCH_FIRST_STEP_US` microseconds (`benches/instructions.sh` raises
/// it: under valgrind every step takes some 50 times longer, and would
/// send the echo function to tasks of their own after a few calls).
fn first_step_budget() -> std::time::Duration {
    match std::env::var("III_BENCH_FIRST_STEP_US") {
        Ok(us) => std::time::Duration::from_micros(
            us.parse().expect("III_BENCH_FIRST_STEP_US: microseconds"),
        ),
        Err(_) => std::time::Duration::from_micros(100),
    }
}

/// Starts a callee of `kind` serving the echo function; returns a guard.
async fn start_callee(url: &str, kind: Kind) -> Box<dyn std::any::Any> {
    match kind {
        Kind::Sdk => {
            let callee = Worker::builder()
                .url(url)
                .name("bench-sdk-callee")
                .first_step_budget(first_step_budget())
                .connect()
                .await
                .expect("callee");
            let echo = if typed() {
                Function::new(FUNCTION, |e: Echo| async move { Ok::<_, Error>(e) })
            } else {
                Function::new(FUNCTION, |v: Value| async move { Ok::<_, Error>(v) })
            };
            callee.register_function(echo).expect("register");
            callee.flush().await.expect("flush");
            Box::new(callee)
        }
        Kind::Bare => {
            let register = Message::RegisterFunction(RegisterFunction {
                id: FUNCTION.into(),
                description: None,
                request_format: None,
                response_format: None,
                metadata: None,
                invocation: None,
            });
            let callee = bare_connect(url, "bench-bare-callee", vec![register]).await;
            Box::new(AbortOnDrop(tokio::spawn(bare_callee(callee))))
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn stop_callee(callee: Box<dyn std::any::Any>) {
    if let Ok(worker) = callee.downcast::<Worker>() {
        worker.shutdown().await;
    }
}

async fn sdk(url: &str, callee_kind: Kind, sequential: usize, concurrent: usize) -> Figures {
    let callee = start_callee(url, callee_kind).await;
    let caller = Worker::builder()
        .url(url)
        .name("bench-sdk-caller")
        .first_step_budget(first_step_budget())
        .connect()
        .await
        .expect("caller");
    let data = payload();
    let mut lost = 0;

    for _ in 0..200 {
        lost += usize::from(!sdk_call(&caller, &data).await);
    }
    let mut latencies = Vec::with_capacity(sequential);
    for _ in 0..sequential {
        let started = Instant::now();
        if sdk_call(&caller, &data).await {
            latencies.push(started.elapsed());
        } else {
            lost += 1;
        }
    }
    latencies.sort();

    let started = Instant::now();
    let cpu = cpu_time();
    let total = concurrent / IN_FLIGHT * IN_FLIGHT;
    let (concurrent_lost, last) = if joined() {
        // In a task of its own, as the others: `main`'s thread is not one
        // of the runtime's workers, and waking it costs more.
        let (caller, data) = (caller.clone(), data.clone());
        tokio::spawn(async move { one_task_calls(&caller, &data, total).await })
            .await
            .expect("join")
    } else {
        spawned_calls(&caller, &data, total).await
    };
    lost += concurrent_lost;
    // Up to the last answer: a lost call's wait is not the SDK's time.
    let elapsed = last.max(started) - started;
    let cpu_used = cpu_time() - cpu;
    caller.shutdown().await;
    stop_callee(callee).await;
    Figures::of(&latencies, total, elapsed, cpu_used, lost)
}

/// Whether the SDK caller keeps its 64 calls in flight from one task
/// (`III_BENCH_JOINED=1`: a `FuturesUnordered`, as the floor's one loop)
/// rather than from 64 spawned tasks.
fn joined() -> bool {
    static JOINED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *JOINED.get_or_init(|| std::env::var("III_BENCH_JOINED").is_ok_and(|v| v == "1"))
}

/// `total` calls made by [`IN_FLIGHT`] spawned tasks, each making one at
/// a time: how many were lost, and when the last answer came.
async fn spawned_calls(caller: &Worker, data: &Value, total: usize) -> (usize, Instant) {
    // The tasks share the calls to make, so one waiting for a lost answer
    // holds up no others.
    let left = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(total));
    let tasks: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let caller = caller.clone();
            let data = data.clone();
            let left = left.clone();
            tokio::spawn(async move {
                let mut lost = 0;
                let mut last = Instant::now();
                let take = || {
                    left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                        .is_ok()
                };
                while take() {
                    if sdk_call(&caller, &data).await {
                        last = Instant::now();
                    } else {
                        lost += 1;
                    }
                }
                (lost, last)
            })
        })
        .collect();
    let (mut lost, mut finished) = (0, None);
    for task in tasks {
        let (task_lost, last) = task.await.expect("join");
        lost += task_lost;
        finished = finished.max(Some(last));
    }
    (lost, finished.unwrap_or_else(Instant::now))
}

/// `total` calls, [`IN_FLIGHT`] at a time, all polled by one task:
/// how many were lost, and when the last answer came.
async fn one_task_calls(caller: &Worker, data: &Value, total: usize) -> (usize, Instant) {
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    let mut started = 0;
    let mut lost = 0;
    let mut last = Instant::now();
    while started < total.min(IN_FLIGHT) {
        in_flight.push(sdk_call(caller, data));
        started += 1;
    }
    while let Some(answered) = in_flight.next().await {
        if answered {
            last = Instant::now();
        } else {
            lost += 1;
        }
        if started < total {
            in_flight.push(sdk_call(caller, data));
            started += 1;
        }
    }
    (lost, last)
}

/// The payload's shape, for workers that decode into their own type
/// (`III_BENCH_TYPED=1`), as most do: the SDK callee's input and output,
/// and the result the SDK caller decodes.
#[derive(serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
struct Echo {
    order: u64,
    items: Vec<String>,
    note: String,
}

/// Whether the SDK workers decode into [`Echo`] (`III_BENCH_TYPED=1`)
/// rather than into a `serde_json::Value`.
fn typed() -> bool {
    static TYPED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TYPED.get_or_init(|| std::env::var("III_BENCH_TYPED").is_ok_and(|v| v == "1"))
}

/// One echo call through the SDK: `false` if no answer came in time.
async fn sdk_call(caller: &Worker, data: &Value) -> bool {
    let call = caller
        .invoke(FUNCTION)
        .payload(data)
        .timeout(ANSWER_DEADLINE);
    let answer = if typed() {
        call.call::<Echo>().await.map(drop)
    } else {
        call.call::<Value>().await.map(drop)
    };
    match answer {
        Ok(()) => true,
        Err(Error::Timeout { .. }) => false,
        Err(e) => panic!("call failed: {e}"),
    }
}

/// The answer to `id`, skipping answers to calls already counted as lost;
/// `false` if it did not come within [`ANSWER_DEADLINE`].
async fn result_for(socket: &mut Socket, id: Uuid) -> bool {
    let wait = async { while next_result(socket).await != id {} };
    tokio::time::timeout(ANSWER_DEADLINE, wait).await.is_ok()
}

async fn next_result(socket: &mut Socket) -> Uuid {
    loop {
        let frame = socket.next().await.expect("open").expect("frame");
        if let Frame::Text(text) = frame
            && let Ok(Message::InvocationResult(r)) = protocol::decode(&text)
        {
            return r.invocation_id;
        }
    }
}

async fn bare(url: &str, callee_kind: Kind, sequential: usize, concurrent: usize) -> Figures {
    let callee = start_callee(url, callee_kind).await;
    let mut caller = bare_connect(url, "bench-bare-caller", Vec::new()).await;
    let data = payload();
    let mut lost = 0;

    for _ in 0..200 {
        let id = next_id();
        caller.send(invoke_frame(id, &data)).await.expect("send");
        lost += usize::from(!result_for(&mut caller, id).await);
    }
    let mut latencies = Vec::with_capacity(sequential);
    for _ in 0..sequential {
        let started = Instant::now();
        let id = next_id();
        caller.send(invoke_frame(id, &data)).await.expect("send");
        if result_for(&mut caller, id).await {
            latencies.push(started.elapsed());
        } else {
            lost += 1;
        }
    }
    latencies.sort();

    // Keep IN_FLIGHT calls outstanding on the one socket.
    let started = Instant::now();
    let cpu = cpu_time();
    let total = concurrent / IN_FLIGHT * IN_FLIGHT;
    let mut outstanding: HashMap<Uuid, ()> = HashMap::new();
    let mut sent = 0;
    while sent < IN_FLIGHT.min(total) {
        let id = next_id();
        outstanding.insert(id, ());
        caller.feed(invoke_frame(id, &data)).await.expect("send");
        sent += 1;
    }
    caller.flush().await.expect("flush");
    let mut done = 0;
    let mut finished = started;
    while done < total {
        // One result, then every result already read; a new call is queued
        // for each, and they go out in one flush.
        let Ok(first) = tokio::time::timeout(ANSWER_DEADLINE, next_result(&mut caller)).await
        else {
            // Nothing came for a while: what is still out is lost.
            lost += outstanding.len() + (total - sent);
            break;
        };
        finished = Instant::now();
        let mut ready = Some(first);
        while let Some(id) = ready.take() {
            if outstanding.remove(&id).is_some() {
                done += 1;
                if sent < total {
                    let id = next_id();
                    outstanding.insert(id, ());
                    caller.feed(invoke_frame(id, &data)).await.expect("send");
                    sent += 1;
                }
            }
            if done < total {
                ready = next_result(&mut caller).now_or_never();
            }
        }
        caller.flush().await.expect("flush");
    }
    let elapsed = finished - started;
    let cpu_used = cpu_time() - cpu;
    let _ = caller.close(None).await;
    stop_callee(callee).await;
    Figures::of(&latencies, total, elapsed, cpu_used, lost)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("a number"));
    let sequential = args.next().unwrap_or(2_000);
    let concurrent = args.next().unwrap_or(64_000);
    let rounds = args.next().unwrap_or(7);
    // III_URL names a running engine (the real one, say): the figures are
    // then the client's alone, since the engine runs in another process.
    let (engine, url) = match std::env::var("III_URL") {
        Ok(url) if !url.is_empty() => (None, url),
        _ => {
            let engine = iii_embedded::Engine::start().await.expect("engine");
            let url = engine.ws_url();
            (Some(engine), url)
        }
    };
    let on = if engine.is_some() {
        "iii-embedded (in this process: CPU figures include the engine)".to_string()
    } else {
        format!("the engine at {url} (CPU figures: the workers only)")
    };
    println!(
        "iii call benchmark on {on}: {sequential} sequential calls, {concurrent} calls {IN_FLIGHT} in flight, \
         medians of {rounds} alternating rounds"
    );
    let scenarios = [
        ("bare -> bare (floor)", Kind::Bare, Kind::Bare),
        ("sdk -> bare", Kind::Sdk, Kind::Bare),
        ("bare -> sdk", Kind::Bare, Kind::Sdk),
        ("sdk -> sdk", Kind::Sdk, Kind::Sdk),
    ];
    let only: Option<usize> = std::env::var("III_BENCH_ONLY")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut results: Vec<Vec<Figures>> = scenarios.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (i, (_, caller, callee)) in scenarios.iter().enumerate() {
            if only.is_some_and(|o| o != i) {
                continue;
            }
            let figures = match caller {
                Kind::Bare => bare(&url, *callee, sequential, concurrent).await,
                Kind::Sdk => sdk(&url, *callee, sequential, concurrent).await,
            };
            results[i].push(figures);
        }
    }
    println!(
        "{:<22} {:>10} {:>10} {:>14} {:>14} {:>6}",
        "caller -> callee", "p50", "p99", "calls/s @64", "CPU/call @64", "lost"
    );
    let mut throughput = Vec::new();
    let mut cpu = Vec::new();
    for ((name, _, _), runs) in scenarios.iter().zip(&results) {
        if runs.is_empty() {
            throughput.push(f64::NAN);
            cpu.push(f64::NAN);
            continue;
        }
        let p50 = median(runs.iter().map(|f| f.p50.as_secs_f64()).collect());
        let p99 = median(runs.iter().map(|f| f.p99.as_secs_f64()).collect());
        let per_second = median(runs.iter().map(|f| f.per_second).collect());
        let per_call = median(runs.iter().map(|f| f.cpu_per_call.as_secs_f64()).collect());
        throughput.push(per_second);
        cpu.push(per_call);
        let lost: usize = runs.iter().map(|f| f.lost).sum();
        println!(
            "{name:<22} {:>10.1?} {:>10.1?} {:>14.0} {:>14.1?} {lost:>6}",
            Duration::from_secs_f64(p50),
            Duration::from_secs_f64(p99),
            per_second,
            Duration::from_secs_f64(per_call),
        );
    }
    println!(
        "sdk -> sdk / floor: throughput {:.2}x, CPU per call {:.2}x (medians)",
        throughput[3] / throughput[0],
        cpu[3] / cpu[0]
    );
    if results[0].len() == results[3].len() && !results[0].is_empty() {
        // Rounds alternate scenarios, so each round's ratio compares runs
        // made seconds apart: steadier than a ratio of medians on a shared box.
        let ratios: Vec<f64> = results[3]
            .iter()
            .zip(&results[0])
            .map(|(sdk, floor)| sdk.per_second / floor.per_second)
            .collect();
        let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "sdk -> sdk / floor throughput per round: {} (median {:.2}x)",
            shown.join(" "),
            median(ratios.clone())
        );
    }
    if let Some(engine) = engine {
        engine.shutdown().await;
    }
}
