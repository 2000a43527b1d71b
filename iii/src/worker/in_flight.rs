//! Counting the handlers that are running, so shutdown can wait for them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

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
    /// Enters unless `limit` handlers are running already (exactly, even
    /// when invocations race).
    pub(crate) fn try_enter(&self, limit: usize) -> Option<InFlightGuard> {
        self.0
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| InFlightGuard(self.0.clone()))
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
