//! Calls waiting on one session for their `invocationresult`, and the
//! deadline of each.
//!
//! A call's timeout is kept here rather than in a timer of its own: a
//! tokio timer registered and cleared for every call cost about 1,000
//! instructions of the SDK's 40,000 per call (benches/instructions.sh).
//! One watchdog per session ([`super::deadlines`]) sleeps until the
//! earliest deadline, fails what has expired, and sleeps again.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use tokio::sync::oneshot;
use tokio::time::Instant;
use uuid::Uuid;

use super::Outcome;
use crate::hashing::Quick;
use iii_protocol::Shape;

/// Stale entries the deadline heap may hold beyond the waiting calls
/// before they are dropped (see [`PendingCalls::insert`]).
const SLACK: usize = 128;

/// The waiting calls, and whether the session still takes new ones.
#[derive(Default)]
pub(super) struct PendingCalls {
    waiting: HashMap<Uuid, Waiting, Quick>,
    /// The deadline of every waiting call that has one, earliest first.
    /// A call answered or forgotten leaves its entry behind until it comes
    /// first or stale entries are dropped, so an answer costs no search here.
    deadlines: BinaryHeap<Reverse<(Instant, Uuid)>>,
    /// When the watchdog wakes next; `None`: only when a call comes. Never
    /// later than the earliest deadline of a waiting call.
    armed: Option<Instant>,
    closed: bool,
}

struct Waiting {
    reply: oneshot::Sender<Outcome>,
    /// How the caller wants its result's value read.
    shape: Shape,
    /// `None` for a timeout too long to be an instant.
    deadline: Option<Instant>,
}

/// What [`PendingCalls::insert`] did with a call.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Admitted {
    /// The session has ended: the call is refused.
    Refused,
    /// The call waits; `rearm` when its deadline comes before the
    /// watchdog's next wake-up, which must then be told.
    Waiting { rearm: bool },
}

impl PendingCalls {
    /// Adds a call that fails with a timeout at `deadline`; refused if the
    /// session has ended (so no call is ever left on a session that can no
    /// longer answer it).
    pub(super) fn insert(
        &mut self,
        id: Uuid,
        reply: oneshot::Sender<Outcome>,
        deadline: Option<Instant>,
        shape: Shape,
    ) -> Admitted {
        if self.closed {
            return Admitted::Refused;
        }
        self.waiting.insert(
            id,
            Waiting {
                reply,
                shape,
                deadline,
            },
        );
        let Some(at) = deadline else {
            return Admitted::Waiting { rearm: false };
        };
        // Stale entries are dropped once they outnumber the waiting calls:
        // each pass over the heap is paid for by the calls answered since,
        // and keeps its allocation.
        if self.deadlines.len() >= 2 * self.waiting.len() + SLACK {
            let waiting = &self.waiting;
            self.deadlines
                .retain(|Reverse((at, id))| is_current(waiting, *at, id));
        }
        self.deadlines.push(Reverse((at, id)));
        let rearm = self.armed.is_none_or(|armed| at < armed);
        if rearm {
            self.armed = Some(at);
        }
        Admitted::Waiting { rearm }
    }

    /// How the call waiting for `id` wants its result's value read.
    pub(super) fn shape(&self, id: &Uuid) -> Option<Shape> {
        self.waiting.get(id).map(|w| w.shape)
    }

    pub(super) fn remove(&mut self, id: &Uuid) -> Option<oneshot::Sender<Outcome>> {
        self.waiting.remove(id).map(|w| w.reply)
    }

    /// When the watchdog is to wake next.
    pub(super) fn armed(&self) -> Option<Instant> {
        self.armed
    }

    /// Takes the calls whose deadline is `now` or earlier, and arms the
    /// watchdog for the next deadline.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<oneshot::Sender<Outcome>> {
        let mut expired = Vec::new();
        while let Some(&Reverse((at, id))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            if is_current(&self.waiting, at, &id)
                && let Some(w) = self.waiting.remove(&id)
            {
                expired.push(w.reply);
            }
        }
        self.armed = self.deadlines.peek().map(|Reverse((at, _))| *at);
        expired
    }

    /// Refuses new calls and hands back every waiting one.
    pub(super) fn close(&mut self) -> Vec<oneshot::Sender<Outcome>> {
        self.closed = true;
        self.deadlines.clear();
        self.armed = None;
        self.waiting.drain().map(|(_, w)| w.reply).collect()
    }
}

