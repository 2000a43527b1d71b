//! Random numbers without a random-number crate: unguessable ids, and
//! backoff jitter, all from the OS's random source (a keyed hash of a
//! counter where it gives none).
//!
//! Invocation and trigger ids must be UUIDs (the engine rejects anything
//! else), and unguessable (see [`next_uuid`]). Drawing 16 random bytes
//! from the OS for every call costs a system call, so each thread draws
//! them a few hundred ids at a time. Trace and span ids need only be
//! unique: they come from a per-thread sequence seeded from that source
//! ([`quick_u64`]).

use std::cell::{Cell, RefCell};
use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

/// How many ids' worth of OS randomness a thread draws at once.
const BATCH: usize = 256;

/// A fresh version-4 UUID that no other worker can predict.
///
/// It must not be guessable: the iii engine 0.23 takes the
/// `invocationresult` of a pending call from any worker that names its
/// invocation id (and passes a caller's id on to the callee), so a worker
/// that could predict a caller's next ids from one it saw could answer
/// that caller's other calls. Each id is 122 bits from the OS's random
/// source (`getrandom`), which each thread draws [`BATCH`] ids at a time
/// (one system call per 4 KiB). (A process that forks without `exec`
/// would share its threads' unused draws with the child.)
pub(crate) fn next_uuid() -> Uuid {
    uuid::Builder::from_u128(random_u128())
        .with_version(uuid::Version::Random)
        .with_variant(uuid::Variant::RFC4122)
        .into_uuid()
}

/// 128 bits from the OS's random source, drawn [`BATCH`] at a time per
/// thread (see [`next_uuid`]); for invocation, trace and span ids.
pub(crate) fn random_u128() -> u128 {
    thread_local! {
        static POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; BATCH * 16], used: BATCH }) };
    }
    let drawn = POOL
        .try_with(|pool| pool.try_borrow_mut().ok().and_then(|mut p| p.take()))
        .ok()
        .flatten();
    drawn.unwrap_or_else(hashed)
}

/// One thread's unused OS randomness.
struct Pool {
    bytes: [u8; BATCH * 16],
    /// How many of its ids are used up.
    used: usize,
}

impl Pool {
    /// The next 16 random bytes; `None` if the OS gives none.
    fn take(&mut self) -> Option<u128> {
        if self.used == BATCH {
            getrandom::fill(&mut self.bytes).ok()?;
            self.used = 0;
        }
        let start = self.used * 16;
        let mut id = [0u8; 16];
        id.copy_from_slice(&self.bytes[start..start + 16]);
        // Not left behind for anything that reads this memory later.
        self.bytes[start..start + 16].fill(0);
        self.used += 1;
        Some(u128::from_le_bytes(id))
    }
}

/// Without OS randomness (or while a thread is being torn down): a hash
/// of a counter, keyed by std's `RandomState`, whose keys the OS or the
/// time seeded. Unique, and hard to guess, though not a cryptographic
/// generator.
fn hashed() -> u128 {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let keys = KEYS.get_or_init(RandomState::new);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let high = keys.hash_one((n, 0u8));
    let low = keys.hash_one((n, 1u8));
    (u128::from(high) << 64) | u128::from(low)
}

/// 64 bits for ids that must be unique but need not be unguessable: trace
/// and span ids, which say which work belongs together and grant nothing.
/// A per-thread SplitMix64 sequence, seeded once from the OS's randomness
/// ([`random_u128`]): a thread's draws never repeat (the mix is a
/// bijection of a counter), and two threads' sequences start 64 random
/// bits apart. Two of a call's three ids used to come from the pool, and
/// its refills (4 KiB of the kernel's ChaCha each 256 ids) were 0.6% of
/// the SDK pair's CPU against the real engine.
pub(crate) fn quick_u64() -> u64 {
    thread_local! {
        static NEXT: Cell<Option<u64>> = const { Cell::new(None) };
    }
    NEXT.try_with(|next| {
        let counter = next
            .get()
            .unwrap_or_else(|| random_u128() as u64)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        next.set(Some(counter));
        split_mix(counter)
    })
    // A thread being torn down: the pool's fallback.
    .unwrap_or_else(|_| random_u128() as u64)
}

/// SplitMix64's output function: a bijection that spreads every input
/// bit over the output.
fn split_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in `[0, 1)` for backoff jitter, from the same randomness as
/// the ids.
pub(crate) fn unit_random() -> f64 {
    (random_u128() >> 75) as f64 / (1u64 << 53) as f64
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

    /// Ids from many threads at once are all distinct: each draws its own
    /// randomness, across refills of its pool.
    #[test]
    fn ids_from_many_threads_never_collide() {
        let threads: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..5 * BATCH).map(|_| next_uuid()).collect::<Vec<_>>()))
            .collect();
        let mut all = HashSet::new();
        for thread in threads {
            for id in thread.join().expect("a thread") {
                assert!(all.insert(id), "{id} came twice");
            }
        }
        assert_eq!(all.len(), 8 * 5 * BATCH);
    }

    /// Every bit of an id but the version and variant varies: none is
    /// fixed by the scheme (as a prefix or a counter would be). Each bit is
    /// set in about half of 4,096 ids; a fixed bit is set in none or all.
    #[test]
    fn no_bit_of_an_id_is_fixed() {
        let mut ones = [0u32; 128];
        for _ in 0..4096 {
            let bits = next_uuid().as_u128();
            for (i, count) in ones.iter_mut().enumerate() {
                *count += ((bits >> i) & 1) as u32;
            }
        }
        let fixed = |i: usize| (76..80).contains(&i) || (62..64).contains(&i);
        for (i, count) in ones.iter().enumerate().filter(|(i, _)| !fixed(*i)) {
            assert!(
                (1700..2400).contains(count),
                "bit {i} was set in {count} of 4096 ids"
            );
        }
    }

    #[test]
    fn the_fallback_is_unique_too() {
        let ids: HashSet<u128> = (0..10_000).map(|_| hashed()).collect();
        assert_eq!(ids.len(), 10_000);
    }

    /// Quick ids from many threads at once are all distinct, and every
    /// bit varies.
    #[test]
    fn quick_ids_are_unique_across_threads_and_no_bit_is_fixed() {
        let threads: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..4096).map(|_| quick_u64()).collect::<Vec<_>>()))
            .collect();
        let mut all = HashSet::new();
        let mut ones = [0u32; 64];
        for thread in threads {
            for id in thread.join().expect("a thread") {
                assert!(all.insert(id), "{id:x} came twice");
                for (i, count) in ones.iter_mut().enumerate() {
                    *count += ((id >> i) & 1) as u32;
                }
            }
        }
        for (i, count) in ones.iter().enumerate() {
            assert!(
                (14_500..18_300).contains(count),
                "bit {i} was set in {count} of 32768 ids"
            );
        }
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let draws: Vec<f64> = (0..1000).map(|_| unit_random()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
    }
}
