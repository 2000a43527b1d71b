//! The trace context the engine puts on the invocations it routes: a
//! fresh `traceparent` for what it starts itself, and the baggage entry
//! naming the target of a worker's call.

/// `baggage` with its `iii.function.id` entry set to `function_id`, as the
/// engine rewrites it on a worker's call.
pub(super) fn naming_target(baggage: Option<&str>, function_id: &str) -> String {
    let mut entries: Vec<&str> = baggage
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .filter(|e| e.split('=').next().map(str::trim) != Some("iii.function.id"))
        .collect();
    let named = format!("iii.function.id={function_id}");
    entries.push(&named);
    entries.join(",")
}

/// A fresh W3C traceparent (`00-<32 hex>-<16 hex>-01`), without a system
/// call: std's per-process random hash keys seed a hash of a counter.
pub(super) fn new_traceparent() -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let keys = KEYS.get_or_init(RandomState::new);
    let next = || keys.hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("00-{:016x}{:016x}-{:016x}-01", next(), next(), next() | 1)
}

#[cfg(test)]
mod tests {
    use super::{naming_target, new_traceparent};

    #[test]
    fn baggage_names_the_target_once() {
        assert_eq!(naming_target(None, "a::b"), "iii.function.id=a::b");
        assert_eq!(
            naming_target(Some("k=v, iii.function.id=old"), "a::b"),
            "k=v,iii.function.id=a::b"
        );
    }

    #[test]
    fn traceparents_are_well_formed_and_distinct() {
        let a = new_traceparent();
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(
            (parts[0], parts[1].len(), parts[2].len(), parts[3]),
            ("00", 32, 16, "01")
        );
        assert!(
            parts[1]
                .chars()
                .chain(parts[2].chars())
                .all(|c| c.is_ascii_hexdigit())
        );
        assert_ne!(a, new_traceparent());
    }
}
