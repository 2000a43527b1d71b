//! The hasher of the maps an invocation looks up: pending calls by
//! invocation id, and this worker's functions by id.
//!
//! std's SipHash is keyed so that nobody can choose keys that pile up in
//! one bucket. These maps need no key: every entry is inserted by this
//! process (its own calls' random ids, its own registrations), and a key
//! from the wire only looks one up, which cannot make the table any worse.
//! A multiply-and-rotate over 8 bytes at a time is then as good, and a
//! SipHash per lookup was a tenth of the SDK's own work on a call.

use std::hash::{BuildHasherDefault, Hasher};

/// The [`std::hash::BuildHasher`] of those maps.
pub(crate) type Quick = BuildHasherDefault<QuickHasher>;

/// See the module documentation.
#[derive(Default)]
pub(crate) struct QuickHasher(u64);

/// An odd constant with well-spread bits (from the golden ratio).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl QuickHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(MIX);
    }
}

impl Hasher for QuickHasher {
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits the weakest: hashbrown takes the
        // bucket from them, so fold the high half down.
        self.0 ^ (self.0 >> 32)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::*;

    /// hashbrown picks the bucket from the low bits and keeps the top 7 in
    /// its control bytes: for a map to work, both must vary with the key.
    fn spread(hashes: &[u64]) -> (usize, usize, usize) {
        let distinct: HashSet<u64> = hashes.iter().copied().collect();
        let low: HashSet<u64> = hashes.iter().map(|h| h & 0xff).collect();
        let top: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        (distinct.len(), low.len(), top.len())
    }

    #[test]
    fn invocation_ids_spread_over_the_buckets_and_the_control_bits() {
        let hashes: Vec<u64> = (0..10_000)
            .map(|_| Quick::default().hash_one(crate::ids::next_uuid()))
            .collect();
        assert_eq!(spread(&hashes), (10_000, 256, 128));
    }

    #[test]
    fn function_ids_that_differ_in_one_character_spread_too() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("bench::f{i}")).collect();
        let aliases: Vec<String> = (0..10_000)
            .map(|i| format!("orders::create::trigger::{i}"))
            .collect();
        for keys in [ids, aliases] {
            let hashes: Vec<u64> = keys.iter().map(|k| Quick::default().hash_one(k)).collect();
            assert_eq!(spread(&hashes), (10_000, 256, 128), "{}", keys[0]);
        }
    }
}
