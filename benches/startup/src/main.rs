//! Prints the time from `main` to every linked function registered (the
//! engine acknowledged the worker's announcement, which it processes after
//! the registrations) with 1,000 `#[iii::function]`s, each with an HTTP
//! trigger. The engine is iii-embedded, started in this process, unless
//! `III_URL` names a running one (the real engine, say). It prints the
//! process's page faults by then too (the engine's among them when it runs
//! in this process): each first touch of a page costs microseconds. Built
//! with `III_BENCH_PLAIN=3`, it measures the floor instead: a bare protocol
//! client registering the same functions and routes (`bare.rs`).

use std::time::Instant;

mod bare;

include!(concat!(env!("OUT_DIR"), "/functions.rs"));

/// A handler's future as a worker runs it, boxed and its type erased: the
/// build floor makes one per function (and never polls it).
pub type Handled = std::pin::Pin<Box<dyn std::future::Future<Output = u64> + Send>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    if !FLOOR.is_empty() {
        // The build floor (III_BENCH_PLAIN=2): use the table, so that it is
        // compiled; there is nothing to measure at run time.
        let used = FLOOR
            .iter()
            .map(|f| f(serde_json::Value::Null).0.is_some() as usize)
            .sum::<usize>();
        println!("build floor: {} input types, {used} decoded", FLOOR.len());
        return Ok(());
    }
    let engine = match std::env::var("III_URL") {
        Ok(url) if !url.is_empty() => Err(url),
        _ => Ok(iii_embedded::Engine::start().await?),
    };
    let engine_up = started.elapsed();
    let url = match &engine {
        Ok(engine) => engine.ws_url(),
        Err(url) => url.clone(),
    };
    if !BARE.is_empty() {
        bare::run(&url, BARE, started, engine_up).await;
        if let Ok(engine) = engine {
            engine.shutdown().await;
        }
        return Ok(());
    }
    let worker = iii::Worker::builder()
        .url(&url)
        .name("startup")
        .connect()
        .await?;
    let registered = started.elapsed();
    let faults = minor_faults();
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l[6..].trim().to_string())
        })
        .unwrap_or_default();
    let listed = worker.list_functions().await?.len();
    println!(
        "{} linked functions on {}; engine up after {engine_up:?}; all registered and announced after {registered:?} ({faults} page faults); engine lists {listed}; RSS {rss}",
        iii::linked::functions().count(),
        if engine.is_ok() {
            "iii-embedded"
        } else {
            url.as_str()
        },
    );
    worker.shutdown().await;
    if let Ok(engine) = engine {
        engine.shutdown().await;
    }
    Ok(())
}

/// The process's minor page faults so far (`/proc/self/stat`, Linux; 0
/// elsewhere): each first touch of a page of memory, a few microseconds of
/// kernel time apiece on a small virtual machine, so a large part of
/// start-up's CPU.
pub fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // The fields after the command name, which is in parentheses
            // and may hold spaces; `minflt` is the tenth field of the line.
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}
