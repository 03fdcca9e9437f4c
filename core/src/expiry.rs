//! TTL jitter and the TTL reply type.
//!
//! Jitter spreads expiry so keys written together do not expire together
//! (mass expiry makes Redis and the database behind it stall). It only ever
//! shortens a TTL: a caller who asks for 60 s never keeps data longer.

use std::cell::Cell;
use std::time::Duration;

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let local = 0u8;
    let addr = &local as *const u8 as u64;
    let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    (addr ^ time.rotate_left(17)) | 1
}

/// A uniform sample in `[0, 1)` from a per-thread xorshift generator; not
/// for cryptography, just for spreading deadlines.
pub(crate) fn unit_random() -> f64 {
    RNG.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// `ttl` shortened by a random fraction of up to `fraction` (0.1 = up to 10 %).
pub(crate) fn jitter(ttl: Duration, fraction: f64) -> Duration {
    if fraction <= 0.0 || ttl.is_zero() {
        return ttl;
    }
    let cut = ttl.mul_f64(fraction.min(1.0) * unit_random());
    // Never jitter a positive TTL down to zero: `SET PX 0` is an error.
    (ttl - cut).max(Duration::from_millis(1).min(ttl))
}

/// A key's remaining time to live, as `TTL`/`PTTL` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The key does not exist.
    Missing,
    /// The key exists and has no expiry.
    Persistent,
    /// The key expires after this long.
    Expires(Duration),
}

impl Ttl {
    /// Interprets a `PTTL` reply (-2 missing, -1 persistent, else milliseconds).
    pub(crate) fn from_pttl(ms: i64) -> Ttl {
        match ms {
            -2 => Ttl::Missing,
            ms if ms < 0 => Ttl::Persistent,
            ms => Ttl::Expires(Duration::from_millis(ms as u64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_the_fraction_and_varies() {
        let ttl = Duration::from_secs(100);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let j = jitter(ttl, 0.1);
            assert!(j <= ttl && j >= Duration::from_secs(90), "{j:?}");
            seen.insert(j.as_millis());
        }
        assert!(seen.len() > 100, "jitter does not vary: {} distinct values", seen.len());
        assert_eq!(jitter(ttl, 0.0), ttl);
        assert_eq!(jitter(Duration::from_millis(1), 1.0), Duration::from_millis(1));
    }

    #[test]
    fn pttl_replies_are_interpreted() {
        assert_eq!(Ttl::from_pttl(-2), Ttl::Missing);
        assert_eq!(Ttl::from_pttl(-1), Ttl::Persistent);
        assert_eq!(Ttl::from_pttl(1500), Ttl::Expires(Duration::from_millis(1500)));
    }
}
