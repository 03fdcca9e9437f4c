//! `nearcache demo`, `nearcache bench` and argument handling, through the
//! built binary against throwaway servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use nearcache::testing::TestRedis;
use serde_json::Value;

fn nearcache(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nearcache")).args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The rows of the demo table: the cells of each line under the `----` rule,
/// split on runs of two or more spaces (cells hold single spaces only).
fn table_rows(text: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with("----")).skip(1);
    let mut rows = Vec::new();
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        rows.push(line.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect());
    }
    rows
}

fn number(cell: &str) -> f64 {
    cell.trim_end_matches(" %").parse().unwrap_or_else(|_| panic!("not a number: {cell:?}"))
}

/// How far a row's measured hit rate may sit from its target, in points.
/// Each read hits or misses, so over `reads` reads at rate `p` the measured
/// rate has a binomial spread of sqrt(p (1 - p) / reads): a 4 s demo through
/// the 600 us proxy measures about 1,500 reads in its 50 % row, where that is
/// 1.3 points, and a fixed 2-point bound (1.5 of those) failed in CI.
/// Four standard deviations plus half a point for the L1 size the search
/// picked (its own measured rate is noisy too), never less than 2 points.
fn hit_rate_tolerance(target_percent: f64, reads: u64) -> f64 {
    let p = target_percent / 100.0;
    let spread = (p * (1.0 - p) / reads.max(1) as f64).sqrt() * 100.0;
    (0.5 + 4.0 * spread).max(2.0)
}

/// `Reads measured per row: 0 %: 6400, 50 %: 1900, ...` as (target, reads).
fn reads_per_row(text: &str) -> Vec<(f64, u64)> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Reads measured per row: "))
        .unwrap_or_else(|| panic!("no reads line in:\n{text}"));
    line.trim_end_matches('.')
        .split(", ")
        .map(|cell| {
            let (target, reads) = cell.split_once(": ").unwrap_or_else(|| panic!("bad cell {cell:?}"));
            (number(target), reads.parse().unwrap_or_else(|_| panic!("bad reads {cell:?}")))
        })
        .collect()
}

