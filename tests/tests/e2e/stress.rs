//! Frames raced from many tasks reach the engine promptly: none of them
//! waits for a later, unrelated write to carry it out.
//!
//! Each round races handler answers, calls and registrations from many
//! tasks, then goes quiet. A frame left behind in a queue would only go out
//! with the next write (the keepalive, 20 s later), so the round's wait for
//! it fails; a frame that arrives more than [`LATE`] after its sender was
//! done fails the lateness check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iii::{Error, Function, Worker};
use iii_protocol::Message;
use iii_tests::fake::{FakeEngine, Mode};
use serde_json::json;

const ROUNDS: usize = 1000;
const PER_KIND: usize = 16;
const LATE: Duration = Duration::from_millis(100);

/// Which frame a raced send produced, and when its sender was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Sent {
    Answer(i64),
    Call(i64),
    Register(i64),
}

fn identify(message: &Message) -> Option<Sent> {
    match message {
        Message::InvocationResult(r) if r.function_id == "stress::echo" => {
            r.result.as_ref()?.as_i64().map(Sent::Answer)
        }
        Message::InvokeFunction(i) if i.function_id == "stress::void" => {
            i.data.as_i64().map(Sent::Call)
        }
        Message::RegisterFunction(f) => {
            f.id.strip_prefix("stress::f")
                .and_then(|n| n.parse().ok())
                .map(Sent::Register)
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_frame_waits_for_a_later_write() {
    let fake = FakeEngine::start(Mode::Normal).await;
    let worker = Worker::builder()
        .url(&fake.url)
        .name("stress")
        .connect()
        .await
        .expect("connect");
    let done: Arc<Mutex<HashMap<Sent, Instant>>> = Arc::default();
    let answered = done.clone();
    worker
        .register_function(Function::new("stress::echo", move |n: i64| {
            let answered = answered.clone();
            async move {
                answered
                    .lock()
                    .expect("lock")
                    .insert(Sent::Answer(n), Instant::now());
                Ok::<_, Error>(n)
            }
        }))
        .expect("register");
    worker.flush().await.expect("flush");

    let mut worst = Duration::ZERO;
    for round in 0..ROUNDS {
        let start = fake.inspect(0, |c| c.map_or(0, |c| c.frames.len()));
        let first = (round * PER_KIND) as i64;
        let numbers = first..first + PER_KIND as i64;
        for n in numbers.clone() {
            fake.push(
                json!({"type": "invokefunction", "invocation_id": uuid(n), "function_id": "stress::echo", "data": n})
                    .to_string(),
            );
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(2 * PER_KIND));
        let mut tasks = tokio::task::JoinSet::new();
        for n in numbers.clone() {
            let (w, b, d) = (worker.clone(), barrier.clone(), done.clone());
            tasks.spawn(async move {
                b.wait().await;
                w.invoke("stress::void")
                    .payload(&n)
                    .void()
                    .await
                    .expect("void call");
                d.lock()
                    .expect("lock")
                    .insert(Sent::Call(n), Instant::now());
            });
            let (w, b, d) = (worker.clone(), barrier.clone(), done.clone());
            tasks.spawn(async move {
                b.wait().await;
                w.register_function(Function::new(
                    format!("stress::f{n}"),
                    |x: i64| async move { Ok::<_, Error>(x) },
                ))
                .expect("register");
                d.lock()
                    .expect("lock")
                    .insert(Sent::Register(n), Instant::now());
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.expect("task");
        }

        // The round is quiet now: every frame must arrive without help.
        let expected = 3 * PER_KIND;
        let deadline = Instant::now() + Duration::from_secs(2);
        let arrivals = loop {
            let arrivals: Vec<(Sent, Instant)> = fake.inspect(0, |c| {
                let c = c.expect("connection");
                c.frames[start..]
                    .iter()
                    .zip(&c.arrived[start..])
                    .filter_map(|(m, at)| Some((identify(m.as_ref()?)?, *at)))
                    .filter(|(sent, _)| match sent {
                        Sent::Answer(n) | Sent::Call(n) | Sent::Register(n) => numbers.contains(n),
                    })
                    .collect()
            });
            if arrivals.len() >= expected {
                break arrivals;
            }
            if Instant::now() > deadline {
                let seen: Vec<Sent> = arrivals.iter().map(|(s, _)| *s).collect();
                panic!(
                    "round {round}: only {} of {expected} frames arrived within 2 s of a quiet link; seen: {seen:?}",
                    arrivals.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let done = done.lock().expect("lock");
        for (sent, at) in arrivals {
            let ready = done[&sent];
            let waited = at.saturating_duration_since(ready);
            worst = worst.max(waited);
            assert!(
                waited <= LATE,
                "round {round}: {sent:?} arrived {waited:?} after its sender was done (limit {LATE:?})"
            );
        }
    }
    eprintln!(
        "{ROUNDS} rounds of {} raced frames; the slowest arrived {worst:?} after its sender was done",
        3 * PER_KIND
    );
}

fn uuid(n: i64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Answers raced against their callers' timeouts from many tasks, each
/// call with a timeout of its own: every call ends exactly once, with its
/// own answer or with [`Error::Timeout`] naming its timeout, never before
/// that timeout has passed, and none is left waiting. Half the tasks take
/// their answers as `u64`, which the reader keeps as text, and half as
/// `serde_json::Value`, which it builds as trees: each gets its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_call_ends_once_with_its_answer_or_its_timeout() {
    const CALLS: u64 = 2_000;
    const TASKS: u64 = 64;
    let engine = iii_tests::engine().await;
    let (callee, caller) = engine.pair().await;
    let id = iii_tests::fid("stress::late");
    let late = Function::new(&id, |(n, delay_ms): (u64, u64)| async move {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        Ok::<_, Error>(n)
    });
    iii_tests::serve(&callee, late).await;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let (caller, id) = (caller.clone(), id.clone());
        tasks.spawn(async move {
            let (mut answered, mut timed_out) = (0u64, 0u64);
            for n in (task..CALLS).step_by(TASKS as usize) {
                let (delay_ms, timeout) = (n % 40, Duration::from_millis(10 + n * 7 % 30));
                let started = Instant::now();
                let request = caller.invoke(&id).payload(&(n, delay_ms)).timeout(timeout);
                let call = async move {
                    if task % 2 == 0 {
                        request.call::<u64>().await
                    } else {
                        let value = request.call::<serde_json::Value>().await?;
                        Ok(value
                            .as_u64()
                            .unwrap_or_else(|| panic!("call {n}: {value}")))
                    }
                };
                let ended = tokio::time::timeout(Duration::from_secs(10), call)
                    .await
                    .unwrap_or_else(|_| panic!("call {n} still waits after 10 s"));
                match ended {
                    Ok(value) => {
                        assert_eq!(value, n, "call {n} got another call's answer");
                        answered += 1;
                    }
                    Err(Error::Timeout { timeout: t, .. }) => {
                        assert_eq!(t, timeout, "call {n}: the timeout it names");
                        let waited = started.elapsed();
                        assert!(
                            waited >= t,
                            "call {n} timed out after {waited:?}, before {t:?}"
                        );
                        timed_out += 1;
                    }
                    Err(other) => panic!("call {n}: {other}"),
                }
            }
            (answered, timed_out)
        });
    }
    let (mut answered, mut timed_out) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        let (a, t) = joined.expect("task");
        answered += a;
        timed_out += t;
    }
    assert_eq!(answered + timed_out, CALLS);
    assert!(
        answered > 0 && timed_out > 0,
        "the race was not run: {answered} answered, {timed_out} timed out"
    );
    eprintln!(
        "{CALLS} calls raced against their timeouts: {answered} answered, {timed_out} timed out"
    );
}
