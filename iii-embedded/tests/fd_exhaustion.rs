//! Out of file descriptors, the engine's accept loops back off instead of
//! spinning on the cores, and serve again once descriptors are free.
//!
//! The engine runs in a child process (this test binary again, under
//! `ulimit -n`) with few descriptors; the test floods both
//! ports with connections from this process, so the child's `accept`
//! fails with EMFILE while connections wait in the backlog.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "III_FD_EXHAUSTION_CHILD";
/// The child's descriptor limit (set with the shell's `ulimit`): enough to
/// start an engine, and soon used up.
const CAP: u64 = 48;

/// Child mode: start an engine, print its ports, and serve until stdin
/// closes.
fn run_child() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let engine = iii_embedded::Engine::start().await.expect("engine");
        println!("{} {}", engine.ws_url(), engine.http_url());
        tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read(&mut [0u8; 1]);
        })
        .await
        .expect("stdin");
        engine.shutdown().await;
    });
}

/// The child's CPU time (user and system) in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command name, which ends at the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..]
        .split(' ')
        .collect();
    // utime and stime are fields 14 and 15 of the whole line.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

fn open_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

fn wait_for<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTP request on a fresh connection; its status, or `None` when the
/// engine does not answer.
fn http_status(authority: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(authority).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /nothing-here HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[test]
fn accept_loops_back_off_when_out_of_descriptors_and_recover() {
    if std::env::var_os(CHILD).is_some() {
        return run_child();
    }
    let exe = std::env::current_exe().expect("exe");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {CAP} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args([
            "--exact",
            "accept_loops_back_off_when_out_of_descriptors_and_recover",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the engine");
    let pid = child.id();
    // The harness prints "test <name> ... " before the test runs, so the
    // ports may share a line with it.
    let stdout = child.stdout.take().expect("stdout");
    let (found, ports) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let Some(at) = words.iter().position(|w| w.starts_with("ws://"))
                && let Some(http) = words.get(at + 1)
            {
                let _ = found.send((
                    words[at].trim_start_matches("ws://").to_string(),
                    http.trim_start_matches("http://").to_string(),
                ));
            }
        }
    });
    let Ok((ws, http)) = ports.recv_timeout(Duration::from_secs(20)) else {
        let _ = child.kill();
        panic!("the child engine printed no ports within 20 s");
    };
    // More connections than the child has descriptors, on both ports.
    let flood: Vec<TcpStream> = (0..CAP)
        .flat_map(|_| [TcpStream::connect(&http), TcpStream::connect(&ws)])
        .map(|c| c.expect("the kernel queues the connection"))
        .collect();
    wait_for(
        Duration::from_secs(10),
        "the child out of descriptors",
        || (open_fds(pid) >= CAP).then_some(()),
    );
    // Both loops now fail on every accept. A loop that retried at once
    // would burn a core: about 100 ticks a second.
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu_ticks(pid) - before;
    eprintln!("out of descriptors for 1 s, the engine spent {spent} of about 100 clock ticks");
    assert!(
        spent < 30,
        "the engine spent {spent} ticks of CPU in one second while out of descriptors"
    );
    drop(flood);
    let status = wait_for(Duration::from_secs(10), "the engine serving again", || {
        http_status(&http)
    });
    assert_eq!(status, 404, "an unknown route, answered");
    let socket = TcpStream::connect(&ws).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let (mut worker, _) = tokio_tungstenite::tungstenite::client(format!("ws://{ws}/"), socket)
        .expect("the worker port upgrades again");
    let first = worker.read().expect("a first frame");
    assert!(
        first.to_text().unwrap_or("").contains("workerregistered"),
        "{first:?}"
    );
    drop(child.stdin.take());
    let exit = child.wait().expect("child exit");
    assert!(exit.success(), "the child failed: {exit}");
}
