//! Cheap unique ids and jitter without a random-number crate.
//!
//! Invocation and trigger ids must be UUIDs (the engine rejects anything
//! else), and unguessable (see [`next_uuid`]). Drawing 16 random bytes
//! from the OS for every call costs a system call, so each id is a keyed
//! hash of a counter instead.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use uuid::Uuid;

pub(crate) fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to time and pid, which still differ per process.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        return nanos ^ (u64::from(std::process::id()) << 32);
    }
    u64::from_le_bytes(bytes)
}

/// A fresh version-4 UUID that no other worker can predict.
///
/// It must not be guessable: the iii engine 0.23 takes the
/// `invocationresult` of a pending call from any worker that names its
/// invocation id (and passes a caller's id on to the callee), so a worker
/// that could predict a caller's next ids from one it saw could answer
/// that caller's other calls. Each id is a keyed hash (std's SipHash, with
/// keys drawn from the OS once) of a counter: 122 unpredictable bits,
/// without a system call per id.
pub(crate) fn next_uuid() -> Uuid {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let keys = KEYS.get_or_init(RandomState::new);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let high = keys.hash_one((n, 0u8));
    let low = keys.hash_one((n, 1u8));
    uuid::Builder::from_u128((u128::from(high) << 64) | u128::from(low))
        .with_version(uuid::Version::Random)
        .with_variant(uuid::Variant::RFC4122)
        .into_uuid()
}

/// A number in `[0, 1)` for backoff jitter (xorshift64*, seeded once).
pub(crate) fn unit_random() -> f64 {
    static STATE: Mutex<u64> = Mutex::new(0);
    let mut state = STATE.lock().unwrap_or_else(|p| p.into_inner());
    if *state == 0 {
        *state = seed() | 1;
    }
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_version_4_uuids() {
        let ids: HashSet<Uuid> = (0..10_000).map(|_| next_uuid()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(10) {
            assert_eq!(id.get_version(), Some(uuid::Version::Random));
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            assert_eq!(Uuid::parse_str(&id.to_string()).ok(), Some(*id));
        }
    }

    #[test]
    fn ids_share_no_prefix_a_worker_could_learn() {
        // One id seen must tell nothing of the next: no common high half.
        let (a, b) = (next_uuid().as_u128() >> 64, next_uuid().as_u128() >> 64);
        assert_ne!(a, b);
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let draws: Vec<f64> = (0..1000).map(|_| unit_random()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
    }
}
