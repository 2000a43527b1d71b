//! `http` triggers, as the engine's http module serves them: the REST
//! listener ([`listener`]), the routes bindings make ([`routes`]), and
//! each matched request's exchange with its handler: the request read
//! ([`request`]), its body and response channels ([`exchange`]), the
//! condition, middleware and handler in turn ([`pipeline`]), and the
//! response, whole ([`replies`]) or streamed ([`streamed`]).

mod exchange;
mod listener;
mod pipeline;
mod replies;
mod request;
mod routes;
mod streamed;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iii_protocol::TriggerKind;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::channels::ChannelTable;
use crate::core::{Core, EngineModule, TriggerType};
use crate::settings::Settings;

/// The http module: the listener it serves once started, and its limits.
pub(crate) struct Http {
    listener: Mutex<Option<TcpListener>>,
    limits: Limits,
    /// Where a request's two channels are opened.
    channels: Arc<ChannelTable>,
    /// The bytes of JSON bodies held, one permit a byte.
    json_in_flight: Arc<Semaphore>,
}

/// How long and how much the http module waits for and takes.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Until the response head, from the request's.
    timeout: Duration,
    /// For a client to send a request's head.
    header_timeout: Duration,
    /// The largest JSON body taken.
    max_json_body: usize,
    /// The bytes of JSON bodies held at once.
    json_bytes_in_flight: usize,
    /// The connections one client address may hold at once.
    max_connections_per_address: usize,
}

impl Http {
    /// The module, to serve `http` bindings on `listener`.
    pub(crate) fn new(
        listener: TcpListener,
        settings: &Settings,
        channels: Arc<ChannelTable>,
    ) -> Http {
        Http {
            listener: Mutex::new(Some(listener)),
            limits: Limits {
                timeout: settings.http_timeout,
                header_timeout: settings.http_header_timeout,
                max_json_body: settings.max_json_body,
                json_bytes_in_flight: settings.json_bytes_in_flight,
                max_connections_per_address: settings.http_connections_per_address,
            },
            channels,
            json_in_flight: Arc::new(Semaphore::new(
                settings.json_bytes_in_flight.min(Semaphore::MAX_PERMITS),
            )),
        }
    }
}

impl EngineModule for Http {
    fn name(&self) -> &'static str {
        "iii-http"
    }

    fn trigger_types(self: Arc<Self>) -> Vec<TriggerType> {
        vec![
            TriggerType::new(TriggerKind::Http)
                .checked(routes::check)
                .superseding(routes::supersede, routes::shape),
        ]
    }

    fn start(self: Arc<Self>, core: &Arc<Core>) -> Vec<JoinHandle<()>> {
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        listener
            .map(|listener| tokio::spawn(listener::serve(self, core.clone(), listener)))
            .into_iter()
            .collect()
    }
}
