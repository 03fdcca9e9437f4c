//! Eviction: a cache needs a memory limit and a policy that evicts.
//!
//! - `maxmemory` (warning): no limit, so Redis grows until the kernel's
//!   OOM killer ends it.
//! - `maxmemory-policy` (error): with a limit and `noeviction`, every
//!   write fails with `OOM` once memory is full.
//! - `volatile-ttl`: a `volatile-*` policy evicts only keys with a
//!   TTL; sampled keys without one can never be evicted (an error when none
//!   of them has a TTL: the policy then behaves like `noeviction`).

use super::facts::Facts;
use super::{show_key, Finding, Findings, Severity};
use crate::table::size;

const POLICY_FIX: &str = "CONFIG SET maxmemory-policy allkeys-lfu (or allkeys-lru), and the same in redis.conf; \
                          with LFU, `nearcache doctor` can also find hot keys";

pub(crate) fn check(facts: &Facts, out: &mut Findings) {
    let (Some(maxmemory), Some(policy)) =
        (facts.config("maxmemory").and_then(|m| m.parse::<u64>().ok()), facts.config("maxmemory-policy"))
    else {
        let why = facts.config.as_ref().err().map_or("CONFIG GET maxmemory did not answer", String::as_str);
        for id in ["maxmemory", "maxmemory-policy", "volatile-ttl"] {
            out.skip(id, format!("needs CONFIG GET: {why}"));
        }
        return;
    };
    if maxmemory == 0 {
        out.add(Finding {
            id: "maxmemory",
            severity: Severity::Warning,
            title: "maxmemory is 0: no memory limit, so nothing is ever evicted".into(),
            details: vec![format!(
                "used memory: {}; the server grows until the operating system kills it",
                facts.info.get("used_memory_human").map_or("?", String::as_str)
            )],
            fix: format!("CONFIG SET maxmemory <about 75 % of the memory Redis may use> (e.g. 4gb), then {POLICY_FIX}"),
        });
        // Without a limit the policy never applies.
        out.skip("maxmemory-policy", "maxmemory is 0: the policy never applies");
        out.skip("volatile-ttl", "maxmemory is 0: the policy never applies");
        return;
    }
    out.ok("maxmemory", format!("maxmemory is {}", size(maxmemory)));
    if policy == "noeviction" {
        out.add(Finding {
            id: "maxmemory-policy",
            severity: Severity::Error,
            title: format!("maxmemory-policy is noeviction with maxmemory {}", size(maxmemory)),
            details: vec![
                "once memory is full every write fails with \"OOM command not allowed\"; a cache should evict instead"
                    .into(),
            ],
            fix: POLICY_FIX.into(),
        });
    } else {
        out.ok("maxmemory-policy", format!("maxmemory-policy is {policy}"));
    }
    if !policy.starts_with("volatile-") {
        out.ok("volatile-ttl", format!("{policy} may evict any key"));
        return;
    }
    let Ok(sample) = &facts.sample else {
        out.skip("volatile-ttl", "the key sample could not be read");
        return;
    };
    let without: Vec<_> = sample.keys.iter().filter(|k| k.expires_at_ms.is_none()).collect();
    if without.is_empty() {
        out.ok("volatile-ttl", format!("all {} sampled keys have a TTL", sample.keys.len()));
        return;
    }
    let all = without.len() == sample.keys.len();
    let mut details = vec![format!(
        "{} of {} sampled keys have no TTL and can never be evicted under {policy}{}",
        without.len(),
        sample.keys.len(),
        if all { ": the policy behaves like noeviction, and writes fail once memory is full" } else { "" }
    )];
    details.extend(without.iter().take(5).map(|k| format!("no TTL: {}", show_key(&k.key))));
    out.add(Finding {
        id: "volatile-ttl",
        severity: if all { Severity::Error } else { Severity::Warning },
        title: format!("maxmemory-policy is {policy} but sampled keys lack a TTL"),
        details,
        fix: format!("give cached keys a TTL (nearcache's set() takes one, jittered), or {POLICY_FIX}"),
    });
}

#[cfg(test)]
mod tests {
    use super::super::testing::{facts, key};
    use super::*;

    fn run(config: &[(&str, &str)], keys: Vec<super::super::facts::SampledKey>) -> Findings {
        let mut out = Findings::default();
        check(&facts(config, keys), &mut out);
        out
    }

    #[test]
    fn no_limit_is_a_warning() {
        assert_eq!(run(&[("maxmemory", "0"), ("maxmemory-policy", "noeviction")], vec![]).ids(), ["maxmemory"]);
    }

    #[test]
    fn noeviction_with_a_limit_is_an_error() {
        let out = run(&[("maxmemory", "1000000"), ("maxmemory-policy", "noeviction")], vec![]);
        assert_eq!(out.ids(), ["maxmemory-policy"]);
        assert_eq!(out.findings[0].severity, Severity::Error);
        assert!(run(&[("maxmemory", "1000000"), ("maxmemory-policy", "allkeys-lru")], vec![]).ids().is_empty());
    }

    #[test]
    fn volatile_policies_need_ttls() {
        let config = [("maxmemory", "1000000"), ("maxmemory-policy", "volatile-lru")];
        let out = run(&config, vec![key("a", 10, None), key("b", 10, Some(1))]);
        assert_eq!(out.ids(), ["volatile-ttl"]);
        assert_eq!(out.findings[0].severity, Severity::Warning);
        let out = run(&config, vec![key("a", 10, None)]);
        assert_eq!(out.findings[0].severity, Severity::Error);
        assert!(run(&config, vec![key("b", 10, Some(1))]).ids().is_empty());
    }

    #[test]
    fn without_config_the_checks_are_skipped() {
        let mut f = facts(&[], vec![]);
        f.config = Err("ERR unknown command 'CONFIG'".into());
        let mut out = Findings::default();
        check(&f, &mut out);
        assert!(out.findings.is_empty());
        assert!(out.checks.iter().all(|c| c.status == "skipped"));
    }
}