/// Whether the heap entry `(at, id)` is a waiting call's deadline, not
/// one left behind by an answered or forgotten call.
fn is_current(waiting: &HashMap<Uuid, Waiting, Quick>, at: Instant, id: &Uuid) -> bool {
    waiting.get(id).is_some_and(|w| w.deadline == Some(at))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn waiting(pending: &mut PendingCalls, id: Uuid, deadline: Option<Instant>) -> Admitted {
        pending.insert(id, oneshot::channel().0, deadline, Shape::Tree)
    }

    #[test]
    fn a_call_is_found_by_its_id_and_only_once() {
        let mut pending = PendingCalls::default();
        let ids: Vec<Uuid> = (0..1_000).map(|_| crate::ids::next_uuid()).collect();
        let mut answers = Vec::new();
        let at = Instant::now() + Duration::from_secs(30);
        for id in &ids {
            let (reply, answer) = oneshot::channel();
            assert_ne!(
                pending.insert(*id, reply, Some(at), Shape::Tree),
                Admitted::Refused
            );
            answers.push(answer);
        }
        for id in ids.iter().rev() {
            assert!(pending.remove(id).is_some(), "{id} is pending");
            assert!(pending.remove(id).is_none(), "{id} was taken already");
        }
        assert!(pending.close().is_empty());
        assert_eq!(
            waiting(&mut pending, ids[0], Some(at)),
            Admitted::Refused,
            "a closed session takes no call"
        );
    }

    #[test]
    fn calls_expire_at_their_deadline_in_order_and_answered_ones_never() {
        let mut pending = PendingCalls::default();
        let t0 = Instant::now();
        let at = |ms| Some(t0 + Duration::from_millis(ms));
        let id = Uuid::from_u128;
        assert_eq!(
            waiting(&mut pending, id(1), at(300)),
            Admitted::Waiting { rearm: true }
        );
        assert_eq!(
            waiting(&mut pending, id(2), at(400)),
            Admitted::Waiting { rearm: false },
            "a later deadline leaves the watchdog as it is"
        );
        assert_eq!(
            waiting(&mut pending, id(3), at(100)),
            Admitted::Waiting { rearm: true },
            "an earlier one wakes it sooner"
        );
        waiting(&mut pending, id(4), None);
        assert_eq!(pending.armed(), at(100));
        assert!(pending.remove(&id(3)).is_some(), "answered in time");

        assert!(pending.expire(t0 + Duration::from_millis(299)).is_empty());
        assert_eq!(pending.armed(), at(300), "the answered call is skipped");
        assert_eq!(pending.expire(t0 + Duration::from_millis(300)).len(), 1);
        assert!(pending.remove(&id(1)).is_none(), "the expired call is gone");
        assert_eq!(pending.armed(), at(400));
        assert_eq!(pending.expire(t0 + Duration::from_secs(3_600)).len(), 1);
        assert_eq!(pending.armed(), None);
        assert!(
            pending.remove(&id(4)).is_some(),
            "a call without a deadline waits for its answer"
        );
    }

    #[test]
    fn answered_calls_do_not_pile_up_in_the_deadline_heap() {
        let mut pending = PendingCalls::default();
        let t0 = Instant::now();
        let live = Uuid::from_u128(u128::MAX);
        waiting(&mut pending, live, Some(t0 + Duration::from_secs(60)));
        for n in 0..100_000u128 {
            let at = t0 + Duration::from_secs(30) + Duration::from_nanos(n as u64);
            waiting(&mut pending, Uuid::from_u128(n), Some(at));
            pending.remove(&Uuid::from_u128(n));
            assert!(
                pending.deadlines.len() <= 2 * (pending.waiting.len() + 1) + SLACK,
                "{} heap entries for {} calls",
                pending.deadlines.len(),
                pending.waiting.len()
            );
        }
        assert!(
            pending
                .armed()
                .is_some_and(|a| a <= t0 + Duration::from_secs(60)),
            "the watchdog still wakes for the live call"
        );
        assert_eq!(pending.expire(t0 + Duration::from_secs(60)).len(), 1);
    }
}
