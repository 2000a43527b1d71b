//! How long a session's reader has run invocations' first steps in place
//! since it last waited for the socket (see `dispatch::first_step`).
//!
//! The reader keeps its own count and lends it to the thread while it
//! handles one frame ([`lend`]); the dispatch code reads and adds to it
//! there ([`spent`], [`add`]). A thread-local, because the frame's handler
//! sits behind the session's `Inbound` trait, which knows no reader; lent
//! per frame, because readers of several sessions share threads.

use std::cell::Cell;
use std::time::Duration;

thread_local! {
    static SPENT: Cell<Option<Duration>> = const { Cell::new(None) };
}

/// Runs `handle` with `spent` lent to this thread; returns what it is then.
pub(crate) fn lend<T>(spent: &mut Duration, handle: impl FnOnce() -> T) -> T {
    let outer = SPENT.replace(Some(*spent));
    let out = handle();
    *spent = SPENT.replace(outer).unwrap_or_default();
    out
}

/// The time spent in place in this burst; `None` off a reader (a frame
/// handled elsewhere, as in tests).
pub(crate) fn spent() -> Option<Duration> {
    SPENT.get()
}

/// Counts `more` in this burst, on a reader.
pub(crate) fn add(more: Duration) {
    if let Some(spent) = SPENT.get() {
        SPENT.set(Some(spent + more));
    }
}