/// The demo's table: seven rows, each measured hit rate within sampling
/// noise of its row ([`hit_rate_tolerance`]), and Redis's own command counts
/// agreeing with the hit rates.
fn check_demo_table(text: &str) -> Vec<Vec<String>> {
    let header = text.lines().find(|l| l.starts_with("L1 hit rate")).unwrap();
    for column in [
        "measured",
        "avg us",
        "reduction vs no L1",
        "Redis cmds/read",
        "Redis load reduction",
        "p99 us",
        "miss us",
        "naive us",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let rows = table_rows(text);
    let targets: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(targets, ["0 %", "50 %", "70 %", "80 %", "90 %", "95 %", "99 %"], "{text}");
    let reads = reads_per_row(text);
    assert_eq!(reads.len(), rows.len(), "{text}");
    for (row, &(reads_target, reads)) in rows.iter().zip(&reads) {
        assert_eq!(row.len(), 11, "{row:?}");
        let (target, measured) = (number(&row[0]), number(&row[1]));
        assert_eq!(reads_target, target, "{text}");
        assert!(reads > 0, "no reads in the {target} % row:\n{text}");
        let tolerance = hit_rate_tolerance(target, reads);
        assert!(
            (measured - target).abs() <= tolerance,
            "hit rate {measured} % in the {target} % row ({reads} reads, bound {tolerance:.1} points):\n{text}"
        );
        assert!(number(&row[4]) > 0.0, "avg: {row:?}");
        assert!(number(&row[10]) > 0.0, "naive: {row:?}");
        if target > 0.0 {
            // Redis counted the misses: its load fell by about the hit rate.
            let load_reduction = number(&row[7]);
            assert!((load_reduction - measured).abs() <= 5.0, "load {load_reduction} % at {measured} %:\n{text}");
            assert!(number(&row[5]) > 0.0, "an L1 with hits is faster than none: {row:?}\n{text}");
        }
    }
    // Every read of the 0 % row is a GET + PTTL.
    let commands = number(&rows[0][6]);
    assert!((1.9..=2.1).contains(&commands), "{commands} commands per read with no L1:\n{text}");
    assert!(text.contains("L1 invalidation: tracking"), "{text}");
    rows
}

#[test]
fn demo_rows_reach_their_hit_rates_on_its_own_server() {
    let text = stdout(&nearcache(&["demo", "--seconds", "3"]));
    check_demo_table(&text);
}

#[test]
fn demo_through_the_delay_proxy_on_a_given_server() {
    let redis = TestRedis::start().unwrap();
    let text = stdout(&nearcache(&["demo", "--url", redis.url(), "--rtt", "600us", "--seconds", "4"]));
    let rows = check_demo_table(&text);
    assert!(text.contains("round trip set to 600us in all"), "{text}");
    // --rtt is the whole round trip: the proxy adds nothing when the
    // machine's own round trip (the base, measured through the proxy with
    // nothing added) is already longer, and says so; otherwise it adds the
    // difference and then corrects it by measurement, so the amount is not
    // checked here (a loaded machine moves it, never this rule).
    let figure = |after: &str, before: &str| {
        text.split_once(after)
            .and_then(|(_, rest)| rest.split_once(before))
            .map(|(n, _)| number(n))
            .unwrap_or_else(|| panic!("no '{after}...{before}' in:\n{text}"))
    };
    let base = figure("(median miss ", " us through the proxy");
    let added = figure("so it adds ", " us, half each way");
    assert_eq!(text.contains("already longer than --rtt"), base >= 600.0, "{text}");
    if base >= 600.0 {
        assert_eq!(added, 0.0, "{text}");
    }
    assert!(number(&rows[0][9]) > 0.0, "{text}");
    // The demo's keys are gone from a server it did not start.
    assert_eq!(redis.cli(&["DBSIZE"]).unwrap(), "0\n");
}

#[test]
fn bench_json_has_every_measurement() {
    let text = stdout(&nearcache(&["bench", "--json", "--seconds", "0.05"]));
    let report: Value = serde_json::from_str(&text).unwrap();
    assert!(report["l1_hit"]["nearcache_ns"].as_f64().unwrap() > 0.0);
    assert!(report["l1_hit"]["hashmap_rwlock_ns"].as_f64().unwrap() > 0.0);
    for path in ["nearcache_async", "nearcache_blocking", "redis_rs"] {
        assert!(report["miss"][path]["count"].as_u64().unwrap() > 0, "{path}");
        assert!(report["miss"][path]["p99_us"].as_f64().unwrap() >= report["miss"][path]["p50_us"].as_f64().unwrap());
    }
    assert!(report["concurrent_get_100"]["nearcache_ops_per_s"].as_f64().unwrap() > 0.0);
    assert!(report["concurrent_get_100"]["redis_rs_ops_per_s"].as_f64().unwrap() > 0.0);
    let algorithms: Vec<&str> =
        report["compression"].as_array().unwrap().iter().map(|c| c["algorithm"].as_str().unwrap()).collect();
    assert_eq!(algorithms, ["lz4", "zstd-1", "zstd-3"]);
    assert!(report["compression"][0]["ratio"].as_f64().unwrap() > 1.5, "JSON compresses");
}

/// Bad arguments: a message naming the problem, and exit code 2.
#[test]
fn bad_arguments_exit_2_with_a_clear_message() {
    for (args, expected) in [
        (&["demo", "--rtt", "300"][..], "a bare number is ambiguous"),
        (&["demo", "--rtt", "soon"], "expected a duration like"),
        (&["demo", "--keys", "0"], "--keys"),
        (&["demo", "--seconds", "0"], "expected a number of seconds"),
        (&["demo", "--zipf", "9"], "expected an exponent"),
        (&["doctor"], "URL"),
        (&["doctor", "redis://127.0.0.1:1", "--sample", "0"], "--sample"),
        (&["doctor", "not a url"], "expected a URL like"),
        (&["bench", "--frobnicate"], "--frobnicate"),
        (&["launch"], "unrecognized subcommand"),
    ] {
        let output = nearcache(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn help_explains_each_command() {
    let help = stdout(&nearcache(&["--help"]));
    for command in ["demo", "bench", "doctor"] {
        assert!(help.contains(command), "{help}");
    }
    assert!(help.contains("Exit codes"), "{help}");
    let demo = stdout(&nearcache(&["demo", "--help"]));
    assert!(demo.contains("--rtt") && demo.contains("in total"), "{demo}");
}

#[test]
fn a_missing_launcher_suggests_url() {
    let output = Command::new(env!("CARGO_BIN_EXE_nearcache"))
        .args(["demo", "--keys", "100", "--seconds", "0.1"])
        .env("NEARCACHE_LAUNCHER", "/nonexistent/redis-launcher")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--url"), "{stderr}");
}
