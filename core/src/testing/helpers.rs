//! Small helpers the integration tests used to copy into each file.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::{Cache, Lookup};

/// `s` as [`Bytes`], for comparing with what the cache returns.
pub fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Polls `done` every 5 ms until it holds, panicking with `what` after
/// `limit`: invalidations arrive asynchronously, so tests wait for the
/// effect, never for a fixed time.
pub async fn eventually(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Whether L1 answers `key` without Redis (a hit or a cached absence); an
/// error counts as not answered.
pub fn answered_locally(cache: &Cache, key: &str) -> bool {
    matches!(cache.get_local(key.as_bytes()), Ok(Lookup::Hit(_) | Lookup::Absent))
}
