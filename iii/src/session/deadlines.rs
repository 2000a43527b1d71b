//! The session's watchdog: fails each pending call whose timeout has
//! passed (see [`super::pending`] for why one task does this rather than
//! a timer per call).

use super::{Failure, Session, dead};
use crate::sync::lock;

/// Sleeps until the earliest deadline of a pending call (or until a call
/// with an earlier one comes), fails the calls whose deadline has passed,
/// and sleeps again; ends with the session.
pub(super) async fn watch(session: Session) {
    let shared = &session.shared;
    let mut death = session.death();
    let mut dying = std::pin::pin!(dead(&mut death));
    loop {
        let armed = lock(&shared.pending).armed();
        let sleep = async move {
            match armed {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = &mut dying => return,
            // A call came with an earlier deadline: sleep again, shorter.
            _ = shared.rearm.notified() => continue,
            _ = sleep => {}
        }
        let expired = lock(&shared.pending).expire(tokio::time::Instant::now());
        for reply in expired {
            let _ = reply.send(Err(Failure::TimedOut));
        }
    }
}
