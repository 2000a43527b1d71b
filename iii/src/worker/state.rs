//! Connection state, and counting the handlers that are running.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::Worker;
use crate::error::Error;

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
            _ => Err(Error::Connect {
                url: self.inner.config.url.clone(),
                reason: format!(
                    "the worker did not become {state} within {timeout:?} (it is {})",
                    self.connection_state()
                ),
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
            Err(_) => Err(Error::Connect {
                url: self.inner.config.url.clone(),
                reason: format!(
                    "not connected within {timeout:?} (state: {})",
                    self.connection_state()
                ),
            }),
        }
    }
}

impl Worker {
    /// Waits until the engine has read every frame this worker sent before
    /// the call, registrations included.
    ///
    /// The engine acknowledges neither functions nor triggers, so another
    /// worker calling a function right after it was registered can race the
    /// registration. The engine answers pings in order, so the answer to a
    /// ping sent now proves everything before it was processed.
    ///
    /// ```no_run
    /// # async fn f(worker: iii::Worker, other: iii::Worker) -> Result<(), iii::Error> {
    /// worker.register_function(iii::Function::new("math::inc", |x: i64| async move { Ok::<_, iii::Error>(x + 1) }))?;
    /// worker.flush().await?; // now every worker can call it
    /// let two: i64 = other.call("math::inc", &1).await?;
    /// # let _ = two; Ok(()) }
    /// ```
    pub async fn flush(&self) -> Result<(), Error> {
        let (session, target) = {
            let mut link = super::lock(&self.inner.link);
            let sent = link
                .tx
                .as_ref()
                .is_some_and(|tx| tx.send(String::from(super::PING)).is_ok());
            if !sent {
                return Err(Error::NotConnected {
                    function_id: "flush".into(),
                });
            }
            link.pings_sent += 1;
            (link.session, link.pings_sent)
        };
        let mut pongs = self.inner.pongs.subscribe();
        let timeout = self.inner.config.default_timeout;
        let seen = tokio::time::timeout(
            timeout,
            until(&mut pongs, |(s, n)| *s != session || *n >= target),
        )
        .await;
        match seen {
            Ok(Some((s, _))) if s == session => Ok(()),
            Ok(_) => Err(Error::ConnectionLost {
                function_id: "flush".into(),
            }),
            Err(_) => Err(Error::Timeout {
                function_id: "flush".into(),
                timeout,
            }),
        }
    }
}

/// Waits until `rx` holds a value matching `pred`; returns a copy of it, or
/// `None` if the sender is gone. Unlike `watch::Receiver::wait_for`, no
/// read guard outlives the call, so the caller may write the same channel.
pub(crate) async fn until<T: Clone>(
    rx: &mut watch::Receiver<T>,
    pred: impl Fn(&T) -> bool,
) -> Option<T> {
    rx.wait_for(|v| pred(v)).await.ok().map(|v| v.clone())
}

/// Counts running handlers so shutdown can wait for them.
#[derive(Default, Clone)]
pub(crate) struct InFlight(Arc<Counter>);

#[derive(Default)]
pub(crate) struct Counter {
    count: AtomicUsize,
    idle: Notify,
}

/// Held by a running handler; decrements the count on drop.
pub(crate) struct InFlightGuard(Arc<Counter>);

impl InFlight {
    pub(crate) fn enter(&self) -> InFlightGuard {
        self.0.count.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.0.clone())
    }

    pub(crate) fn count(&self) -> usize {
        self.0.count.load(Ordering::Acquire)
    }

    /// Resolves once no handler is running.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.0.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}
