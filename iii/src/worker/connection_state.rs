//! Where the worker's connection stands, and waiting for a state.

use std::time::Duration;

use tokio::sync::watch;

use super::Worker;
use crate::error::Error;
use crate::sync::until;

/// Where the worker's connection to the engine stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Not connected: before the first attempt, or after shutdown.
    Disconnected,
    /// The first connection is being made.
    Connecting,
    /// Connected, announced, and every registration sent.
    Connected,
    /// The connection was lost; a new one is being made.
    Reconnecting,
    /// Given up: the engine rejected the worker, or reconnects ran out.
    Failed,
}

impl std::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Reconnecting => "reconnecting",
            ConnectionState::Failed => "failed",
        })
    }
}

impl Worker {
    /// The current connection state.
    pub fn connection_state(&self) -> ConnectionState {
        *self.inner.state.borrow()
    }

    /// A receiver that sees every state change.
    ///
    /// ```no_run
    /// # async fn f(worker: iii::Worker) {
    /// let mut states = worker.watch_connection_state();
    /// while states.changed().await.is_ok() {
    ///     println!("engine link is {}", *states.borrow());
    /// }
    /// # }
    /// ```
    pub fn watch_connection_state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.state.subscribe()
    }

    /// Waits until the state is `state`, for at most `timeout`.
    pub async fn wait_for_state(
        &self,
        state: ConnectionState,
        timeout: Duration,
    ) -> Result<(), Error> {
        let mut rx = self.inner.state.subscribe();
        match tokio::time::timeout(timeout, until(&mut rx, |s| *s == state)).await {
            Ok(Some(_)) => Ok(()),
            _ => Err(Error::StateTimeout {
                wanted: state,
                current: self.connection_state(),
                timeout,
            }),
        }
    }

    /// Waits until the worker is connected, for at most `timeout`. Fails at
    /// once if it has failed for good.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), Error> {
        let mut rx = self.inner.state.subscribe();
        let reached = tokio::time::timeout(
            timeout,
            until(&mut rx, |s| {
                matches!(s, ConnectionState::Connected | ConnectionState::Failed)
            }),
        )
        .await;
        match reached {
            Ok(Some(ConnectionState::Connected)) => Ok(()),
            Ok(_) => Err(self.failure_error()),
            Err(_) => Err(Error::StateTimeout {
                wanted: ConnectionState::Connected,
                current: self.connection_state(),
                timeout,
            }),
        }
    }
}
