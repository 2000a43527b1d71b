//! Soak: 1,000,000 calls, 64 in flight, between two workers on
//! iii-embedded (or the engine at `III_URL`), counting the calls answered,
//! lost (an error or no answer) and doubled (run twice by the callee),
//! and the process's resident memory before, at the peak and after. Each
//! lost call is printed with its error, which names its invocation id for
//! the engine's log. Not run by CI.
//!
//! Run: `cargo run --release -p iii-benches --bin iii-soak [-- CALLS]`;
//! `III_SOAK_TIMEOUT_MS` sets the per-call timeout (default 30 s).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use iii::{Error, Function, Worker};

mod cpu;

const IN_FLIGHT: u64 = 64;

fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

#[tokio::main]
async fn main() {
    let calls: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let external = std::env::var("III_URL").ok();
    let engine = match external {
        Some(_) => None,
        None => Some(iii_embedded::Engine::start().await.expect("engine")),
    };
    let url = external.unwrap_or_else(|| engine.as_ref().expect("engine").ws_url());
    let on = if engine.is_some() {
        "iii-embedded"
    } else {
        url.as_str()
    };
    let timeout = std::env::var("III_SOAK_TIMEOUT_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(30), Duration::from_millis);
    let connect = |name: &'static str| {
        Worker::builder()
            .url(&url)
            .name(name)
            .default_timeout(timeout)
            .connect()
    };
    let callee = connect("soak-callee").await.expect("callee");
    let caller = connect("soak-caller").await.expect("caller");
    // One bit per call: set when the callee runs it; a bit already set is a
    // call run twice.
    let seen: Arc<Vec<AtomicU64>> =
        Arc::new((0..calls.div_ceil(64)).map(|_| AtomicU64::new(0)).collect());
    let doubled = Arc::new(AtomicU64::new(0));
    let (s, d) = (seen.clone(), doubled.clone());
    callee
        .register_function(Function::new("soak::echo", move |n: u64| {
            let (seen, doubled) = (s.clone(), d.clone());
            async move {
                let bit = 1u64 << (n % 64);
                if let Some(word) = seen.get((n / 64) as usize)
                    && word.fetch_or(bit, Ordering::Relaxed) & bit != 0
                {
                    doubled.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, Error>(n)
            }
        }))
        .expect("register");
    callee.flush().await.expect("flush");
    // Warm up, then measure from a settled process.
    for n in 0..1000 {
        let _: u64 = caller
            .call("soak::echo", &(calls + n))
            .await
            .expect("warm-up");
    }
    let before = rss_mib();
    let cpu_before = cpu::cpu_time();
    let started = Instant::now();
    let (answered, lost, wrong) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let peak = Arc::new(AtomicU64::new(before));
    let next = Arc::new(AtomicU64::new(0));
    let lanes: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (caller, next, answered, lost, wrong, peak) = (
                caller.clone(),
                next.clone(),
                answered.clone(),
                lost.clone(),
                wrong.clone(),
                peak.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= calls {
                        return;
                    }
                    match caller.call::<u64, _>("soak::echo", &n).await {
                        Ok(m) if m == n => answered.fetch_add(1, Ordering::Relaxed),
                        Ok(_) => wrong.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            eprintln!("call {n} lost: {e}");
                            lost.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                    if n % 50_000 == 0 {
                        peak.fetch_max(rss_mib(), Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for lane in lanes {
        lane.await.expect("lane");
    }
    let elapsed = started.elapsed();
    let cpu = cpu::cpu_time() - cpu_before;
    let never_ran = seen
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let bits = w.load(Ordering::Relaxed);
            let valid = (calls - i as u64 * 64).min(64);
            let mask = if valid == 64 {
                u64::MAX
            } else {
                (1u64 << valid) - 1
            };
            u64::from((bits & mask).count_ones() as u8).abs_diff(valid)
        })
        .sum::<u64>();
    caller.shutdown().await;
    callee.shutdown().await;
    let after = rss_mib();
    println!(
        "iii soak on {on}: {calls} calls, {IN_FLIGHT} in flight, in {:.1} s ({:.0} calls/s, {:.1} µs CPU per call)",
        elapsed.as_secs_f64(),
        calls as f64 / elapsed.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / calls as f64
    );
    println!(
        "answered {}, lost {}, wrong answer {}, doubled {}, never ran {}",
        answered.load(Ordering::Relaxed),
        lost.load(Ordering::Relaxed),
        wrong.load(Ordering::Relaxed),
        doubled.load(Ordering::Relaxed),
        never_ran
    );
    println!(
        "resident memory: {before} MiB before, {} MiB at the peak sampled, {after} MiB after the workers shut down",
        peak.load(Ordering::Relaxed)
    );
    if let Some(engine) = engine {
        engine.shutdown().await;
    }
}
