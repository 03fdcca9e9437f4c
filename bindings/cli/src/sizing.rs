//! Finding the L1 size that gives a row its hit rate, by measuring the real
//! L1.
//!
//! The ideal size (the `k` hottest keys that take the row's share of reads)
//! is too small: L1 evicts with CLOCK over 64 shards and admits every fill,
//! so one-time keys keep displacing warm ones (the 50 % row measured 33 %
//! at the ideal size). How much more room it needs depends on the store and
//! on the hash seed of each cache, so the demo does not model it: it builds
//! a cache of a candidate size, fills it with the hottest keys, reads the
//! row's workload through it and measures the hit rate, then moves the size
//! (a secant step on `ln size`, inside the sizes known to be too small and
//! too large) until the rate is within [`TOLERANCE`] of the target. The
//! cache that got there is the one the row then measures, so the hash seed
//! it was sized under is the one it runs with.
//!
//! The search reads fast: misses are collected and fetched [`BATCH`] at a
//! time with one `MGET` (which fills L1 like a `GET` does), instead of one
//! round trip each. A key read again while its fill is pending counts as a
//! hit, as it would be once filled; the fills land up to a batch later than
//! one at a time, which the measured rows then show (their hit rate is
//! measured and printed, not assumed).

use bytes::Bytes;
use nearcache::{Cache, Lookup};

use crate::zipf::{Draws, Zipf};
use crate::Result;

/// How close to the target a measured search rate must come.
pub(crate) const TOLERANCE: f64 = 0.003;
/// Misses fetched per MGET while searching.
const BATCH: usize = 8;
/// Sizes tried per row at most (the closest one wins if none is in tolerance).
const MAX_TRIALS: usize = 10;
/// Reads measured per trial (after its warming reads).
const MEASURED_READS: u64 = 20_000;

/// A cache sized for a row, warm, with what the search measured.
pub(crate) struct Sized {
    pub cache: Cache,
    /// Entries L1 holds.
    pub l1_keys: usize,
    /// The hit rate the last trial measured.
    pub search_rate: f64,
    /// Sizes tried.
    pub trials: usize,
}

/// One trial: a size and the hit rate it gave.
struct Trial {
    keys: usize,
    rate: f64,
}

/// Searches the L1 size for `target` (> 0), each trial a fresh cache from
/// `new_cache(max_bytes)`; `draws` continues into the row's measurement.
pub(crate) fn size_for(
    new_cache: &dyn Fn(u64) -> Result<Cache>,
    keys: &[Bytes],
    zipf: &Zipf,
    target: f64,
    entry_bytes: u64,
    start: usize,
    draws: &mut Draws,
) -> Result<Sized> {
    let n = keys.len();
    let (mut too_small, mut too_large) = (0usize, n + 1);
    let mut trials: Vec<Trial> = Vec::new();
    let mut best: Option<(f64, Sized)> = None;
    let mut size = start.clamp(1, n);
    for trial in 1..=MAX_TRIALS {
        let cache = new_cache(size as u64 * entry_bytes)?;
        nearcache::block_on(cache.connect())??;
        for chunk in keys[..size].chunks(500) {
            nearcache::block_on(cache.get_many(chunk))??;
        }
        // Warm until the cold part of L1 has turned over about twice (capped),
        // then measure.
        let warm = ((2 * size) as f64 / (1.0 - target).max(0.01)).clamp(5_000.0, 100_000.0) as u64;
        batched_reads(&cache, keys, zipf, draws, warm)?;
        let (hits, reads) = batched_reads(&cache, keys, zipf, draws, MEASURED_READS)?;
        let rate = hits as f64 / reads.max(1) as f64;
        let miss_by = (rate - target).abs();
        let sized = Sized { cache, l1_keys: size, search_rate: rate, trials: trial };
        if miss_by <= TOLERANCE {
            return Ok(sized);
        }
        if best.as_ref().is_none_or(|(by, _)| miss_by < *by) {
            if let Some((_, old)) = best.replace((miss_by, sized)) {
                old.cache.close();
            }
        } else {
            sized.cache.close();
        }
        if rate < target {
            too_small = too_small.max(size);
        } else {
            too_large = too_large.min(size);
        }
        trials.push(Trial { keys: size, rate });
        let Some(next) = next_size(&trials, zipf, target, too_small, too_large) else { break };
        size = next;
    }
    let (_, mut sized) = best.ok_or("the L1 size search tried no size")?;
    sized.trials = trials.len();
    Ok(sized)
}

