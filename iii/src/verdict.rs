//! The engine's verdict on one registration (a function or a binding), as
//! its handle sees it. The engine acknowledges no success: a verdict is
//! empty until a refusal arrives, and is cleared when a new connection
//! registers again.

use iii_protocol::ErrorBody;
use tokio::sync::watch;

/// Where the worker records a registration's refusal.
pub(crate) type Recorder = watch::Sender<Option<ErrorBody>>;

/// What a handle reads: the refusal, if one arrived.
#[derive(Debug, Clone)]
pub(crate) struct Verdict(watch::Receiver<Option<ErrorBody>>);

impl Verdict {
    /// An empty verdict and where to record it.
    pub(crate) fn pending() -> (Recorder, Verdict) {
        let (recorder, verdict) = watch::channel(None);
        (recorder, Verdict(verdict))
    }

    /// The refusal, if one arrived.
    pub(crate) fn rejection(&self) -> Option<ErrorBody> {
        self.0.borrow().clone()
    }

    /// Waits for a refusal (for ever, if none comes).
    pub(crate) async fn rejected(&self) -> ErrorBody {
        let mut status = self.0.clone();
        loop {
            if let Some(refusal) = status.borrow_and_update().clone() {
                return refusal;
            }
            if status.changed().await.is_err() {
                // The registration is gone: no refusal will ever come.
                std::future::pending::<()>().await;
            }
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
}
