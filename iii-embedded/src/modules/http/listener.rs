//! The REST listener: one HTTP/1 connection task per client, each request
//! answered with the engine's CORS header (but for what the engine
//! answers outside its CORS layer). A client address holds at most so many
//! connections at once; one more is answered 503 and closed at once.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use super::Http;
use super::replies::{OutsideCors, Reply};
use super::request::respond;
use crate::core::{Core, raised};

/// How many connections each client address holds, and how many it may.
struct PerAddress {
    open: Mutex<HashMap<IpAddr, usize>>,
    max: usize,
}

/// One connection's place in its address's count, given back on drop.
struct Held {
    counts: Arc<PerAddress>,
    address: IpAddr,
}

impl PerAddress {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for one more connection from `address`, if it has one.
    fn take(self: &Arc<Self>, address: IpAddr) -> Option<Held> {
        let mut open = self.lock();
        let count = open.entry(address).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Held {
            counts: self.clone(),
            address,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.counts.lock();
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// Answers a connection over its address's limit with 503, as far as the
/// socket takes it at once, and closes it: it holds no descriptor longer.
fn refuse(stream: TcpStream, max: usize) {
    let body = format!(
        "{{\"error\":{{\"code\":\"TOO_MANY_CONNECTIONS\",\"message\":\"this address has {max} connections open, the most it may (EngineBuilder::max_http_connections_per_address)\"}}}}"
    );
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(reply.as_bytes());
}

/// Serves HTTP clients until the engine stops.
pub(super) async fn serve(http: Arc<Http>, core: Arc<Core>, listener: TcpListener) {
    let mut stopped = core.stopped();
    let per_address = Arc::new(PerAddress {
        open: Mutex::default(),
        max: http.limits.max_connections_per_address,
    });
    loop {
        let (stream, held) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match per_address.take(peer.ip()) {
                    Some(held) => (stream, held),
                    None => {
                        refuse(stream, per_address.max);
                        continue;
                    }
                },
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
            let _held = held;
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
