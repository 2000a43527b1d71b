//! Calls waiting on one session for their `invocationresult`.

use std::collections::HashMap;

use tokio::sync::oneshot;
use uuid::Uuid;

use super::Outcome;
use crate::hashing::Quick;

/// The waiting calls, and whether the session still takes new ones.
#[derive(Default)]
pub(super) struct PendingCalls {
    waiting: HashMap<Uuid, oneshot::Sender<Outcome>, Quick>,
    closed: bool,
}

impl PendingCalls {
    /// Adds a call; `false` if the session has ended (the call is refused,
    /// so no call is ever left on a session that can no longer answer it).
    pub(super) fn insert(&mut self, id: Uuid, reply: oneshot::Sender<Outcome>) -> bool {
        if self.closed {
            return false;
        }
        self.waiting.insert(id, reply);
        true
    }

    pub(super) fn remove(&mut self, id: &Uuid) -> Option<oneshot::Sender<Outcome>> {
        self.waiting.remove(id)
    }

    /// Refuses new calls and hands back every waiting one.
    pub(super) fn close(&mut self) -> Vec<oneshot::Sender<Outcome>> {
        self.closed = true;
        self.waiting.drain().map(|(_, reply)| reply).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_found_by_its_id_and_only_once() {
        let mut pending = PendingCalls::default();
        let ids: Vec<Uuid> = (0..1_000).map(|_| crate::ids::next_uuid()).collect();
        let mut answers = Vec::new();
        for id in &ids {
            let (reply, answer) = oneshot::channel();
            assert!(pending.insert(*id, reply));
            answers.push(answer);
        }
        for id in ids.iter().rev() {
            assert!(pending.remove(id).is_some(), "{id} is pending");
            assert!(pending.remove(id).is_none(), "{id} was taken already");
        }
        assert!(pending.close().is_empty());
    }
}
