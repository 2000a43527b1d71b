//! The worker port's listener: it accepts TCP connections (TLS over them
//! with the `tls` feature) and serves each as a connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::Core;
use super::connection;
use super::flag::raised;

/// What serves TLS on the worker port.
#[cfg(feature = "tls")]
pub(crate) type Acceptor = tokio_rustls::TlsAcceptor;
/// What serves TLS on the worker port: nothing, without the `tls` feature.
#[cfg(not(feature = "tls"))]
pub(crate) type Acceptor = std::convert::Infallible;

/// Accepts connections until the engine stops.
pub(crate) async fn accept_workers(
    core: Arc<Core>,
    listener: TcpListener,
    acceptor: Option<Acceptor>,
) {
    let mut stopped = core.stopped();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let core = core.clone();
                    match &acceptor {
                        #[cfg(feature = "tls")]
                        Some(acceptor) => {
                            let acceptor = acceptor.clone();
                            tokio::spawn(async move {
                                let handshake = tokio::time::timeout(
                                    core.settings.handshake_timeout,
                                    acceptor.accept(stream),
                                );
                                match handshake.await {
                                    Ok(Ok(tls)) => connection::serve(core, tls).await,
                                    Ok(Err(e)) => tracing::debug!("TLS handshake failed: {e}"),
                                    Err(_) => tracing::debug!("TLS handshake timed out"),
                                }
                            });
                        }
                        #[cfg(not(feature = "tls"))]
                        Some(never) => match *never {},
                        None => { tokio::spawn(connection::serve(core, stream)); }
                    }
                }
                Err(e) => {
                    // Out of file descriptors, say: back off rather than
                    // spin on the cores.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = raised(&mut stopped) => return,
        }
    }
}
