//! Expiry: keys that expire together stall the server together.
//!
//! - `lazyfree` (warning): expired values are freed on the
//!   main thread, so a big value, or many at once, blocks every client.
//! - `mass-expiry` (warning): many sampled keys expire within the same
//!   second, far above the sample's average rate: they were written with
//!   one TTL at one time, and will expire (and be refetched) together.

use super::facts::Facts;
use super::{Finding, Findings, Severity};

/// Fewer keys than this expiring together is never a spike.
const MIN_PEAK: usize = 10;
/// The peak must hold at least this share of the sampled keys with a TTL...
const MIN_PEAK_SHARE: f64 = 0.10;
/// ...and this many times the sample's average per second (unless every
/// key expires within two seconds).
const MIN_PEAK_OVER_MEAN: f64 = 5.0;

pub(crate) fn check(facts: &Facts, out: &mut Findings) {
    lazyfree(facts, out);
    mass_expiry(facts, out);
}

fn lazyfree(facts: &Facts, out: &mut Findings) {
    match facts.config("lazyfree-lazy-expire") {
        None => out.skip("lazyfree", "CONFIG GET lazyfree-lazy-expire did not answer"),
        Some("yes") => out.ok("lazyfree", "lazyfree-lazy-expire is yes"),
        Some(value) => {
            let mut details =
                vec!["expired keys are freed on the main thread: a big value expiring blocks every client".to_owned()];
            let also_off: Vec<&str> = ["lazyfree-lazy-eviction", "lazyfree-lazy-user-del"]
                .into_iter()
                .filter(|name| facts.config(name) == Some("no"))
                .collect();
            if !also_off.is_empty() {
                details.push(format!("also off: {}", also_off.join(", ")));
            }
            out.add(Finding {
                id: "lazyfree",
                severity: Severity::Warning,
                title: format!("lazyfree-lazy-expire is {value}"),
                details,
                fix: "CONFIG SET lazyfree-lazy-expire yes (and lazyfree-lazy-eviction yes, lazyfree-lazy-user-del \
                      yes), and the same in redis.conf"
                    .into(),
            });
        }
    }
}

fn mass_expiry(facts: &Facts, out: &mut Findings) {
    let Ok(sample) = &facts.sample else {
        out.skip("mass-expiry", "the key sample could not be read");
        return;
    };
    let mut expiries: Vec<u64> = sample.keys.iter().filter_map(|k| k.expires_at_ms).collect();
    expiries.sort_unstable();
    let n = expiries.len();
    if n < MIN_PEAK {
        out.ok("mass-expiry", format!("{n} sampled keys have a TTL"));
        return;
    }
    // The most expiries within any one-second window (two pointers).
    let (mut peak, mut peak_at, mut lo) = (0, 0, 0);
    for hi in 0..n {
        while expiries[hi] - expiries[lo] >= 1000 {
            lo += 1;
        }
        if hi + 1 - lo > peak {
            (peak, peak_at) = (hi + 1 - lo, expiries[lo]);
        }
    }
    let span_s = ((expiries[n - 1] - expiries[0]) as f64 / 1000.0).max(1.0);
    let mean_per_s = n as f64 / span_s;
    // Every key expiring within a couple of seconds is a spike by itself;
    // otherwise the peak must stand out from the sample's steady rate.
    let stands_out = span_s < 2.0 || peak as f64 >= MIN_PEAK_OVER_MEAN * mean_per_s;
    let spike = peak >= MIN_PEAK && peak as f64 >= MIN_PEAK_SHARE * n as f64 && stands_out;
    if !spike {
        out.ok("mass-expiry", format!("at most {peak} of {n} sampled keys with a TTL expire within one second"));
        return;
    }
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let scaled = (peak as f64 / sample.keys.len().max(1) as f64 * sample.dbsize as f64).round();
    out.add(Finding {
        id: "mass-expiry",
        severity: Severity::Warning,
        title: format!("{peak} of {n} sampled keys with a TTL expire within the same second"),
        details: vec![
            format!(
                "in about {} s; about {scaled} keys of the database, if the sample is representative",
                peak_at.saturating_sub(now_ms) / 1000
            ),
            format!("the sample's average is {mean_per_s:.1} expiries per second"),
            "keys written together with one TTL expire together: a latency spike, then a stampede of refetches".into(),
        ],
        fix: "add jitter to TTLs when writing (nearcache does by default: write.ttl_jitter = 0.1), and set \
              lazyfree-lazy-expire yes"
            .into(),
    });
}

#[cfg(test)]
mod tests {
    use super::super::testing::{facts, key};
    use super::*;

    #[test]
    fn lazyfree_off_is_found_and_yes_is_fine() {
        let mut out = Findings::default();
        check(&facts(&[("lazyfree-lazy-expire", "no")], vec![]), &mut out);
        assert_eq!(out.ids(), ["lazyfree"]);
        let mut out = Findings::default();
        check(&facts(&[("lazyfree-lazy-expire", "yes")], vec![]), &mut out);
        assert!(out.ids().is_empty());
    }

    #[test]
    fn keys_expiring_together_are_a_spike_and_spread_ones_are_not() {
        let base = 4_000_000_000_000u64;
        let together: Vec<_> = (0..200).map(|i| key(&format!("k{i}"), 10, Some(base + i * 3))).collect();
        let mut out = Findings::default();
        check(&facts(&[("lazyfree-lazy-expire", "yes")], together), &mut out);
        assert_eq!(out.ids(), ["mass-expiry"]);

        let spread: Vec<_> = (0..200).map(|i| key(&format!("k{i}"), 10, Some(base + i * 7_000))).collect();
        let mut out = Findings::default();
        check(&facts(&[("lazyfree-lazy-expire", "yes")], spread), &mut out);
        assert!(out.ids().is_empty());
    }
}
