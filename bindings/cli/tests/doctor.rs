//! `nearcache doctor` against real throwaway servers: each finding is
//! provoked (server arguments, keys, connections), detected, and gone once
//! the problem is fixed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nearcache::testing::TestRedis;
use nearcache::{Invalidation, SetOptions};
use serde_json::Value;

struct Outcome {
    code: i32,
    report: Value,
}

impl Outcome {
    fn ids(&self) -> Vec<String> {
        self.report["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
    }

    fn has(&self, id: &str) -> bool {
        self.ids().iter().any(|i| i == id)
    }

    fn finding(&self, id: &str) -> &Value {
        self.report["findings"].as_array().unwrap().iter().find(|f| f["id"] == id).unwrap()
    }
}

fn doctor_with(redis: &TestRedis, window: &str) -> Outcome {
    let output = Command::new(env!("CARGO_BIN_EXE_nearcache"))
        .args(["doctor", redis.url(), "--json", "--window", window])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    let code = output.status.code().unwrap();
    assert_eq!(report["exit_code"], code, "the report and the exit status agree");
    // Every finding says what to do.
    for f in report["findings"].as_array().unwrap() {
        assert!(f["fix"].as_str().unwrap().len() > 10, "{f}");
    }
    Outcome { code, report }
}

fn doctor(redis: &TestRedis) -> Outcome {
    doctor_with(redis, "200ms")
}

fn start(args: &[&str]) -> TestRedis {
    TestRedis::start_with_args(args).unwrap()
}

fn cli(redis: &TestRedis, args: &[&str]) {
    let out = redis.cli(args).unwrap();
    assert!(!out.starts_with("ERR") && !out.starts_with("NOPERM"), "{args:?}: {out}");
}

fn writer(redis: &TestRedis) -> nearcache::blocking::Cache {
    nearcache::blocking::Cache::builder().url(redis.url()).invalidation(Invalidation::Off).build_blocking().unwrap()
}

/// A server with nothing to fix: the doctor exits 0.
const HEALTHY: [&str; 8] = [
    "--maxmemory",
    "64mb",
    "--maxmemory-policy",
    "allkeys-lru",
    "--lazyfree-lazy-expire",
    "yes",
    "--slowlog-log-slower-than",
    "100",
];

#[test]
fn a_healthy_server_has_no_findings_and_exits_0() {
    let redis = start(&HEALTHY);
    let out = doctor(&redis);
    assert_eq!(out.ids(), Vec::<String>::new(), "{:#}", out.report);
    assert_eq!(out.code, 0);
    let checks = out.report["checks"].as_array().unwrap();
    assert!(checks.len() >= 14, "{checks:?}");
    assert!(checks.iter().any(|c| c["id"] == "client-tracking" && c["status"] == "ok"));
}

#[test]
fn default_settings_are_warnings_until_fixed() {
    let redis = start(&["--slowlog-log-slower-than", "100000", "--lazyfree-lazy-expire", "no"]);
    let out = doctor(&redis);
    for id in ["maxmemory", "slowlog-threshold", "lazyfree"] {
        assert!(out.has(id), "{id} missing: {:?}", out.ids());
    }
    assert_eq!(out.code, 1);
    assert!(out.finding("slowlog-threshold")["title"].as_str().unwrap().contains("100000"));

    cli(&redis, &["CONFIG", "SET", "maxmemory", "64mb"]);
    cli(&redis, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    cli(&redis, &["CONFIG", "SET", "slowlog-log-slower-than", "100"]);
    cli(&redis, &["CONFIG", "SET", "lazyfree-lazy-expire", "yes"]);
    let out = doctor(&redis);
    assert_eq!(out.ids(), Vec::<String>::new());
    assert_eq!(out.code, 0);
}

#[test]
fn noeviction_on_a_bounded_server_is_an_error() {
    let redis = start(&["--maxmemory", "64mb", "--maxmemory-policy", "noeviction"]);
    let out = doctor(&redis);
    assert!(out.has("maxmemory-policy"), "{:?}", out.ids());
    assert_eq!(out.finding("maxmemory-policy")["severity"], "error");
    assert_eq!(out.code, 2);

    cli(&redis, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    assert!(!doctor(&redis).has("maxmemory-policy"));
}

#[test]
fn volatile_policy_with_keys_without_ttl() {
    let redis = start(&["--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru"]);
    let cache = writer(&redis);
    for i in 0..20 {
        cache.set(format!("forever:{i}"), "v", SetOptions::default()).unwrap();
    }
    cache.set("expiring", "v", SetOptions::ttl(Duration::from_secs(3600))).unwrap();
    let out = doctor(&redis);
    assert!(out.has("volatile-ttl"), "{:?}", out.ids());
    assert_eq!(out.finding("volatile-ttl")["severity"], "warning");

    for i in 0..20 {
        cache.expire(format!("forever:{i}"), Duration::from_secs(3600 + i * 60)).unwrap();
    }
    assert!(!doctor(&redis).has("volatile-ttl"));
}

#[test]
fn big_values_over_1_and_10_kib() {
    let redis = start(&HEALTHY);
    let cache = writer(&redis);
    // Incompressible, so the stored size is the written size.
    let noise = |n: usize| (0..n).map(|i| (i * 7919 % 251) as u8 ^ (i / 251) as u8).collect::<Vec<u8>>();
    cache.set("small", "v", SetOptions::default()).unwrap();
    cache.set("large", noise(3000), SetOptions::default()).unwrap();
    cache.set("huge", noise(40_000), SetOptions::default()).unwrap();
    let out = doctor(&redis);
    assert!(out.has("big-values-10k") && out.has("big-values-1k"), "{:?}", out.ids());
    let details = out.finding("big-values-10k")["details"].to_string();
    assert!(details.contains("huge") && !details.contains("large"), "{details}");
    assert!(out.finding("big-values-1k")["details"].to_string().contains("large"));

    cache.delete_many(&["large", "huge"]).unwrap();
    let out = doctor(&redis);
    assert!(!out.has("big-values-10k") && !out.has("big-values-1k"), "{:?}", out.ids());
}

#[test]
fn keys_expiring_in_the_same_second() {
    let redis = start(&HEALTHY);
    let cache = writer(&redis);
    let items: Vec<(String, &str)> = (0..100).map(|i| (format!("session:{i}"), "v")).collect();
    // One TTL for all, no jitter: what nearcache's writes avoid.
    for (key, value) in &items {
        cache.set(key, value, SetOptions::ttl(Duration::from_secs(3600)).exact()).unwrap();
    }
    let out = doctor(&redis);
    assert!(out.has("mass-expiry"), "{:?}", out.ids());

    for (i, (key, _)) in items.iter().enumerate() {
        cache.expire(key, Duration::from_secs(3600 + 10 * i as u64)).unwrap();
    }
    assert!(!doctor(&redis).has("mass-expiry"));
}

#[test]
fn slow_log_entries_are_listed() {
    let redis = start(&["--slowlog-log-slower-than", "0", "--enable-debug-command", "local"]);
    cli(&redis, &["DEBUG", "SLEEP", "0.005"]);
    let out = doctor(&redis);
    assert!(out.has("slowlog-entries"), "{:?}", out.ids());
    assert!(out.finding("slowlog-entries")["details"].to_string().contains("DEBUG"));
    assert_eq!(out.finding("slowlog-entries")["severity"], "warning");
    assert!(!out.has("slowlog-threshold"), "0 us logs everything: not too high");

    cli(&redis, &["SLOWLOG", "RESET"]);
    assert!(!doctor(&redis).has("slowlog-entries"));
}

#[test]
fn hot_keys_under_an_lfu_policy() {
    // lfu-log-factor 0: every read counts, so 200 reads make a hot key.
    let redis = start(&["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0"]);
    let cache = writer(&redis);
    cache.set("hot", "v", SetOptions::default()).unwrap();
    cache.set("cold", "v", SetOptions::default()).unwrap();
    for _ in 0..200 {
        cache.get("hot").unwrap();
    }
    let out = doctor(&redis);
    assert!(out.has("hot-keys"), "{:?}", out.ids());
    let details = out.finding("hot-keys")["details"].to_string();
    assert!(details.contains("hot") && !details.contains("cold"), "{details}");

    cache.delete("hot").unwrap();
    assert!(!doctor(&redis).has("hot-keys"));
}

#[test]
fn hot_keys_are_skipped_without_lfu() {
    let redis = start(&HEALTHY);
    let out = doctor(&redis);
    let checks = out.report["checks"].as_array().unwrap();
    assert!(checks.iter().any(|c| c["id"] == "hot-keys" && c["status"] == "skipped"), "{checks:?}");
}

#[test]
fn connection_churn_is_seen_over_the_window() {
    let redis = start(&HEALTHY);
    let port = redis.port();
    let stop = Arc::new(AtomicBool::new(false));
    let churner = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            // Bounded: at most 20,000 connections, stopped after the doctor.
            for _ in 0..20_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                drop(TcpStream::connect(("127.0.0.1", port)));
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let out = doctor_with(&redis, "1s");
    stop.store(true, Ordering::Relaxed);
    churner.join().unwrap();
    assert!(out.has("connection-churn"), "{:?}", out.ids());

    assert!(!doctor_with(&redis, "1s").has("connection-churn"));
}

/// Opens a raw connection and waits until the server has registered it.
fn raw_connection(port: u16) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut conn = BufReader::new(stream);
    send(&mut conn, "PING\r\n", "+PONG");
    conn
}

fn send(conn: &mut BufReader<TcpStream>, command: &str, expected: &str) {
    conn.get_mut().write_all(command.as_bytes()).unwrap();
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    assert!(line.starts_with(expected), "{command:?}: {line:?}");
}

#[test]
fn idle_timeout_zero_with_many_clients() {
    let redis = start(&HEALTHY);
    let mut conns: Vec<_> = (0..55).map(|_| raw_connection(redis.port())).collect();
    for (i, conn) in conns.iter_mut().enumerate() {
        send(conn, &format!("CLIENT SETNAME test:{i}\r\n"), "+OK");
    }
    let out = doctor(&redis);
    assert!(out.has("idle-timeout"), "{:?}", out.ids());

    cli(&redis, &["CONFIG", "SET", "timeout", "300"]);
    assert!(!doctor(&redis).has("idle-timeout"));
    drop(conns);
}

#[test]
fn clients_without_names() {
    let redis = start(&HEALTHY);
    let mut conns: Vec<_> = (0..3).map(|_| raw_connection(redis.port())).collect();
    let out = doctor(&redis);
    assert!(out.has("client-names"), "{:?}", out.ids());
    assert!(out.finding("client-names")["title"].as_str().unwrap().starts_with("3 "));

    for (i, conn) in conns.iter_mut().enumerate() {
        send(conn, &format!("CLIENT SETNAME app:test:{i}\r\n"), "+OK");
    }
    assert!(!doctor(&redis).has("client-names"));
}

#[test]
fn client_tracking_refused_by_the_acl() {
    let redis = start(&HEALTHY);
    cli(&redis, &["ACL", "SETUSER", "default", "-client|tracking"]);
    let out = doctor(&redis);
    assert!(out.has("client-tracking"), "{:?}", out.ids());
    assert_eq!(out.code, 1);

    cli(&redis, &["ACL", "SETUSER", "default", "+client|tracking"]);
    let out = doctor(&redis);
    assert!(!out.has("client-tracking"));
    assert_eq!(out.code, 0);
}

#[test]
fn the_text_report_names_findings_and_fixes() {
    let redis = start(&["--maxmemory", "64mb", "--maxmemory-policy", "noeviction"]);
    let output = Command::new(env!("CARGO_BIN_EXE_nearcache"))
        .args(["doctor", redis.url(), "--window", "100ms"])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text.contains("ERROR    maxmemory-policy: maxmemory-policy is noeviction"), "{text}");
    assert!(text.contains("fix: CONFIG SET maxmemory-policy allkeys-lfu"), "{text}");
    assert!(text.contains("(exit code 2)"), "{text}");
}

#[test]
fn an_unreachable_server_is_an_error() {
    // Port 1 is privileged and unused on loopback: refused at once.
    let output =
        Command::new(env!("CARGO_BIN_EXE_nearcache")).args(["doctor", "redis://127.0.0.1:1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("cannot connect to redis://127.0.0.1:1"), "{stderr}");
}

#[test]
fn a_full_tracking_table_is_a_warning_and_no_limit_is_information() {
    let redis = start(&["--tracking-table-max-keys", "100"]);
    // One tracking client reading 300 distinct keys (missing keys are
    // tracked too) fills a table of 100: the server evicts down to it.
    let reader = nearcache::blocking::Cache::builder()
        .url(redis.url())
        .invalidation(Invalidation::Tracking)
        .build_blocking()
        .unwrap();
    for i in 0..300 {
        reader.get(format!("tracked:{i}")).unwrap();
    }
    let out = doctor(&redis);
    assert!(out.has("tracking-table"), "{:?}", out.ids());
    let finding = out.finding("tracking-table");
    assert_eq!(finding["severity"], "warning", "{finding}");
    assert!(finding["title"].as_str().unwrap().contains("of at most 100 keys"), "{finding}");

    cli(&redis, &["CONFIG", "SET", "tracking-table-max-keys", "0"]);
    for i in 300..400 {
        reader.get(format!("tracked:{i}")).unwrap();
    }
    let out = doctor(&redis);
    assert_eq!(out.finding("tracking-table")["severity"], "info", "{:#}", out.report);

    cli(&redis, &["CONFIG", "SET", "tracking-table-max-keys", "1000000"]);
    let out = doctor(&redis);
    assert!(!out.has("tracking-table"), "{:?}", out.ids());
    let checks = out.report["checks"].as_array().unwrap();
    assert!(checks.iter().any(|c| c["id"] == "tracking-table" && c["status"] == "ok"), "{checks:?}");
}

/// The cluster checks' ids: each must be `ok` on a healthy cluster.
const CLUSTER_CHECKS: [&str; 4] = ["cluster-slots", "cluster-nodes", "cluster-replicas", "hot-shard"];

fn status<'a>(out: &'a Outcome, id: &str) -> &'a str {
    let checks = out.report["checks"].as_array().unwrap();
    checks.iter().find(|c| c["id"] == id).and_then(|c| c["status"].as_str()).unwrap_or("absent")
}

#[test]
fn a_cluster_is_checked_node_by_node() {
    let cluster = nearcache::testing::TestCluster::start().unwrap();
    let out = doctor_with(&cluster.nodes()[0], "500ms");
    for id in CLUSTER_CHECKS {
        assert_eq!(status(&out, id), "ok", "{id}: {:#}", out.report);
    }

    // One master busy, the others idle, during the doctor's window.
    let hot_port = cluster.master_of("{hot}k").unwrap();
    let hot = cluster.node(hot_port).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (cache, stop) = (writer(hot), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                cache.get("{hot}k").unwrap();
            }
        })
    };
    let out = doctor_with(&cluster.nodes()[0], "1s");
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    assert!(out.has("hot-shard"), "{:#}", out.report);
    assert!(
        out.finding("hot-shard")["details"][0].as_str().unwrap().contains(&format!(":{hot_port}")),
        "{:#}",
        out.report
    );

    // A master that gives up a slot leaves it unserved (as that master sees it).
    let slot = hot.cli(&["CLUSTER", "KEYSLOT", "{hot}k"]).unwrap();
    cli(hot, &["CLUSTER", "DELSLOTS", slot.trim()]);
    let out = doctor_with(hot, "200ms");
    assert_eq!(out.finding("cluster-slots")["severity"], "error", "{:#}", out.report);
    assert!(out.finding("cluster-slots")["details"][0].as_str().unwrap().contains(slot.trim()), "{:#}", out.report);
    assert_eq!(out.code, 2);
}
