//! The REST listener: one HTTP/1 connection task per client, each request
//! answered with the engine's CORS header (but for what the engine
//! answers outside its CORS layer).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Http;
use super::replies::{OutsideCors, Reply};
use super::request::respond;
use crate::core::{Core, raised};

/// Serves HTTP clients until the engine stops.
pub(super) async fn serve(http: Arc<Http>, core: Arc<Core>, listener: TcpListener) {
    let mut stopped = core.stopped();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, say: back off rather than
                    // spin on the cores, as the worker socket's loop does.
                    tracing::warn!("http accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = raised(&mut stopped) => return,
        };
        let (http, core) = (http.clone(), core.clone());
        tokio::spawn(async move {
            let header_timeout = http.limits.header_timeout;
            let service =
                hyper::service::service_fn(move |req| handle(http.clone(), core.clone(), req));
            // A client that does not send its request head in time is
            // disconnected (hyper sends no 408 then).
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("http connection ended: {e}");
            }
        });
    }
}

/// One request's reply, with the CORS header unless it is given outside
/// the CORS layer.
async fn handle(
    http: Arc<Http>,
    core: Arc<Core>,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let mut reply = respond(&http, &core, req).await;
    if reply.extensions().get::<OutsideCors>().is_none() {
        reply
            .headers_mut()
            .insert("access-control-allow-origin", HeaderValue::from_static("*"));
    }
    Ok(reply)
}
