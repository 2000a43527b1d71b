//! One connection on the worker port. Its upgrade request's path says what
//! it is: `/` is a worker's socket ([`worker`]); any other path is offered
//! to the modules (a channel end, the telemetry socket), and one no module
//! serves is refused with 404.

mod frames;
mod worker;

use std::sync::Arc;

use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

use super::Core;
use super::module::{Refusal, SocketTask};

/// A stream a worker connects on: TCP, or TLS over TCP.
pub(crate) trait Io:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Accepts one connection as a worker socket or a module's socket.
pub(crate) async fn serve<S: Io>(core: Arc<Core>, stream: S) {
    let mut module_socket: Option<SocketTask> = None;
    // The callback's type is fixed by tungstenite.
    #[allow(clippy::result_large_err)]
    let route = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let path = request.uri().path();
        if path == "/" || path.is_empty() {
            return Ok(response);
        }
        let query = request.uri().query().unwrap_or("");
        match core.builtins.socket(path, query) {
            Some(Ok(task)) => {
                module_socket = Some(task);
                Ok(response)
            }
            Some(Err(refusal)) => Err(refuse(refusal)),
            None => Err(refuse(Refusal {
                status: StatusCode::NOT_FOUND,
                body: None,
            })),
        }
    };
    let socket = match tokio::time::timeout(
        core.settings.handshake_timeout,
        tokio_tungstenite::accept_hdr_async(stream, route),
    )
    .await
    {
        Ok(Ok(socket)) => socket,
        Ok(Err(e)) => {
            tracing::debug!("websocket handshake failed: {e}");
            return;
        }
        Err(_) => return,
    };
    match module_socket {
        Some(task) => task(core, Box::new(socket)).await,
        None => worker::serve(core, socket).await,
    }
}

/// The handshake's answer to a refused upgrade.
fn refuse(refusal: Refusal) -> ErrorResponse {
    let mut response = ErrorResponse::new(refusal.body);
    *response.status_mut() = refusal.status;
    response
}