/// The next size to try, strictly between the sizes known to be too small
/// and too large; `None` when no integer size is left between them.
fn next_size(trials: &[Trial], zipf: &Zipf, target: f64, too_small: usize, too_large: usize) -> Option<usize> {
    if too_large <= too_small + 1 {
        return None;
    }
    let last = trials.last()?;
    let ln_last = (last.keys as f64).ln();
    // Hit rate gained per unit of ln(size): from the last two trials when
    // they differ, else from the ideal CDF (the real L1 grows about as fast).
    let slope = match trials.len() {
        0 | 1 => zipf.slope_at(last.keys),
        len => {
            let prev = &trials[len - 2];
            let d_ln = ln_last - (prev.keys as f64).ln();
            if d_ln.abs() > 1e-9 && (last.rate - prev.rate).abs() > 1e-6 {
                (last.rate - prev.rate) / d_ln
            } else {
                zipf.slope_at(last.keys)
            }
        }
    };
    let guess = if slope > 1e-6 {
        (ln_last + (target - last.rate) / slope).exp()
    } else if last.rate < target {
        last.keys as f64 * 2.0
    } else {
        last.keys as f64 / 2.0
    };
    // Stay inside the bracket; a guess outside it bisects instead.
    let (low, high) = (too_small + 1, too_large - 1);
    let guess = guess.round().max(1.0) as usize;
    let next = if (low..=high).contains(&guess) {
        guess
    } else if too_large > zipf.len() {
        // No size is known to be too large yet: grow, at most fourfold.
        guess.clamp(low, (last.keys * 4).min(high).max(low))
    } else {
        too_small + (too_large - too_small) / 2
    };
    (next != last.keys).then_some(next.clamp(low, high))
}

/// `count` reads of the workload through `cache`, misses fetched `BATCH` at
/// a time; returns (hits, reads).
fn batched_reads(cache: &Cache, keys: &[Bytes], zipf: &Zipf, draws: &mut Draws, count: u64) -> Result<(u64, u64)> {
    let mut pending: Vec<usize> = Vec::with_capacity(BATCH);
    let mut hits = 0u64;
    for _ in 0..count {
        let rank = zipf.sample(draws);
        match cache.get_local(&keys[rank])? {
            Lookup::Hit(_) | Lookup::Absent => hits += 1,
            Lookup::Miss if pending.contains(&rank) => hits += 1,
            Lookup::Miss => {
                pending.push(rank);
                if pending.len() == BATCH {
                    fetch(cache, keys, &mut pending)?;
                }
            }
        }
    }
    fetch(cache, keys, &mut pending)?;
    Ok((hits, count))
}

fn fetch(cache: &Cache, keys: &[Bytes], pending: &mut Vec<usize>) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let batch: Vec<&Bytes> = pending.iter().map(|&r| &keys[r]).collect();
    nearcache::block_on(cache.get_many(&batch))??;
    pending.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_step_follows_the_ideal_slope_and_stays_in_the_bracket() {
        let zipf = Zipf::new(10_000, 1.0);
        // 75 keys measured 36 % for a 50 % target: grow, by at most 4x.
        let next = next_size(&[Trial { keys: 75, rate: 0.36 }], &zipf, 0.5, 75, 10_001);
        assert!(next.is_some_and(|n| n > 75 && n <= 300), "{next:?}");
        // Overshot: come back down, but not to or below the known-too-small size.
        let trials = [Trial { keys: 75, rate: 0.36 }, Trial { keys: 300, rate: 0.55 }];
        let next = next_size(&trials, &zipf, 0.5, 75, 300);
        assert!(next.is_some_and(|n| n > 75 && n < 300), "{next:?}");
        // Nothing left between the bounds.
        assert_eq!(next_size(&trials, &zipf, 0.5, 200, 201), None);
    }
}
