//! Cached reads beyond GET (docs/design.md, "Cached reads"), against a real
//! redis-server: every reply kind is cached and invalidated under the same
//! rules as GET (fill guard, own writes, flushes, health bound, PTTL cap,
//! negative entries, single flight), the allow-list refuses what it must,
//! and the byte bound counts every reply.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use nearcache::testing::{b, eventually, TestRedis};
use nearcache::{Cache, Clock, Config, ErrorKind, Invalidation, Ready, Reply, ZRange};

fn config(redis: &TestRedis, edit: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::default();
    config.redis.url = redis.url().parse().unwrap();
    config.redis.client_name = "nc-reads-test".into();
    config.l1.ttl_jitter = 0.0;
    edit(&mut config);
    config
}

fn tracking(redis: &TestRedis) -> Cache {
    Cache::new(config(redis, |_| {})).unwrap()
}

/// Whether L1 answers `args` now, without Redis.
fn cached(cache: &Cache, args: &[&str]) -> bool {
    matches!(cache.read_ready(args), Ok(Ready::Now(_)))
}

/// The seed data every reply kind is read from, written outside nearcache,
/// under keys that start with `prefix` (a fresh set of keys per round, so
/// no invalidation of an earlier round can land in a later one).
fn seed_under(redis: &TestRedis, prefix: &str) {
    for cmd in [
        &["SET", "s", "hello"][..],
        &["HSET", "h", "f", "1", "g", "2"],
        &["SADD", "set", "a", "b"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZADD", "zl", "0", "a", "0", "b", "0", "c"],
        &["RPUSH", "l", "x", "y", "z"],
    ] {
        redis.cli(&under(prefix, cmd).iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
    }
}

fn seed(redis: &TestRedis) {
    seed_under(redis, "");
}

/// `args` with its key (the second argument) under `prefix`.
fn under(prefix: &str, args: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    out[1] = format!("{prefix}{}", out[1]);
    out
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// One read of every reply kind, and an outside write that changes its reply.
const KINDS: &[(&[&str], &[&str])] = &[
    (&["STRLEN", "s"], &["APPEND", "s", "!"]),
    (&["GETRANGE", "s", "0", "1"], &["SET", "s", "jello"]),
    (&["GETBIT", "s", "1"], &["SET", "s", "!"]),
    (&["BITCOUNT", "s"], &["SET", "s", "x"]),
    (&["EXISTS", "s"], &["DEL", "s"]),
    (&["TYPE", "s"], &["DEL", "s"]),
    (&["HGET", "h", "f"], &["HSET", "h", "f", "9"]),
    (&["HMGET", "h", "f", "g"], &["HDEL", "h", "g"]),
    (&["HGETALL", "h"], &["HSET", "h", "new", "1"]),
    (&["HEXISTS", "h", "g"], &["HDEL", "h", "g"]),
    (&["HLEN", "h"], &["HSET", "h", "new", "1"]),
    (&["HKEYS", "h"], &["HSET", "h", "new", "1"]),
    (&["HVALS", "h"], &["HSET", "h", "f", "9"]),
    (&["HSTRLEN", "h", "f"], &["HSET", "h", "f", "999"]),
    (&["SMEMBERS", "set"], &["SADD", "set", "c"]),
    (&["SISMEMBER", "set", "c"], &["SADD", "set", "c"]),
    (&["SMISMEMBER", "set", "a", "c"], &["SADD", "set", "c"]),
    (&["SCARD", "set"], &["SREM", "set", "a"]),
    (&["ZSCORE", "z", "a"], &["ZINCRBY", "z", "5", "a"]),
    (&["ZMSCORE", "z", "a", "nope"], &["ZADD", "z", "7", "nope"]),
    (&["ZRANGE", "z", "0", "-1", "WITHSCORES"], &["ZADD", "z", "0", "first"]),
    (&["ZRANGE", "z", "+inf", "(1", "BYSCORE", "REV", "LIMIT", "0", "2"], &["ZADD", "z", "10", "top"]),
    (&["ZRANK", "z", "c"], &["ZADD", "z", "0", "first"]),
    (&["ZREVRANK", "z", "a"], &["ZADD", "z", "10", "top"]),
    (&["ZCARD", "z"], &["ZREM", "z", "a"]),
    (&["ZCOUNT", "z", "-inf", "(3"], &["ZADD", "z", "0", "first"]),
    (&["ZLEXCOUNT", "z", "-", "+"], &["ZADD", "z", "0", "first"]),
    (&["LRANGE", "l", "0", "-1"], &["LPUSH", "l", "w"]),
    (&["LINDEX", "l", "0"], &["LPUSH", "l", "w"]),
    (&["LLEN", "l"], &["RPOP", "l"]),
    (&["LPOS", "l", "z"], &["LPUSH", "l", "w"]),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reply_kind_is_cached_and_dropped_by_an_outside_write() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    for (i, (read, write)) in KINDS.iter().enumerate() {
        let prefix = format!("{i}:");
        seed_under(&redis, &prefix);
        let (read, write) = (under(&prefix, read), under(&prefix, write));
        let (read, write) = (&strs(&read)[..], &strs(&write)[..]);
        let first = cache.read(read).await.unwrap_or_else(|e| panic!("{read:?}: {e}"));
        assert!(cached(&cache, read), "{read:?} was not cached");
        assert_eq!(cache.read(read).await.unwrap(), first, "{read:?}: L1 answered differently");
        redis.cli(write).unwrap();
        eventually(&format!("{read:?} invalidated by {write:?}"), Duration::from_secs(2), || !cached(&cache, read))
            .await;
        let after = cache.read(read).await.unwrap();
        assert_ne!(after, first, "{read:?}: the write {write:?} should change the reply");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule2_a_write_during_each_kind_of_fill_discards_the_fill() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    cache.connect().await.unwrap();
    for (i, (read, write)) in KINDS.iter().enumerate() {
        let prefix = format!("{i}:");
        seed_under(&redis, &prefix);
        let (read, write) = (under(&prefix, read), under(&prefix, write));
        let (read, write) = (&strs(&read)[..], &strs(&write)[..]);
        let key = read[1];
        let gate = cache.hold_next_fill(key.as_bytes());
        let reader = {
            let (cache, read) = (cache.clone(), read.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            tokio::spawn(async move { cache.read(&read).await })
        };
        tokio::time::timeout(Duration::from_secs(2), gate.reached()).await.expect("the fill never reached the gate");
        let (invalidations, discarded) = (cache.stats().invalidations, cache.stats().fills_discarded);
        redis.cli(write).unwrap();
        eventually("the invalidation for the write", Duration::from_secs(2), || {
            cache.stats().invalidations > invalidations
        })
        .await;
        gate.open();
        let old = reader.await.unwrap().unwrap();
        assert!(!cached(&cache, read), "{read:?}: a stale fill was inserted after its invalidation");
        assert_eq!(cache.stats().fills_discarded, discarded + 1, "{read:?} (kind {i})");
        let new = cache.read(read).await.unwrap();
        assert_ne!(old, new, "{read:?}");
        assert!(cached(&cache, read), "{read:?}: the next read fills again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_outside_write_drops_every_reply_of_the_key() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    redis.cli(&["HSET", "h", "f", "1", "g", "2"]).unwrap();
    let reads: &[&[&str]] =
        &[&["GET", "h"], &["HGET", "h", "f"], &["HGET", "h", "g"], &["HLEN", "h"], &["HGETALL", "h"], &["TYPE", "h"]];
    for read in reads {
        // GET of a hash is a WRONGTYPE error: errors are never cached.
        let _ = cache.read(read).await;
    }
    assert!(!cached(&cache, &["GET", "h"]), "an error was cached");
    let replies = &reads[1..];
    assert!(replies.iter().all(|r| cached(&cache, r)));
    let entries = cache.stats().l1_entries;
    assert_eq!(entries, 1, "one L1 entry holds every reply of the key");
    redis.cli(&["HSET", "h", "other", "x"]).unwrap();
    eventually("every reply of h dropped", Duration::from_secs(2), || replies.iter().all(|r| !cached(&cache, r))).await;
    assert_eq!(cache.stats().l1_entries, 0);
    assert_eq!(cache.hlen("h").await.unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule3_own_writes_of_every_kind_are_read_back_at_once() {
    let redis = TestRedis::start().unwrap();
    // `ttl` mode: no invalidation would ever arrive, so only the own-write
    // rule can make these reads right.
    let cache = Cache::new(config(&redis, |c| c.l1.invalidation = Invalidation::Ttl)).unwrap();
    seed(&redis);
    redis.cli(&["SET", "n", "10"]).unwrap();

    macro_rules! after {
        ($read:expr, $write:expr, $want:expr) => {{
            let before = $read.await.unwrap();
            assert_eq!($read.await.unwrap(), before); // now from L1
            $write.await.unwrap();
            assert_eq!($read.await.unwrap(), $want, "{} after {}", stringify!($read), stringify!($write));
        }};
    }
    after!(cache.get("n"), cache.incr("n"), Some(b("11")));
    after!(cache.get("n"), cache.incrby("n", 5), Some(b("16")));
    after!(cache.get("n"), cache.decr("n"), Some(b("15")));
    after!(cache.strlen("n"), cache.decrby("n", 10), 1);
    after!(cache.hget("h", "f"), cache.hincrby("h", "f", 2), Some(b("3")));
    after!(cache.hlen("h"), cache.hset("h", &[("k", "v")]), 3);
    after!(cache.hexists("h", "k"), cache.hdel("h", &["k"]), false);
    after!(cache.scard("set"), cache.sadd("set", &["c"]), 3);
    after!(cache.sismember("set", "a"), cache.srem("set", &["a"]), false);
    after!(cache.zcard("z"), cache.zadd("z", &[(9.0, "d")]), 4);
    after!(cache.zscore("z", "a"), cache.zincrby("z", 1.5, "a"), Some(2.5));
    after!(cache.zrank("z", "b"), cache.zrem("z", &["b"]), None);
    after!(cache.llen("l"), cache.lpush("l", &["w"]), 4);
    after!(cache.lindex("l", -1), cache.rpush("l", &["end"]), Some(b("end")));
    after!(cache.lrange("l", 0, 0), cache.lpop("l"), vec![b("x")]);
    after!(cache.lrange("l", -1, -1), cache.rpop("l"), vec![b("z")]);
    after!(cache.llen("l"), cache.ltrim("l", 0, 0), 1);
    after!(cache.exists("s"), cache.delete("s"), false);
    after!(cache.key_type("set"), cache.delete("set"), "none".to_owned());
    // A raw command is a write to every argument it names.
    after!(cache.hget("h", "raw"), cache.command(&["HSET", "h", "raw", "1"]), Some(b("1")));
    after!(cache.read(&["SCARD", "set2"]), cache.command(&["SADD", "set2", "m"]), Reply::Int(1));
    // PERSIST: the reply that changes is TTL's, which is never cached; the
    // key's replies are still dropped.
    redis.cli(&["PEXPIRE", "z", "100000"]).unwrap();
    cache.zcard("z").await.unwrap();
    assert!(cached(&cache, &["ZCARD", "z"]));
    assert!(cache.persist("z").await.unwrap());
    assert!(!cached(&cache, &["ZCARD", "z"]), "PERSIST left the key's replies in L1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule4_a_lost_connection_drops_every_reply() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    seed(&redis);
    let reads: &[&[&str]] = &[&["HGETALL", "h"], &["SMEMBERS", "set"], &["ZRANGE", "z", "0", "-1"], &["LLEN", "l"]];
    for read in reads {
        cache.read(read).await.unwrap();
        assert!(cached(&cache, read));
    }
    let clients = redis.cli(&["CLIENT", "LIST"]).unwrap();
    for id in clients
        .lines()
        .filter(|l| l.contains("name=nc-reads-test"))
        .filter_map(|l| l.split_whitespace().find_map(|f| f.strip_prefix("id=")))
    {
        redis.cli(&["CLIENT", "KILL", "ID", id]).unwrap();
    }
    eventually("the flush for the lost connection", Duration::from_secs(2), || cache.stats().flushes.disconnect > 0)
        .await;
    assert!(reads.iter().all(|r| !cached(&cache, r)), "a reply survived the lost connection");
    // Every killed connection is noticed on its own (each flushes), and a
    // new one serves only once a health ping confirmed it: a fill made
    // before that settles may be dropped, so the refill is awaited.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        cache.read(reads[0]).await.unwrap();
        if cached(&cache, reads[0]) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "a new connection never fills again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule5_replies_are_not_served_past_the_health_bound() {
    let redis = TestRedis::start().unwrap();
    let cache = Cache::new(config(&redis, |c| {
        c.l1.max_staleness = Duration::from_millis(300);
        c.l1.health_interval = Duration::from_millis(100);
    }))
    .unwrap();
    seed(&redis);
    cache.hgetall("h").await.unwrap();
    cache.zrange_withscores("z", &ZRange::index(0, -1)).await.unwrap();
    assert!(cached(&cache, &["HGETALL", "h"]));
    // A frozen server: the connection stays open, but nothing confirms it.
    redis.pause();
    eventually("the health bound", Duration::from_secs(2), || !cached(&cache, &["HGETALL", "h"])).await;
    assert!(!cached(&cache, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]));
    redis.resume();
    let started = std::time::Instant::now();
    while !cached(&cache, &["HGETALL", "h"]) {
        assert!(started.elapsed() < Duration::from_secs(3), "L1 never served again");
        let _ = cache.hgetall("h").await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule6_and_7_negative_replies_and_the_pttl_cap() {
    let redis = TestRedis::start().unwrap();
    let clock = Clock::manual();
    let cache = Cache::builder()
        .config(config(&redis, |c| {
            c.l1.invalidation = Invalidation::Ttl;
            c.l1.ttl = Duration::from_secs(60);
            c.l1.negative_ttl = Duration::from_secs(5);
        }))
        .clock(clock.clone())
        .build()
        .unwrap();
    // A hash that expires in 10 s is cached for 10 s, not for l1.ttl.
    redis.cli(&["HSET", "h", "f", "1"]).unwrap();
    redis.cli(&["PEXPIRE", "h", "10000"]).unwrap();
    assert_eq!(cache.hget("h", "f").await.unwrap(), Some(b("1")));
    assert_eq!(cache.hgetall("h").await.unwrap(), vec![(b("f"), b("1"))]);
    clock.advance(Duration::from_millis(9_900));
    assert!(cached(&cache, &["HGET", "h", "f"]));
    clock.advance(Duration::from_millis(200));
    assert!(!cached(&cache, &["HGET", "h", "f"]), "served past the key's own TTL");
    assert!(!cached(&cache, &["HGETALL", "h"]), "served past the key's own TTL");
    // A missing key's replies are negative entries: negative_ttl.
    assert_eq!(cache.hget("missing", "f").await.unwrap(), None);
    assert_eq!(cache.scard("missing").await.unwrap(), 0);
    let before = cache.stats();
    assert!(matches!(cache.hget_ready("missing", "f").unwrap(), Ready::Now(None)));
    assert!(matches!(cache.hget_ready("h", "f").unwrap(), Ready::Later(_)));
    let after = cache.stats();
    assert_eq!(after.l1_read_negative_hits, before.l1_read_negative_hits + 1);
    assert_eq!(after.l1_read_misses, before.l1_read_misses + 1);
    assert_eq!(after.l1_negative_hits, before.l1_negative_hits, "GET's counters count GET only");
    clock.advance(Duration::from_millis(5_100));
    assert!(!cached(&cache, &["HGET", "missing", "f"]));
    assert!(!cached(&cache, &["SCARD", "missing"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule6_a_negative_reply_is_invalidated_when_the_key_is_created() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    assert!(!cache.sismember("later", "m").await.unwrap());
    assert!(cached(&cache, &["SISMEMBER", "later", "m"]));
    redis.cli(&["SADD", "later", "m"]).unwrap();
    eventually("the negative reply dropped", Duration::from_secs(2), || !cached(&cache, &["SISMEMBER", "later", "m"]))
        .await;
    assert!(cache.sismember("later", "m").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule9_one_round_trip_per_key_and_command() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    cache.connect().await.unwrap();
    seed(&redis);
    redis.cli(&["CONFIG", "RESETSTAT"]).unwrap();
    let gate = cache.hold_next_fill(b"h");
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.hlen("h").await })
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(2), gate.reached()).await.unwrap();
    // A different command on the same key flies on its own.
    assert_eq!(cache.hget("h", "f").await.unwrap(), Some(b("1")));
    gate.open();
    for reader in readers {
        assert_eq!(reader.await.unwrap().unwrap(), 2);
    }
    // Followers that arrived after the fill were answered by L1; either way
    // Redis saw one HLEN.
    let stats = redis.cli(&["INFO", "commandstats"]).unwrap();
    let calls = |cmd: &str| {
        stats
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{cmd}:")))
            .and_then(|l| l.split(['=', ',']).nth(1).map(|n| n.parse::<u64>().unwrap()))
            .unwrap_or(0)
    };
    assert_eq!(calls("hlen"), 1, "{stats}");
    assert_eq!(calls("hget"), 1, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allow_list_refuses_by_name_and_command_stays_raw() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    redis.cli(&["SADD", "set", "a"]).unwrap();
    for (args, says) in [
        (&["TTL", "set"][..], "TTL cannot be a cached read"),
        (&["PTTL", "set"], "PTTL"),
        (&["SRANDMEMBER", "set"], "random"),
        (&["HRANDFIELD", "h"], "random"),
        (&["EXISTS", "a", "b"], "several keys"),
        (&["ZRANGESTORE", "d", "z", "0", "-1"], "writes"),
        (&["SET", "k", "v"], "SET cannot be a cached read"),
        (&["HGET", "h"], "HGET takes a key and 1 more argument"),
        (&["HGET", "", "f"], "the key is empty"),
    ] {
        let err = cache.read(args).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{args:?}");
        assert!(err.message().contains(says), "{args:?}: {err}");
    }
    // The raw path still sends anything and caches nothing.
    assert_eq!(cache.command(&["SCARD", "set"]).await.unwrap(), Reply::Int(1));
    assert!(!cached(&cache, &["SCARD", "set"]));
    assert!(matches!(cache.command(&["TTL", "set"]).await.unwrap(), Reply::Int(-1)));
    // A Redis error (WRONGTYPE) is the caller's and is not cached.
    let err = cache.hget("set", "f").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redis);
    assert!(err.message().contains("WRONGTYPE") && err.message().contains("HGET"), "{err}");
    assert!(!cached(&cache, &["HGET", "set", "f"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_byte_bound_counts_every_reply() {
    let redis = TestRedis::start().unwrap();
    let max = 32 * 1024;
    let cache = Cache::new(config(&redis, |c| c.l1.max_bytes = max)).unwrap();
    let value = "v".repeat(200);
    for k in 0..4 {
        let fields: Vec<(String, &str)> = (0..100).map(|f| (format!("f{f}"), value.as_str())).collect();
        cache.hset(format!("h{k}"), &fields).await.unwrap();
    }
    let mut last = 0;
    for f in 0..100 {
        for k in 0..4 {
            cache.hget(format!("h{k}"), format!("f{f}")).await.unwrap();
            let stats = cache.stats();
            assert!(stats.l1_bytes <= max, "{} bytes over a bound of {max}", stats.l1_bytes);
            last = stats.l1_bytes;
        }
    }
    let stats = cache.stats();
    assert!(stats.evictions > 0, "400 replies of 200 B must not fit in 32 KiB");
    assert!(last > max / 2, "eviction emptied L1: {last}");
    assert!(stats.l1_entries <= 4);
    // Dropping the keys releases every byte of every reply.
    cache.delete_many(&["h0", "h1", "h2", "h3"]).await.unwrap();
    assert_eq!(cache.stats().l1_bytes, 0);
    assert_eq!(cache.stats().l1_entries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_values_are_decoded_and_byte_level_reads_see_the_stored_frame() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    let big = "compressible ".repeat(500);
    cache.hset("doc", &[("body", big.as_str())]).await.unwrap();
    cache.set("blob", &big, Default::default()).await.unwrap();
    for _ in 0..2 {
        assert_eq!(cache.hget("doc", "body").await.unwrap().as_deref(), Some(big.as_bytes()));
        assert_eq!(cache.hvals("doc").await.unwrap(), vec![b(&big)]);
        assert_eq!(cache.hgetall("doc").await.unwrap(), vec![(b("body"), b(&big))]);
        assert_eq!(cache.hmget("doc", &["body", "none"]).await.unwrap(), vec![Some(b(&big)), None]);
        assert_eq!(cache.read(&["GET", "blob"]).await.unwrap(), Reply::Bytes(b(&big)));
    }
    // STRLEN and HSTRLEN report what Redis stores: the (shorter) frame.
    let stored = cache.strlen("blob").await.unwrap();
    assert!(stored > 0 && stored < big.len() as u64, "{stored}");
    let Reply::Int(field) = cache.read(&["HSTRLEN", "doc", "body"]).await.unwrap() else { panic!() };
    assert_eq!(field as u64, stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_reads_return_natural_types() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    seed(&redis);
    for _ in 0..2 {
        // The second round is answered by L1; both must agree.
        assert!(cache.exists("s").await.unwrap());
        assert_eq!(cache.strlen("s").await.unwrap(), 5);
        assert_eq!(cache.key_type("z").await.unwrap(), "zset");
        assert!(!cache.getbit("s", 0).await.unwrap());
        assert_eq!(cache.bitcount("s", Some((0, 0))).await.unwrap(), 3);
        let mut keys = cache.hkeys("h").await.unwrap();
        keys.sort();
        assert_eq!(keys, vec![b("f"), b("g")]);
        let mut members = cache.smembers("set").await.unwrap();
        members.sort();
        assert_eq!(members, vec![b("a"), b("b")]);
        assert_eq!(cache.smismember("set", &["a", "x"]).await.unwrap(), vec![true, false]);
        assert_eq!(cache.zmscore("z", &["b", "x"]).await.unwrap(), vec![Some(2.0), None]);
        assert_eq!(cache.zrange("z", &ZRange::index(0, -1)).await.unwrap(), vec![b("a"), b("b"), b("c")]);
        assert_eq!(
            cache.zrange_withscores("z", &ZRange::score("+inf", "(1").rev().limit(0, 1)).await.unwrap(),
            vec![(b("c"), 3.0)]
        );
        assert_eq!(cache.zrange("zl", &ZRange::lex("[b", "+")).await.unwrap(), vec![b("b"), b("c")]);
        assert_eq!(cache.zrevrank("z", "a").await.unwrap(), Some(2));
        assert_eq!(cache.zcount("z", f64::NEG_INFINITY, 2).await.unwrap(), 2);
        assert_eq!(cache.lrange("l", 0, -1).await.unwrap(), vec![b("x"), b("y"), b("z")]);
        assert_eq!(cache.lindex("l", 5).await.unwrap(), None);
    }
    // The blocking facade answers the same, an L1 hit on the calling thread.
    let blocking = nearcache::blocking::Cache::from(cache.clone());
    let lists = std::thread::spawn(move || {
        (blocking.llen("l").unwrap(), blocking.zscore("z", "c").unwrap(), blocking.read(&["SCARD", "set"]).unwrap())
    })
    .join()
    .unwrap();
    assert_eq!(lists, (3, Some(3.0), Reply::Int(2)));
}
