//! A Zipf distribution over key ranks, and the L1 sizes it implies.
//!
//! With exponent `s`, the key of rank `r` (0 = hottest) is read with
//! probability proportional to `1 / (r + 1)^s`. An L1 that holds exactly the
//! `k` hottest keys answers a share `cdf(k)` of reads; `keys_for_hit_rate`
//! inverts that: the ideal size, a starting point only. A real L1 evicts by
//! recency (CLOCK) and admits every fill, so it holds roughly, not exactly,
//! the hottest keys and needs more room than that; the demo searches for the
//! size that gives the row's hit rate, measured (see `sizing.rs`).
//!
//! Draws are stratified ([`Draws`]): each block of [`BLOCK`] reads takes one
//! point from each of BLOCK equal slices of [0, 1), in random order.
//! Every read is still Zipf-distributed, but the share of reads that go to
//! the hottest `k` keys is exact to 1/BLOCK per block instead of wandering
//! by binomial noise, so a short run measures the hit rate its L1 gives,
//! not the luck of its draws.

/// The distribution, as its cumulative table.
pub(crate) struct Zipf {
    /// `cdf[r]`: the share of reads that go to ranks `0..=r`.
    cdf: Vec<f64>,
}

impl Zipf {
    /// `n` keys (at least 1), exponent `s` (0 is uniform).
    pub(crate) fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n.max(1));
        let mut total = 0.0;
        for rank in 0..n.max(1) {
            total += 1.0 / ((rank + 1) as f64).powf(s);
            cdf.push(total);
        }
        cdf.iter_mut().for_each(|c| *c /= total);
        Zipf { cdf }
    }

    /// The share of reads that go to the `k` hottest keys.
    pub(crate) fn cdf(&self, k: usize) -> f64 {
        match k {
            0 => 0.0,
            k => self.cdf[k.min(self.cdf.len()) - 1],
        }
    }

    /// The fewest hottest keys that take at least `rate` of the reads.
    pub(crate) fn keys_for_hit_rate(&self, rate: f64) -> usize {
        if rate <= 0.0 {
            return 0;
        }
        (self.cdf.partition_point(|&c| c < rate) + 1).min(self.cdf.len())
    }

    /// The local slope of the CDF around rank `k`: the hit rate gained per
    /// unit of `ln k`, from halving to doubling the ideal L1.
    pub(crate) fn slope_at(&self, k: usize) -> f64 {
        let k = k.max(1);
        let (low, high) = (k / 2, (k * 2).min(self.cdf.len()));
        let span = (high.max(1) as f64 / low.max(1) as f64).ln();
        if span <= 0.0 {
            return 0.0;
        }
        (self.cdf(high) - self.cdf(low)) / span
    }

    /// The number of keys.
    pub(crate) fn len(&self) -> usize {
        self.cdf.len()
    }

    /// A rank drawn from the distribution.
    #[inline]
    pub(crate) fn sample(&self, draws: &mut Draws) -> usize {
        let u = draws.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

/// Reads per stratified block.
pub(crate) const BLOCK: usize = 256;

/// Stratified uniform draws: one from each 1/BLOCK slice of [0, 1) per
/// block, the slices in a fresh random order each block.
pub(crate) struct Draws {
    rng: Rng,
    order: Vec<u32>,
    next: usize,
}

impl Draws {
    pub(crate) fn new(seed: u64) -> Draws {
        Draws { rng: Rng::new(seed), order: (0..BLOCK as u32).collect(), next: BLOCK }
    }

    /// Uniform in [0, 1).
    #[inline]
    pub(crate) fn unit(&mut self) -> f64 {
        if self.next == BLOCK {
            // Fisher-Yates.
            for i in (1..BLOCK).rev() {
                let j = (self.rng.next_u64() % (i as u64 + 1)) as usize;
                self.order.swap(i, j);
            }
            self.next = 0;
        }
        let slice = self.order[self.next];
        self.next += 1;
        (f64::from(slice) + self.rng.unit()) / BLOCK as f64
    }
}

/// xorshift64: fast, seeded, and the same on every machine.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    #[inline]
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_cdf() {
        let zipf = Zipf::new(10_000, 1.0);
        assert_eq!(zipf.keys_for_hit_rate(0.0), 0);
        assert_eq!(zipf.cdf(0), 0.0);
        assert!((zipf.cdf(10_000) - 1.0).abs() < 1e-12);
        for rate in [0.5, 0.7, 0.8, 0.9, 0.95, 0.99] {
            let k = zipf.keys_for_hit_rate(rate);
            assert!(zipf.cdf(k) >= rate, "{rate}: {k} keys give {}", zipf.cdf(k));
            assert!(zipf.cdf(k - 1) < rate, "{rate}: {k} is not the fewest");
        }
        // Harmonic numbers: H(10000) is about 9.79, so half the reads go to
        // about e^(4.89 - 0.577) = 75 keys.
        let half = zipf.keys_for_hit_rate(0.5);
        assert!((60..90).contains(&half), "{half}");
    }

    #[test]
    fn samples_follow_the_cdf() {
        let zipf = Zipf::new(1000, 1.0);
        let mut draws = Draws::new(7);
        let k = zipf.keys_for_hit_rate(0.8);
        let n = 200_000;
        let inside = (0..n).filter(|_| zipf.sample(&mut draws) < k).count();
        let share = inside as f64 / n as f64;
        assert!((share - zipf.cdf(k)).abs() < 0.01, "{share} vs {}", zipf.cdf(k));
    }

    #[test]
    fn stratified_blocks_cover_every_slice_once() {
        let mut draws = Draws::new(11);
        for _ in 0..3 {
            let mut seen = vec![false; BLOCK];
            for _ in 0..BLOCK {
                let u = draws.unit();
                assert!((0.0..1.0).contains(&u), "{u}");
                let slice = (u * BLOCK as f64) as usize;
                assert!(!seen[slice], "slice {slice} twice in one block");
                seen[slice] = true;
            }
        }
        // So a block's share below any point is exact to one slice: far
        // tighter than the ~3 % binomial noise of 256 independent draws.
        let mut draws = Draws::new(12);
        for _ in 0..20 {
            let below = (0..BLOCK).filter(|_| draws.unit() < 0.5).count();
            assert!((127..=129).contains(&below), "{below}");
        }
    }

    #[test]
    fn the_slope_is_positive_inside_and_zero_past_the_end() {
        let zipf = Zipf::new(10_000, 1.0);
        // For s = 1 the CDF grows by about 1 / H(n) = 0.10 per unit of ln k.
        let slope = zipf.slope_at(100);
        assert!((0.08..0.12).contains(&slope), "{slope}");
        assert_eq!(zipf.len(), 10_000);
        assert!(zipf.slope_at(20_000) < 0.05);
    }

    #[test]
    fn exponent_zero_is_uniform() {
        let zipf = Zipf::new(100, 0.0);
        assert!((zipf.cdf(50) - 0.5).abs() < 1e-12);
        assert!((89..=91).contains(&zipf.keys_for_hit_rate(0.9)));
    }
}
