//! Time for the L1 tier: a cheap monotonic clock, replaceable in tests.
//!
//! The L1 hit path checks expiry on every read, and `Instant::now()` costs
//! about as much as the whole hash lookup (20-25 ns through the vDSO). L1
//! deadlines are seconds long and the staleness bound is `max_staleness`
//! (2 s by default), so a clock with a few milliseconds of resolution is
//! enough: on Linux we read `CLOCK_MONOTONIC_COARSE` (about 5 ns, one
//! scheduler tick of resolution). Tests inject a [`Clock::manual`] clock and
//! move it by hand, so TTL tests never sleep.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A monotonic clock in nanoseconds from an arbitrary origin.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The process's coarse monotonic clock.
    #[default]
    System,
    /// A clock that only moves when a test advances it.
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A manual clock starting at an arbitrary non-zero time.
    pub fn manual() -> Self {
        Clock::Manual(Arc::new(AtomicU64::new(1_000_000_000)))
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if let Clock::Manual(now) = self {
            now.fetch_add(duration_nanos(by), Ordering::SeqCst);
        }
    }

    /// The current time in nanoseconds.
    #[inline]
    pub fn now(&self) -> u64 {
        match self {
            Clock::System => coarse_now(),
            Clock::Manual(now) => now.load(Ordering::SeqCst),
        }
    }
}

/// A duration in nanoseconds, saturating (durations of centuries are "never").
#[inline]
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(target_os = "linux")]
#[inline]
fn coarse_now() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE is
    // always available on Linux, and the call cannot fail with valid pointers.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts);
    }
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
#[inline]
fn coarse_now() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    duration_nanos(ORIGIN.get_or_init(Instant::now).elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = Clock::manual();
        let t0 = clock.now();
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), t0 + 1_500_000_000);
    }

    #[test]
    fn system_clock_is_monotonic() {
        let clock = Clock::System;
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a);
        assert!(a > 0);
    }
}
