//! Workers written with the official SDKs of other languages, started as
//! child processes for the interop tests.
//!
//! A peer script takes a prefix for its function ids, reads the engine's
//! address from `III_URL`, prints `ready` once its functions are served,
//! and exits when its stdin closes.

use std::process::Stdio;
use std::time::Duration;

use iii::{Error, Worker};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::eventually;

/// A running peer, stopped (stdin closed, then killed if it lingers) on
/// [`Peer::stop`] or when dropped.
pub struct Peer {
    child: Child,
    /// The prefix of its function ids.
    pub prefix: String,
}

impl Peer {
    /// Starts `program args..` against `ws_url` and waits up to 60 s for
    /// it to print `ready`.
    pub async fn start(program: &str, args: &[&str], ws_url: &str, prefix: String) -> Peer {
        let mut child = Command::new(program)
            .args(args)
            .arg(&prefix)
            .env("III_URL", ws_url)
            .env("OTEL_ENABLED", "false")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start the peer `{program}`: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read the peer's output") {
                if line.trim() == "ready" {
                    return;
                }
            }
            panic!("the peer `{program}` exited before it was ready");
        })
        .await;
        assert!(
            ready.is_ok(),
            "the peer `{program}` was not ready within 60 s"
        );
        Peer { child, prefix }
    }

    /// The id of the peer's function `name`.
    pub fn function(&self, name: &str) -> String {
        format!("{}::{name}", self.prefix)
    }

    /// Waits until `worker` can call the peer's `ping` (the engine
    /// acknowledges no registration).
    pub async fn wait_served(&self, worker: &Worker) {
        let ping = self.function("ping");
        eventually(Duration::from_secs(20), "the peer's functions", || async {
            match worker.call::<String, _>(&ping, &json!({})).await {
                Err(Error::Remote { body, .. }) if body.code == "function_not_found" => None,
                answer => Some(answer.expect("ping the peer")),
            }
        })
        .await;
    }

    /// Calls the peer's function `name` with a 60 s timeout.
    pub async fn call(&self, worker: &Worker, name: &str, payload: Value) -> Result<Value, Error> {
        worker
            .invoke(self.function(name))
            .payload(&payload)
            .timeout(Duration::from_secs(60))
            .call::<Value>()
            .await
    }

    /// Closes its stdin and waits up to 10 s for it to exit.
    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}
