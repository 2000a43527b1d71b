//! What a session's reader does in one burst: the frames it reads without
//! waiting for the socket.
//!
//! Two things are counted per burst:
//! - how long the reader has run invocations' first steps in place (see
//!   `dispatch::first_step`): past two budgets, the rest of the burst is
//!   spawned;
//! - whether frames sent while it handled the burst's frames (the answers
//!   of invocations run in place, a pong) wait for the reader to write
//!   them. They are queued, and the reader writes them all when it is about
//!   to wait for the socket, or every [`FLUSH_EVERY`] frames of a long
//!   burst: one write where each burst used to take two or more (the first
//!   answer at once, the rest by the session's writer task, woken for
//!   them, often on the runtime's other thread).
//!
//! The reader keeps its [`Burst`] and lends it to the thread while it
//! handles one frame ([`lend`]); the dispatch and session code read and
//! add to it there ([`spent`], [`add`], [`leave_to_reader`]). A
//! thread-local, because the frame's handler sits behind the session's
//! `Inbound` trait, which knows no reader; lent per frame, because readers
//! of several sessions share threads.

use std::cell::Cell;
use std::time::Duration;

/// Frames of a long burst after which what waits for the reader is
/// written, though more frames are at hand: the first answers of a burst
/// are not held up by all the others.
pub(crate) const FLUSH_EVERY: u32 = 32;

/// A reader's burst so far.
#[derive(Debug, Default)]
pub(crate) struct Burst {
    /// Time spent on first steps in place.
    spent: Duration,
    /// Frames are queued for this reader to write.
    owed: bool,
    /// Frames handled since the first of those was queued.
    held: u32,
}

impl Burst {
    /// A burst that has spent `spent` on first steps (for tests).
    #[cfg(test)]
    pub(crate) fn having_spent(spent: Duration) -> Burst {
        Burst {
            spent,
            ..Burst::default()
        }
    }

    /// The time spent on first steps in place.
    #[cfg(test)]
    pub(crate) fn spent(&self) -> Duration {
        self.spent
    }

    /// Counts a handled frame; `true` when frames have waited for the
    /// reader [`FLUSH_EVERY`] frames: it writes them now.
    pub(crate) fn frame_done(&mut self) -> bool {
        if !self.owed {
            return false;
        }
        self.held += 1;
        if self.held < FLUSH_EVERY {
            return false;
        }
        self.owed = false;
        self.held = 0;
        true
    }

    /// Ends the burst: the reader is about to wait for the socket. `true`
    /// if frames wait for it to write them first.
    pub(crate) fn pause(&mut self) -> bool {
        self.spent = Duration::ZERO;
        self.held = 0;
        std::mem::take(&mut self.owed)
    }
}

/// What a reader lends its thread while it handles one frame.
#[derive(Clone, Copy)]
struct Lent {
    spent: Duration,
    /// The reader's session ([`leave_to_reader`]).
    session: usize,
    /// A frame was left for the reader to write.
    owed: bool,
}

thread_local! {
    static LENT: Cell<Option<Lent>> = const { Cell::new(None) };
}

/// Runs `handle` with `burst`, of the reader of `session`, lent to this
/// thread; counts what it adds.
pub(crate) fn lend<T>(burst: &mut Burst, session: usize, handle: impl FnOnce() -> T) -> T {
    let outer = LENT.replace(Some(Lent {
        spent: burst.spent,
        session,
        owed: false,
    }));
    let out = handle();
    if let Some(lent) = LENT.replace(outer) {
        burst.spent = lent.spent;
        burst.owed |= lent.owed;
    }
    out
}

/// The time spent in place in this burst; `None` off a reader (a frame
/// handled elsewhere, as in tests).
pub(crate) fn spent() -> Option<Duration> {
    LENT.get().map(|lent| lent.spent)
}

/// Counts `more` in this burst, on a reader.
pub(crate) fn add(more: Duration) {
    if let Some(mut lent) = LENT.get() {
        lent.spent += more;
        LENT.set(Some(lent));
    }
}

/// Whether a frame just queued on `session` is left for its reader to
/// write: `true` while that session's reader handles a frame on this
/// thread, which then owes the write.
pub(crate) fn leave_to_reader(session: usize) -> bool {
    match LENT.get() {
        Some(mut lent) if lent.session == session => {
            lent.owed = true;
            LENT.set(Some(lent));
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_left_only_to_its_own_sessions_reader() {
        assert!(!leave_to_reader(1), "off a reader, the sender writes");
        let mut burst = Burst::default();
        lend(&mut burst, 1, || {
            assert!(!leave_to_reader(2), "another session's frame");
            assert!(leave_to_reader(1));
        });
        assert!(burst.owed, "the reader owes the write");
        assert!(!leave_to_reader(1), "the thread is lent no more");
        assert!(burst.pause(), "written before the reader waits");
        assert!(!burst.pause(), "once");
    }

    #[test]
    fn a_long_burst_writes_every_flush_every_frames() {
        let mut burst = Burst::default();
        assert!(!burst.frame_done(), "nothing owed");
        let mut writes = 0;
        for _ in 0..3 * FLUSH_EVERY {
            lend(&mut burst, 1, || leave_to_reader(1));
            writes += u32::from(burst.frame_done());
        }
        assert_eq!(writes, 3);
        assert!(!burst.pause(), "nothing left once the last write is done");
    }

    #[test]
    fn steps_add_up_within_a_burst_and_a_pause_clears_them() {
        let mut burst = Burst::default();
        assert_eq!(spent(), None, "off a reader");
        lend(&mut burst, 1, || add(Duration::from_micros(5)));
        lend(&mut burst, 1, || {
            assert_eq!(spent(), Some(Duration::from_micros(5)));
            add(Duration::from_micros(7));
        });
        assert_eq!(burst.spent, Duration::from_micros(12));
        burst.pause();
        assert_eq!(burst.spent, Duration::ZERO);
    }
}
