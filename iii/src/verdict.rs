//! The engine's verdict on one registration (a function or a binding), as
//! its handle sees it. The engine acknowledges no success: a verdict is
//! empty until a refusal arrives, and is cleared when a new connection
//! registers again.

use std::sync::{Arc, Mutex};

use iii_protocol::ErrorBody;
use tokio::sync::Notify;

use crate::sync::lock;

/// One registration's refusal, shared by the registry and the handles.
/// Kept for every function, alias and binding a worker registers, so it is
/// small: a tokio `watch` channel took about 400 bytes, this about 140.
#[derive(Debug, Default)]
struct Shared {
    refusal: Mutex<Option<ErrorBody>>,
    /// Told when a refusal is recorded.
    refused: Notify,
}

/// Where the worker records a registration's refusal.
#[derive(Debug)]
pub(crate) struct Recorder(Arc<Shared>);

impl Recorder {
    /// Records `refusal` (`None` clears it, for a new connection), waking
    /// the handles that wait for one; returns what was recorded before.
    pub(crate) fn send_replace(&self, refusal: Option<ErrorBody>) -> Option<ErrorBody> {
        let refused = refusal.is_some();
        let before = std::mem::replace(&mut *lock(&self.0.refusal), refusal);
        if refused {
            self.0.refused.notify_waiters();
        }
        before
    }

    /// The refusal recorded, if any.
    pub(crate) fn get(&self) -> Option<ErrorBody> {
        lock(&self.0.refusal).clone()
    }
}

/// What a handle reads: the refusal, if one arrived.
#[derive(Debug, Clone)]
pub(crate) struct Verdict(Arc<Shared>);

impl Verdict {
    /// An empty verdict and where to record it.
    pub(crate) fn pending() -> (Recorder, Verdict) {
        let shared = Arc::new(Shared::default());
        (Recorder(shared.clone()), Verdict(shared))
    }

    /// The refusal, if one arrived.
    pub(crate) fn rejection(&self) -> Option<ErrorBody> {
        lock(&self.0.refusal).clone()
    }

    /// Waits for a refusal (for ever, if none comes: a registration that
    /// is gone is never refused).
    pub(crate) async fn rejected(&self) -> ErrorBody {
        loop {
            // Listening before looking: a refusal recorded in between
            // still wakes this wait.
            let refused = self.0.refused.notified();
            let mut refused = std::pin::pin!(refused);
            refused.as_mut().enable();
            if let Some(refusal) = self.rejection() {
                return refusal;
            }
            refused.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_refusal_reaches_the_handle_and_a_new_connection_clears_it() {
        let (recorder, verdict) = Verdict::pending();
        assert_eq!(verdict.rejection(), None);
        let waiting = tokio::spawn({
            let verdict = verdict.clone();
            async move { verdict.rejected().await }
        });
        recorder.send_replace(Some(ErrorBody::new("C", "refused")));
        let refusal = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiting handle wakes")
            .expect("join");
        assert_eq!(refusal.code, "C");
        recorder.send_replace(None);
        assert_eq!(verdict.rejection(), None);
    }

    /// A refusal recorded while a handle starts waiting (on another
    /// thread) is never missed: each of many races ends with the refusal.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refusal_racing_a_new_wait_is_never_lost() {
        for round in 0..2_000 {
            let (recorder, verdict) = Verdict::pending();
            let waiting = tokio::spawn(async move { verdict.rejected().await });
            if round % 2 == 0 {
                tokio::task::yield_now().await;
            }
            recorder.send_replace(Some(ErrorBody::new("C", format!("refusal {round}"))));
            let refusal = tokio::time::timeout(Duration::from_secs(5), waiting)
                .await
                .unwrap_or_else(|_| panic!("round {round}: the refusal was lost"))
                .expect("join");
            assert_eq!(refusal.message, format!("refusal {round}"));
        }
    }

    #[test]
    fn clearing_returns_the_refusal_it_replaces() {
        let (recorder, verdict) = Verdict::pending();
        assert_eq!(recorder.send_replace(Some(ErrorBody::new("C", "x"))), None);
        assert_eq!(recorder.get().map(|e| e.code), Some("C".to_string()));
        assert_eq!(
            recorder.send_replace(None).map(|e| e.code),
            Some("C".to_string())
        );
        assert_eq!(verdict.rejection(), None);
    }
}
