//! The engine modules, one for each of the engine's own: `http`, `cron`,
//! `queue`, `state`, `stream`, `pubsub`, `observability` (logs and
//! traces) and `channels`; and [`assemble`], the one list of them.
//!
//! Each module declares its built-in functions and trigger types in its
//! [`EngineModule`] impl; the core routes to them through that. A module
//! knows the core, never another module's insides: `http` takes the
//! channel table `channels` hands it, and what two modules share stands in
//! a file of its own ([`topic`], [`update_ops`]).

mod channels;
mod cron;
mod http;
mod observability;
mod pubsub;
mod queue;
mod state;
mod stream;
mod topic;
mod update_ops;

use std::sync::Arc;

use tokio::net::TcpListener;

pub use queue::DeadLetter;
pub(crate) use queue::DeadLetters;

use crate::core::EngineModule;
use crate::settings::Settings;

/// The modules of one engine, and the handle the front door keeps.
pub(crate) struct Modules {
    /// Every module, in the order the core consults them.
    pub(crate) list: Vec<Arc<dyn EngineModule>>,
    /// The queue's dead letters, for `Engine::dead_letters`.
    pub(crate) dead_letters: Arc<DeadLetters>,
}

/// Every module of an engine with `settings`; `http` serves on `http`.
pub(crate) fn assemble(settings: &Settings, http: TcpListener) -> Modules {
    let channels = Arc::new(channels::Channels::new(
        settings.channel_ttl,
        settings.channel_bytes,
        settings.channel_bytes_total,
    ));
    let queue = Arc::new(queue::Queue::new(settings));
    let dead_letters = queue.dead_letters();
    let list: Vec<Arc<dyn EngineModule>> = vec![
        Arc::new(http::Http::new(http, settings, channels.table())),
        Arc::new(cron::Cron::default()),
        queue,
        Arc::new(state::State::default()),
        Arc::new(stream::Streams::default()),
        Arc::new(pubsub::PubSub),
        Arc::new(observability::Observability::default()),
        channels,
    ];
    Modules { list, dead_letters }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the modules serve, beside the engine's own functions and
    /// trigger types (which the core declares).
    #[tokio::test]
    async fn the_modules_serve_the_documented_built_ins() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let modules = assemble(&Settings::default(), listener);
        let mut functions: Vec<&str> = modules
            .list
            .iter()
            .flat_map(|m| m.clone().functions())
            .map(|f| f.id)
            .collect();
        functions.sort_unstable();
        assert_eq!(
            functions,
            [
                "engine::channels::create",
                "engine::health::check",
                "engine::log::debug",
                "engine::log::error",
                "engine::log::info",
                "engine::log::trace",
                "engine::log::warn",
                "engine::logs::list",
                "engine::queue::enqueue",
                "engine::traces::list",
                "engine::traces::tree",
                "iii::durable::publish",
                "publish",
                "state::delete",
                "state::get",
                "state::list",
                "state::list_groups",
                "state::set",
                "state::update",
                "stream::delete",
                "stream::get",
                "stream::list",
                "stream::list_all",
                "stream::list_groups",
                "stream::send",
                "stream::set",
                "stream::update",
            ]
        );
        let mut trigger_types: Vec<&str> = modules
            .list
            .iter()
            .flat_map(|m| m.clone().trigger_types())
            .map(|t| t.id())
            .collect();
        trigger_types.sort_unstable();
        assert_eq!(
            trigger_types,
            [
                "cron",
                "durable:subscriber",
                "http",
                "log",
                "state",
                "stream",
                "stream:join",
                "stream:leave",
                "subscribe",
            ]
        );
    }
}
