//! Engines cut and restarted ten times on the same ports under a steady
//! load of calls: iii-embedded shut down and started again, and the real
//! engine (when its binary is at hand) killed with SIGKILL and started
//! again. Every call is answered or fails with a clear error within its
//! timeout, nothing runs twice, and the function, its route and a
//! subscription are all back after each restart.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iii::trigger::{Http, Subscribe};
use iii::{Error, Function, Trigger, Worker};
use iii_tests::{eventually, serve, unique};
use serde_json::{Value, json};

const ROUNDS: usize = 10;
/// A call's timeout: every call ends within it (and some slack).
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// `N` distinct free loopback ports, as the kernel picks them (each held
/// until all are picked, so that no two are the same).
fn free_ports<const N: usize>() -> [SocketAddr; N] {
    let held: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    std::array::from_fn(|i| held[i].local_addr().expect("its address"))
}

/// An engine the test can cut and start again on the same ports.
enum Cuttable {
    Embedded {
        engine: Option<iii_embedded::Engine>,
        ws: SocketAddr,
        http: SocketAddr,
    },
    Real {
        bin: PathBuf,
        dir: PathBuf,
        child: tokio::process::Child,
        ws: SocketAddr,
        http: SocketAddr,
    },
}

/// The real engine's binary, found as tests/engine/run finds it.
fn engine_binary() -> Option<PathBuf> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::var_os("III_ENGINE_BIN")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            repo.join("../shared/engine/iii"),
            PathBuf::from("/work/shared/engine/iii"),
        ])
        .find(|p| p.is_file())
}

async fn ports_open(addrs: &[SocketAddr]) -> bool {
    for addr in addrs {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return false;
        }
    }
    true
}

impl Cuttable {
    async fn embedded() -> Cuttable {
        for _ in 0..5 {
            let [ws, http] = free_ports();
            if let Ok(engine) = Self::start_embedded(ws, http).await {
                return Cuttable::Embedded {
                    engine: Some(engine),
                    ws,
                    http,
                };
            }
        }
        panic!("no free ports for an embedded engine");
    }

    async fn start_embedded(
        ws: SocketAddr,
        http: SocketAddr,
    ) -> std::io::Result<iii_embedded::Engine> {
        iii_embedded::Engine::builder()
            .ws_addr(ws)
            .http_addr(http)
            .start()
            .await
    }

    /// The real engine on ports of its own, in a directory of its own, on
    /// the suite's configuration.
    async fn real(bin: PathBuf) -> Cuttable {
        let [ws, http, stream, rbac] = free_ports();
        let dir = std::env::temp_dir().join(unique("iii-restarts"));
        std::fs::create_dir_all(&dir).expect("a directory");
        let config = include_str!("../../engine/engine.yaml")
            .replace("port: 49620\n", &format!("port: {}\n", ws.port()))
            .replace("port: 3620\n", &format!("port: {}\n", http.port()))
            .replace("port: 3621\n", &format!("port: {}\n", stream.port()))
            .replace("port: 49635\n", &format!("port: {}\n", rbac.port()));
        std::fs::write(dir.join("engine.yaml"), config).expect("the configuration");
        let child = Self::spawn_real(&bin, &dir, &[ws, http]).await;
        Cuttable::Real {
            bin,
            dir,
            child,
            ws,
            http,
        }
    }

