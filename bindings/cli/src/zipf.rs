//! A Zipf distribution over key ranks, and the L1 sizes it implies.
//!
//! With exponent `s`, the key of rank `r` (0 = hottest) is read with
//! probability proportional to `1 / (r + 1)^s`. An L1 that holds exactly the
//! `k` hottest keys answers a share `cdf(k)` of reads; `keys_for_hit_rate`
//! inverts that, which is how the demo picks its L1 sizes. A real L1 evicts
//! by recency (CLOCK), so it holds roughly, not exactly, the hottest keys,
//! and the demo prints the hit rate it measured beside the target.

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
    #[cfg(test)]
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

    /// A rank drawn from the distribution.
    #[inline]
    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
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
        let mut rng = Rng::new(7);
        let k = zipf.keys_for_hit_rate(0.8);
        let n = 200_000;
        let inside = (0..n).filter(|_| zipf.sample(&mut rng) < k).count();
        let share = inside as f64 / n as f64;
        assert!((share - zipf.cdf(k)).abs() < 0.01, "{share} vs {}", zipf.cdf(k));
    }

    #[test]
    fn exponent_zero_is_uniform() {
        let zipf = Zipf::new(100, 0.0);
        assert!((zipf.cdf(50) - 0.5).abs() < 1e-12);
        assert!((89..=91).contains(&zipf.keys_for_hit_rate(0.9)));
    }
}
