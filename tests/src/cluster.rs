//! Several real iii engines sharing one Redis, started and stopped by a
//! test: a `redis-server` (Debian's) and the engine binary, each on free
//! loopback ports, from temporary directories removed afterwards.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// The engine configuration, with `{{...}}` values to fill in.
const TEMPLATE: &str = include_str!("../engine/cluster.yaml");

/// One engine of a [`Cluster`].
pub struct ClusterEngine {
    /// Its worker socket.
    pub ws_url: String,
    /// Base URL of its HTTP triggers.
    pub http_url: String,
    /// Its log file.
    pub log: PathBuf,
    _process: Child,
}

/// Engines on one Redis; everything stops when it is dropped.
pub struct Cluster {
    /// The engines, in start order.
    pub engines: Vec<ClusterEngine>,
    /// `redis://127.0.0.1:port`.
    pub redis_url: String,
    _redis: Child,
    dir: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The children are killed on drop (`kill_on_drop`); the files go.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The engine binary, as `tests/engine/run` finds it.
pub fn engine_binary() -> Option<PathBuf> {
    let beside = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/engine/iii");
    std::env::var_os("III_ENGINE_BIN")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            PathBuf::from(beside),
            PathBuf::from("/work/shared/engine/iii"),
        ])
        .find(|path| path.is_file())
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

async fn wait_listening(ports: &[u16], within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let mut all = true;
        for port in ports {
            all &= tokio::net::TcpStream::connect(("127.0.0.1", *port))
                .await
                .is_ok();
        }
        if all {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn tail(log: &PathBuf) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

impl Cluster {
    /// Starts a Redis and `n` engines on it, or says why it cannot.
    pub async fn start(n: usize) -> Result<Cluster, String> {
        let engine = engine_binary().ok_or(
            "no iii engine binary (set III_ENGINE_BIN, or put one at ../shared/engine/iii)",
        )?;
        let dir = std::env::temp_dir().join(format!("iii-cluster-{}", crate::unique("run")));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let redis_port = free_port()?;
        let redis = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &redis_port.to_string()])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("no redis-server ({e}); `apt-get install redis-server`"))?;
        let mut cluster = Cluster {
            engines: Vec::new(),
            redis_url: format!("redis://127.0.0.1:{redis_port}"),
            _redis: redis,
            dir,
        };
        if !wait_listening(&[redis_port], Duration::from_secs(10)).await {
            return Err("redis-server did not listen within 10 s".into());
        }
        for i in 0..n {
            cluster.start_engine(&engine, i).await?;
        }
        Ok(cluster)
    }

    async fn start_engine(&mut self, binary: &PathBuf, i: usize) -> Result<(), String> {
        let (worker, http, stream) = (free_port()?, free_port()?, free_port()?);
        let config = TEMPLATE
            .replace("{{worker_port}}", &worker.to_string())
            .replace("{{http_port}}", &http.to_string())
            .replace("{{stream_port}}", &stream.to_string())
            .replace("{{redis_url}}", &self.redis_url);
        let dir = self.dir.join(format!("engine-{i}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("engine.yaml"), config).map_err(|e| e.to_string())?;
        let log = dir.join("engine.log");
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let process = Command::new(binary)
            .args(["-c", "engine.yaml", "--no-update-check"])
            .env("III_TELEMETRY_ENABLED", "false")
            .env("IIIWORKER_DISABLE_BUILTIN_DAEMONS", "1")
            .current_dir(&dir)
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        if !wait_listening(&[worker, http], Duration::from_secs(30)).await {
            return Err(format!(
                "engine {i} did not listen within 30 s; its log:\n{}",
                tail(&log)
            ));
        }
        self.engines.push(ClusterEngine {
            ws_url: format!("ws://127.0.0.1:{worker}"),
            http_url: format!("http://127.0.0.1:{http}"),
            log,
            _process: process,
        });
        Ok(())
    }
}
