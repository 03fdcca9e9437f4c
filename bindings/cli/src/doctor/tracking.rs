//! Whether the server supports `CLIENT TRACKING`, which nearcache's default
//! `tracking` invalidation needs (Redis 6+, and an ACL that allows it).

use super::facts::Facts;
use super::{Finding, Findings, Severity};

pub(crate) fn check(facts: &Facts, out: &mut Findings) {
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
}
