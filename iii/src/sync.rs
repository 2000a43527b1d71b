//! Small synchronisation helpers shared by the worker and its sessions.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

/// Locks a mutex, recovering the data if a panicking thread poisoned it (the
/// SDK's critical sections leave their data consistent at every step).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
