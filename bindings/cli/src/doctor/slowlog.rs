//! The server's slow log: its threshold, and what it caught.
//!
//! - `slowlog-threshold` (warning): `slowlog-log-slower-than` above 100 us
//!   (the default is 10 ms) or negative (off). A cache's commands take
//!   microseconds; a 10 ms threshold hides the 1-10 ms commands that make up
//!   its p99.
//! - `slowlog-entries`: entries of 100 us or more, slowest first (a warning
//!   when one took 1 ms or more, else info).

use super::facts::{Facts, CLIENT_NAME};
use super::reply::SlowlogEntry;
use super::{Finding, Findings, Severity};

const THRESHOLD_US: i64 = 100;
const SLOW_US: i64 = 1000;
const SHOWN: usize = 5;

pub(crate) fn check(facts: &Facts, out: &mut Findings) {
    match facts.config("slowlog-log-slower-than").and_then(|v| v.parse::<i64>().ok()) {
        None => out.skip("slowlog-threshold", "CONFIG GET slowlog-log-slower-than did not answer"),
        Some(us) if (0..=THRESHOLD_US).contains(&us) => {
            out.ok("slowlog-threshold", format!("slowlog-log-slower-than is {us} us"))
        }
        Some(us) => out.add(Finding {
            id: "slowlog-threshold",
            severity: Severity::Warning,
            title: if us < 0 {
                "the slow log is off (slowlog-log-slower-than is negative)".to_owned()
            } else {
                format!("slowlog-log-slower-than is {us} us: slower commands than a cache can afford go unlogged")
            },
            details: vec!["cache commands take microseconds; log anything over 100 us to see what hurts p99".into()],
            fix:
                "CONFIG SET slowlog-log-slower-than 100 and CONFIG SET slowlog-max-len 1024, and the same in redis.conf"
                    .into(),
        }),
    }
    let entries = match &facts.slowlog {
        Ok(entries) => entries,
        Err(e) => {
            out.skip("slowlog-entries", format!("SLOWLOG GET failed: {e}"));
            return;
        }
    };
    // The doctor's own reads (INFO can take 100 us) are not the server's problem.
    let mut slow: Vec<&SlowlogEntry> =
        entries.iter().filter(|e| e.micros >= THRESHOLD_US && e.client_name != CLIENT_NAME).collect();
    if slow.is_empty() {
        out.ok("slowlog-entries", format!("no slow log entry of {THRESHOLD_US} us or more"));
        return;
    }
    slow.sort_by_key(|e| std::cmp::Reverse(e.micros));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let mut details = vec![format!("{} entries of {THRESHOLD_US} us or more; the slowest:", slow.len())];
    details.extend(slow.iter().take(SHOWN).map(|e| {
        let mut command = e.args.iter().take(4).cloned().collect::<Vec<_>>().join(" ");
        command.truncate(80);
        let client = if e.client_name.is_empty() { e.client_addr.clone() } else { e.client_name.clone() };
        format!("{:>9} us  {command}  ({client}, {} s ago)", e.micros, (now - e.unix_s).max(0))
    }));
    out.add(Finding {
        id: "slowlog-entries",
        severity: if slow[0].micros >= SLOW_US { Severity::Warning } else { Severity::Info },
        title: format!("the slow log holds commands of up to {} us", slow[0].micros),
        details,
        fix: "replace O(N) commands on big keys (KEYS, HGETALL, SMEMBERS, LRANGE 0 -1, big DEL) with SCAN/HSCAN, \
              paging, smaller values and UNLINK; batch small reads with MGET/pipelines"
            .into(),
    });
}

#[cfg(test)]
mod tests {
    use super::super::testing::facts;
    use super::*;

    fn entry(micros: i64) -> SlowlogEntry {
        SlowlogEntry {
            unix_s: 0,
            micros,
            args: vec!["DEBUG".into(), "SLEEP".into()],
            client_addr: "127.0.0.1:1".into(),
            client_name: String::new(),
        }
    }

    #[test]
    fn a_high_or_negative_threshold_is_found() {
        for (value, found) in [("10000", true), ("-1", true), ("100", false), ("0", false)] {
            let mut out = Findings::default();
            check(&facts(&[("slowlog-log-slower-than", value)], vec![]), &mut out);
            assert_eq!(out.ids() == ["slowlog-threshold"], found, "{value}");
        }
    }

    #[test]
    fn entries_are_listed_slowest_first() {
        let mut f = facts(&[("slowlog-log-slower-than", "0")], vec![]);
        f.slowlog = Ok(vec![entry(5), entry(2_000), entry(300)]);
        let mut out = Findings::default();
        check(&f, &mut out);
        assert_eq!(out.ids(), ["slowlog-entries"]);
        assert_eq!(out.findings[0].severity, Severity::Warning);
        assert!(out.findings[0].details[1].contains("2000 us"));
        assert_eq!(out.findings[0].details.len(), 3, "the 5 us entry is left out");
    }
}
