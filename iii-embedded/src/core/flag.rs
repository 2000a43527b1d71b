//! Waiting on a flag: the engine's stop, a connection's kill.

use tokio::sync::watch;

/// Resolves once `flag` is true (or its sender is gone).
pub(crate) async fn raised(flag: &mut watch::Receiver<bool>) {
    while !*flag.borrow_and_update() {
        if flag.changed().await.is_err() {
            return;
        }
    }
}
