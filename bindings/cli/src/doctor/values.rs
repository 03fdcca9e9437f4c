//! Values: big ones hurt p99, hot ones load one server core.
//!
//! - `big-values-10k` (warning) and `big-values-1k` (info): sampled keys
//!   whose `MEMORY USAGE` is above 10 KiB / 1 KiB. Moving a 100 KiB value
//!   takes longer than a round trip and blocks the server meanwhile.
//! - `hot-keys` (warning): sampled keys with a high LFU counter (`OBJECT
//!   FREQ`), readable only under an LFU `maxmemory-policy`.

use super::facts::{Facts, SampledKey};
use super::{show_key, Finding, Findings, Severity};
use crate::table::size;

const BIG: u64 = 10 * 1024;
const LARGE: u64 = 1024;
/// An LFU counter this high means, with the default `lfu-log-factor` of 10,
/// about 10,000 recent reads (the counter grows logarithmically and decays
/// by one per minute).
pub(crate) const HOT_FREQ: i64 = 50;
const SHOWN: usize = 5;

pub(crate) fn check(facts: &Facts, out: &mut Findings) {
    let Ok(sample) = &facts.sample else {
        for id in ["big-values-10k", "big-values-1k", "hot-keys"] {
            out.skip(id, "the key sample could not be read");
        }
        return;
    };
    let mut sized: Vec<(&SampledKey, u64)> = sample.keys.iter().filter_map(|k| Some((k, k.bytes?))).collect();
    sized.sort_by_key(|s| std::cmp::Reverse(s.1));
    let n = sample.keys.len();
    let over = |limit: u64| sized.iter().filter(|(_, b)| *b > limit).count();
    let listing = |limit: u64| -> Vec<String> {
        sized
            .iter()
            .filter(|(_, b)| *b > limit)
            .take(SHOWN)
            .map(|(k, b)| format!("{}  {}", size(*b), show_key(&k.key)))
            .collect()
    };
    let big = over(BIG);
    if big > 0 {
        let mut details = vec![format!("{big} of {n} sampled keys take more than 10 KiB")];
        details.extend(listing(BIG));
        out.add(Finding {
            id: "big-values-10k",
            severity: Severity::Warning,
            title: format!("{big} sampled keys are over 10 KiB"),
            details,
            fix: "split big values (a hash with HGET/HMGET of the fields you need, or several keys), compress them \
                  (nearcache compresses values over compression.min_size with LZ4), and keep them off hot paths"
                .into(),
        });
    } else {
        out.ok("big-values-10k", format!("no sampled key over 10 KiB ({n} sampled)"));
    }
    let large = over(LARGE) - big;
    if large > 0 {
        let mut details = vec![format!("{large} of {n} sampled keys take 1-10 KiB")];
        details.extend(
            sized
                .iter()
                .filter(|(_, b)| *b > LARGE && *b <= BIG)
                .take(SHOWN)
                .map(|(k, b)| format!("{}  {}", size(*b), show_key(&k.key))),
        );
        out.add(Finding {
            id: "big-values-1k",
            severity: Severity::Info,
            title: format!("{large} sampled keys are between 1 and 10 KiB"),
            details,
            fix:
                "compress values over 1 KiB (nearcache does: compression.min_size = \"1KiB\", LZ4) and read them from \
                  L1 when hot"
                    .into(),
        });
    } else {
        out.ok("big-values-1k", format!("no sampled key between 1 and 10 KiB ({n} sampled)"));
    }
    hot_keys(facts, &sample.keys, out);
}

fn hot_keys(facts: &Facts, keys: &[SampledKey], out: &mut Findings) {
    let policy = facts.config("maxmemory-policy").unwrap_or("?");
    if !policy.contains("lfu") {
        out.skip(
            "hot-keys",
            format!("needs an LFU maxmemory-policy (allkeys-lfu or volatile-lfu) for OBJECT FREQ; it is {policy}"),
        );
        return;
    }
    let mut hot: Vec<(&SampledKey, i64)> =
        keys.iter().filter_map(|k| Some((k, k.freq?))).filter(|(_, f)| *f >= HOT_FREQ).collect();
    if hot.is_empty() {
        out.ok("hot-keys", format!("no sampled key has an LFU counter of {HOT_FREQ} or more ({} sampled)", keys.len()));
        return;
    }
    hot.sort_by_key(|h| std::cmp::Reverse(h.1));
    let mut details = vec![format!(
        "{} of {} sampled keys have an LFU counter of {HOT_FREQ} or more (lfu-log-factor {}; 255 is the maximum)",
        hot.len(),
        keys.len(),
        facts.config("lfu-log-factor").unwrap_or("?")
    )];
    details.extend(hot.iter().take(SHOWN).map(|(k, f)| format!("freq {f:>3}  {}", show_key(&k.key))));
    out.add(Finding {
        id: "hot-keys",
        severity: Severity::Warning,
        title: format!("{} hot keys among the sampled keys", hot.len()),
        details,
        fix: "serve hot keys from process memory (nearcache's L1 with tracking invalidation answers them without a \
              round trip); for hot writes, shard the key (key:{0..N})"
            .into(),
    });
}

#[cfg(test)]
mod tests {
    use super::super::testing::{facts, key};
    use super::*;

    #[test]
    fn sizes_are_bucketed() {
        let keys = vec![key("small", 100, None), key("large", 2_000, None), key("big", 20_000, None)];
        let mut out = Findings::default();
        check(&facts(&[("maxmemory-policy", "allkeys-lru")], keys), &mut out);
        assert_eq!(out.ids(), ["big-values-10k", "big-values-1k"]);
        assert!(out.findings[0].details.iter().any(|d| d.contains("big")));
        assert!(!out.findings[1].details.iter().any(|d| d.ends_with(" big")));
    }

    #[test]
    fn hot_keys_need_lfu() {
        let mut hot = key("hot", 100, None);
        hot.freq = Some(HOT_FREQ + 10);
        let mut out = Findings::default();
        check(&facts(&[("maxmemory-policy", "allkeys-lru")], vec![hot.clone()]), &mut out);
        assert!(out.ids().is_empty());
        assert!(out.checks.iter().any(|c| c.id == "hot-keys" && c.status == "skipped"));
        let mut out = Findings::default();
        check(&facts(&[("maxmemory-policy", "allkeys-lfu")], vec![hot, key("cold", 100, None)]), &mut out);
        assert_eq!(out.ids(), ["hot-keys"]);
    }
}
