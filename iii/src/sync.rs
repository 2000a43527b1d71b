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

/// Waits until `status` holds a value and returns it. If the sender goes
/// away first (the registration was withdrawn, so no refusal can come), it
/// never resolves: callers pair it with a timeout.
pub(crate) async fn first_value<T: Clone>(status: &watch::Receiver<Option<T>>) -> T {
    let mut status = status.clone();
    loop {
        if let Some(value) = status.borrow_and_update().clone() {
            return value;
        }
        if status.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
