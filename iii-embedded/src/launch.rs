//! Starting an engine: both listeners bound, the core built with every
//! module, and the tasks that serve them spawned.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::core::{Acceptor, Core, accept_workers};
use crate::modules::{self, DeadLetters};
use crate::settings::Settings;

/// A running engine's parts.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) core: Arc<Core>,
    pub(crate) dead_letters: Arc<DeadLetters>,
    pub(crate) ws_addr: SocketAddr,
    /// The worker port serves TLS.
    pub(crate) secure: bool,
    pub(crate) http_addr: SocketAddr,
    /// Raised to stop every listener and background task.
    pub(crate) stop: watch::Sender<bool>,
    /// The tasks shutdown waits for.
    pub(crate) tasks: Vec<JoinHandle<()>>,
}

/// A listener on `addr`, or an error naming the address, what it was for
/// and the setting that moves it.
async fn bind(addr: SocketAddr, role: &str, setting: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                format!("; another program listens there: stop it, or choose another port with `{setting}`")
            }
            _ => String::new(),
        };
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} for {role}: {e}{hint}"),
        )
    })
}

/// Binds the worker port on `ws_addr` (served over TLS by `acceptor`, if
/// any) and the HTTP port on `http_addr`, and starts serving.
pub(crate) async fn launch(
    ws_addr: SocketAddr,
    http_addr: SocketAddr,
    acceptor: Option<Acceptor>,
    settings: Settings,
) -> std::io::Result<Running> {
    let secure = acceptor.is_some();
    let ws = bind(ws_addr, "the worker socket", "EngineBuilder::ws_addr").await?;
    let http = bind(http_addr, "HTTP triggers", "EngineBuilder::http_port").await?;
    let ws_addr = ws.local_addr()?;
    let http_addr = http.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let modules = modules::assemble(&settings, http);
    let core = Core::new(settings, stopped, modules.list);
    let mut tasks = vec![tokio::spawn(accept_workers(core.clone(), ws, acceptor))];
    tasks.extend(core.start_modules());
    tracing::debug!(%ws_addr, %http_addr, "embedded iii engine started");
    Ok(Running {
        core,
        dead_letters: modules.dead_letters,
        ws_addr,
        secure,
        http_addr,
        stop,
        tasks,
    })
}
