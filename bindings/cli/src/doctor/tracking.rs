//! Whether the server supports `CLIENT TRACKING`, which nearcache's default
//! `tracking` invalidation needs (Redis 6+, and an ACL that allows it), and
//! whether its tracking table has room: the server remembers every key each
//! tracking client read (`tracking_total_keys` keys, `tracking_total_items`
//! key-client pairs) and, past `tracking-table-max-keys`, evicts keys from
//! the table by sending their invalidations although they did not change.

use super::facts::Facts;
use super::{Finding, Findings, Severity};

pub(crate) fn check(facts: &Facts, out: &mut Findings) {
    support(facts, out);
    table(facts, out);
}

/// A table this full is evicting, or about to.
const FULL: f64 = 0.9;

fn table(facts: &Facts, out: &mut Findings) {
    let (Some(keys), Some(items)) = (facts.info_u64("tracking_total_keys"), facts.info_u64("tracking_total_items"))
    else {
        return out.skip("tracking-table", "INFO has no tracking_total_keys (Redis before 6)");
    };
    let Some(limit) = facts.config("tracking-table-max-keys").and_then(|v| v.parse::<u64>().ok()) else {
        return out.skip("tracking-table", "CONFIG GET tracking-table-max-keys could not be read");
    };
    let memory = facts.info.get("used_memory_human").map_or("?", String::as_str);
    let numbers = format!(
        "tracking_total_keys: {keys}, tracking_total_items: {items} (key-client pairs), \
         tracking_total_prefixes: {}, used_memory: {memory}",
        facts.info_u64("tracking_total_prefixes").unwrap_or(0)
    );
    if limit > 0 && keys as f64 >= FULL * limit as f64 {
        return out.add(Finding {
            id: "tracking-table",
            severity: Severity::Warning,
            title: format!(
                "the tracking table holds {keys} of at most {limit} keys: the server evicts keys from it by \
                 invalidating them, so every client's L1 drops entries that did not change"
            ),
            details: vec![numbers, format!("tracking-table-max-keys: {limit}")],
            fix: format!(
                "raise the limit above the number of distinct keys clients read (CONFIG SET \
                 tracking-table-max-keys {}; each tracked key costs server memory), or switch the clients with \
                 the widest key sets to l1.invalidation = \"bcast\" with l1.prefixes (tracked per prefix, not \
                 per key)",
                limit.saturating_mul(4)
            ),
        });
    }
    if limit == 0 {
        return out.add(Finding {
            id: "tracking-table",
            severity: Severity::Info,
            title: format!("the tracking table has no limit (tracking-table-max-keys 0) and holds {keys} keys"),
            details: vec![numbers],
            fix: "the table grows with every distinct key a tracking client reads and is held in server memory: \
                  set tracking-table-max-keys (Redis's default is 1000000) to bound it"
                .into(),
        });
    }
    out.ok("tracking-table", format!("tracking table: {keys} of at most {limit} keys ({items} key-client pairs)"));
}

fn support(facts: &Facts, out: &mut Findings) {
    match &facts.tracking {
        Ok(()) => out.ok(
            "client-tracking",
            "CLIENT TRACKING works: nearcache can use l1.invalidation = \"tracking\" (the default)",
        ),
        Err(e) => out.add(Finding {
            id: "client-tracking",
            severity: Severity::Warning,
            title: "CLIENT TRACKING cannot be enabled: server-assisted invalidation is unavailable".into(),
            details: vec![e.clone()],
            fix: "use Redis 6 or later and allow the client|tracking command in the ACL (ACL SETUSER <user> \
                  +client|tracking); until then configure l1.invalidation = \"ttl\" and a short l1.ttl"
                .into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::facts;
    use super::*;

    #[test]
    fn a_refused_tracking_is_a_warning() {
        let mut f = facts(&[], vec![]);
        let mut out = Findings::default();
        check(&f, &mut out);
        assert!(out.ids().is_empty());
        f.tracking = Err("NOPERM".into());
        let mut out = Findings::default();
        check(&f, &mut out);
        assert_eq!(out.ids(), ["client-tracking"]);
    }

    fn with_table(limit: &str, keys: u64) -> Findings {
        let mut f = facts(&[("tracking-table-max-keys", limit)], vec![]);
        f.info.insert("tracking_total_keys".into(), keys.to_string());
        f.info.insert("tracking_total_items".into(), (keys * 2).to_string());
        let mut out = Findings::default();
        table(&f, &mut out);
        out
    }

    #[test]
    fn a_table_near_its_limit_is_a_warning() {
        assert!(with_table("1000", 899).ids().is_empty());
        let out = with_table("1000", 900);
        assert_eq!(out.ids(), ["tracking-table"]);
        assert_eq!(out.findings[0].severity, Severity::Warning);
        assert!(out.findings[0].fix.contains("tracking-table-max-keys 4000"), "{}", out.findings[0].fix);
    }

    #[test]
    fn an_unlimited_table_is_information_and_missing_facts_skip() {
        let out = with_table("0", 10);
        assert_eq!(out.ids(), ["tracking-table"]);
        assert_eq!(out.findings[0].severity, Severity::Info);
        let mut out = Findings::default();
        table(&facts(&[], vec![]), &mut out);
        assert!(out.ids().is_empty());
        assert_eq!(out.checks[0].status, "skipped");
    }
}