    async fn spawn_real(
        bin: &PathBuf,
        dir: &PathBuf,
        ports: &[SocketAddr],
    ) -> tokio::process::Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("engine.log"))
            .expect("a log");
        let child = tokio::process::Command::new(bin)
            .args(["-c", "engine.yaml", "--no-update-check"])
            .current_dir(dir)
            .env("III_TELEMETRY_ENABLED", "false")
            .env("IIIWORKER_DISABLE_BUILTIN_DAEMONS", "1")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("the engine starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ports_open(ports).await {
            assert!(
                Instant::now() < deadline,
                "the engine did not listen within 30 s (log: {})",
                dir.join("engine.log").display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        child
    }

    fn ws_url(&self) -> String {
        match self {
            Cuttable::Embedded { ws, .. } | Cuttable::Real { ws, .. } => format!("ws://{ws}"),
        }
    }

    fn http_url(&self) -> String {
        match self {
            Cuttable::Embedded { http, .. } | Cuttable::Real { http, .. } => {
                format!("http://{http}")
            }
        }
    }

    /// Cuts the engine (shut down, or SIGKILL) and starts it again on the
    /// same ports.
    async fn cut_and_restart(&mut self) {
        match self {
            Cuttable::Embedded { engine, ws, http } => {
                if let Some(engine) = engine.take() {
                    engine.shutdown().await;
                }
                // The ports were ours a moment ago; another test's socket
                // may hold one for a while, so try for a few seconds.
                let deadline = Instant::now() + Duration::from_secs(5);
                loop {
                    match Self::start_embedded(*ws, *http).await {
                        Ok(started) => break *engine = Some(started),
                        Err(e) if Instant::now() < deadline => {
                            eprintln!("restart on {ws}, {http}: {e}; again");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => panic!("restart on {ws}, {http}: {e}"),
                    }
                }
            }
            Cuttable::Real {
                bin,
                dir,
                child,
                ws,
                http,
            } => {
                child.kill().await.expect("SIGKILL");
                *child = Self::spawn_real(bin, dir, &[*ws, *http]).await;
            }
        }
    }

    async fn stop(self) {
        match self {
            Cuttable::Embedded { engine, .. } => {
                if let Some(engine) = engine {
                    engine.shutdown().await;
                }
            }
            Cuttable::Real { mut child, dir, .. } => {
                let _ = child.kill().await;
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// What the callee saw: how many times each call ran.
type Runs = Arc<Mutex<HashMap<u64, u32>>>;

/// A call's outcome is fine: its own answer, or a clear error.
fn check(n: u64, out: &Result<u64, Error>) {
    match out {
        Ok(v) => assert_eq!(*v, n * 2, "an answer is the answer to its own call"),
        Err(e) => assert!(
            matches!(
                e,
                Error::ConnectionLost { .. } | Error::NotConnected { .. } | Error::Timeout { .. }
            ) || ["invocation_stopped", "function_not_found"].contains(&e.code()),
            "a clear error: {e}"
        ),
    }
}

async fn cut_ten_times_under_load(mut engine: Cuttable) {
    let fast = iii::ReconnectPolicy {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        ..iii::ReconnectPolicy::default()
    };
    let connect = |name: &str| {
        Worker::builder()
            .url(engine.ws_url())
            .name(unique(name))
            .reconnect(fast.clone())
            .default_timeout(CALL_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .connect()
    };
    let callee = connect("restarts-callee").await.expect("callee");
    let caller = connect("restarts-caller").await.expect("caller");
    let id = unique("restarts::work");
    let runs: Runs = Arc::default();
    let seen = runs.clone();
    serve(
        &callee,
        Function::new(&id, move |n: u64| {
            let seen = seen.clone();
            async move {
                *seen.lock().expect("lock").entry(n).or_default() += 1;
                // One call in five is still running a while.
                if n.is_multiple_of(5) {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Ok::<_, Error>(n * 2)
            }
        }),
    )
    .await;
    let route = format!("/{}", unique("restarts"));
    let http_id = unique("restarts::http");
    serve(
        &callee,
        Function::new(&http_id, |req: iii::http::ApiRequest| async move {
            Ok::<_, Error>(iii::http::ApiResponse::ok(req.body))
        }),
    )
    .await;
    callee
        .register_trigger(Trigger::new(&http_id, Http::post(&route)))
        .expect("bind the route");
    let topic = unique("restarts-topic");
    let heard = Arc::new(AtomicU64::new(0));
    let ears = heard.clone();
    let sub_id = unique("restarts::heard");
    serve(
        &callee,
        Function::new(&sub_id, move |msg: Value| {
            let ears = ears.clone();
            async move {
                ears.fetch_max(msg["round"].as_u64().unwrap_or(0), Ordering::SeqCst);
                Ok::<_, Error>(())
            }
        }),
    )
    .await;
    callee
        .register_trigger(Trigger::new(&sub_id, Subscribe::new(&topic)))
        .expect("subscribe");
    callee.flush().await.expect("flush");

    // The load: 8 callers in a loop, each call a fresh number.
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(1));
    let answered = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = (0..8)
        .map(|_| {
            let (caller, id, stop, next) = (caller.clone(), id.clone(), stop.clone(), next.clone());
            let (answered, failed) = (answered.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let started = Instant::now();
                    let out = caller.call::<u64, _>(&id, &n).await;
                    assert!(
                        started.elapsed() < CALL_TIMEOUT + Duration::from_secs(2),
                        "call {n} took {:?}: {out:?}",
                        started.elapsed()
                    );
                    check(n, &out);
                    match out {
                        Ok(_) => answered.fetch_add(1, Ordering::SeqCst),
                        Err(_) => {
                            // Not connected yet: try again shortly.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            failed.fetch_add(1, Ordering::SeqCst)
                        }
                    };
                }
            })
        })
        .collect();

    for round in 1..=ROUNDS as u64 {
        // Traffic flows before each cut.
        let before = answered.load(Ordering::SeqCst);
        eventually(Duration::from_secs(15), "calls answered again", || async {
            (answered.load(Ordering::SeqCst) >= before + 40).then_some(())
        })
        .await;
        engine.cut_and_restart().await;
        // The route and the subscription are back.
        let url = format!("{}{route}", engine.http_url());
        eventually(Duration::from_secs(15), "the route back", || async {
            let reply = iii_tests::http(
                "POST",
                &url,
                &[("content-type", "application/json")],
                br#"{"k":1}"#,
            )
            .await;
            (reply.status == 200 && reply.json() == json!({"k": 1})).then_some(())
        })
        .await;
        eventually(Duration::from_secs(15), "the subscription back", || async {
            let _ = caller.publish(&topic, &json!({ "round": round })).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            (heard.load(Ordering::SeqCst) >= round).then_some(())
        })
        .await;
    }
    let before = answered.load(Ordering::SeqCst);
    eventually(
        Duration::from_secs(15),
        "calls answered at the end",
        || async { (answered.load(Ordering::SeqCst) >= before + 40).then_some(()) },
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.expect("a caller's checks");
    }
    assert!(
        runs.lock().expect("lock").values().all(|n| *n == 1),
        "no call ran twice"
    );
    eprintln!(
        "{ROUNDS} restarts under load: {} calls answered, {} failed with a clear error",
        answered.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst)
    );
    callee.shutdown().await;
    caller.shutdown().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iii_embedded_cut_ten_times_under_load_loses_nothing() {
    cut_ten_times_under_load(Cuttable::embedded().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_engine_killed_ten_times_under_load_loses_nothing() {
    let Some(bin) = engine_binary() else {
        eprintln!("skipped: no iii engine binary (III_ENGINE_BIN, ../shared/engine/iii)");
        return;
    };
    cut_ten_times_under_load(Cuttable::real(bin).await).await;
}
