//! The async API against a real redis-server started by the shared launcher.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nearcache::testing::{b, TestRedis};
use nearcache::{Cache, Clock, Config, ErrorKind, Invalidation, Lookup, Reply, SetOptions, Ttl};

fn config(redis: &TestRedis) -> Config {
    let mut config = Config::default();
    config.redis.url = redis.url().parse().unwrap();
    config.l1.invalidation = Invalidation::Ttl;
    config
}

fn cache_with(redis: &TestRedis, edit: impl FnOnce(&mut Config)) -> Cache {
    let mut config = config(redis);
    edit(&mut config);
    Cache::new(config).unwrap()
}

fn manual_cache(redis: &TestRedis, edit: impl FnOnce(&mut Config)) -> (Cache, Clock) {
    let mut config = config(redis);
    edit(&mut config);
    let clock = Clock::manual();
    let cache = Cache::builder().config(config).clock(clock.clone()).build().unwrap();
    (cache, clock)
}

/// `calls` of a command from INFO commandstats, to count round trips.
fn calls(redis: &TestRedis, command: &str) -> u64 {
    let info = redis.cli(&["INFO", "commandstats"]).unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn set_get_delete_round_trip() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    assert_eq!(cache.get("k").await.unwrap(), None);
    assert!(cache.set("k", "v1", SetOptions::default()).await.unwrap());
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v1")));
    // Read-your-writes: the overwrite is seen at once, L1 or not.
    cache.set("k", "v2", SetOptions::default()).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v2")));
    assert!(cache.delete("k").await.unwrap());
    assert!(!cache.delete("k").await.unwrap());
    assert_eq!(cache.get("k").await.unwrap(), None);
    // Empty values are values.
    cache.set("empty", "", SetOptions::default()).await.unwrap();
    assert_eq!(cache.get("empty").await.unwrap(), Some(Bytes::new()));
    // Binary keys and values.
    let key = [0u8, 255, 10, 13];
    let value = (0..=255u8).collect::<Vec<_>>();
    cache.set(key, &value, SetOptions::default()).await.unwrap();
    assert_eq!(cache.get(key).await.unwrap().as_deref(), Some(&value[..]));
}

#[tokio::test]
async fn nx_and_xx_follow_redis_semantics() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    assert!(!cache.set("k", "x", SetOptions::default().xx()).await.unwrap());
    assert_eq!(cache.get("k").await.unwrap(), None);
    assert!(cache.set("k", "first", SetOptions::default().nx()).await.unwrap());
    assert!(!cache.set("k", "second", SetOptions::default().nx()).await.unwrap());
    assert_eq!(cache.get("k").await.unwrap(), Some(b("first")));
    assert!(cache.set("k", "third", SetOptions::default().xx()).await.unwrap());
    assert_eq!(cache.get("k").await.unwrap(), Some(b("third")));
    let err = cache.set("k", "v", SetOptions::default().nx().xx()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn write_ttls_are_jittered_down_within_the_fraction() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.write.ttl_jitter = 0.2);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..40 {
        let key = format!("j:{i}");
        cache.set(&key, "v", SetOptions::ttl(Duration::from_secs(100))).await.unwrap();
        let Ttl::Expires(left) = cache.ttl(&key).await.unwrap() else { panic!("no ttl on {key}") };
        assert!(left <= Duration::from_secs(100) && left >= Duration::from_secs(79), "{left:?}");
        seen.insert(left.as_secs());
    }
    assert!(seen.len() >= 5, "TTLs were not spread: {seen:?}");
    cache.set("exact", "v", SetOptions::ttl(Duration::from_secs(100)).exact()).await.unwrap();
    let Ttl::Expires(left) = cache.ttl("exact").await.unwrap() else { panic!("no ttl") };
    assert!(left > Duration::from_millis(99_000), "{left:?}");
    assert_eq!(cache.ttl("absent").await.unwrap(), Ttl::Missing);
    cache.set("forever", "v", SetOptions::default()).await.unwrap();
    assert_eq!(cache.ttl("forever").await.unwrap(), Ttl::Persistent);
    assert!(cache.expire("forever", Duration::from_secs(5)).await.unwrap());
    assert!(matches!(cache.ttl("forever").await.unwrap(), Ttl::Expires(d) if d <= Duration::from_secs(5)));
    assert!(!cache.expire("absent", Duration::from_secs(5)).await.unwrap());
    let err = cache.set("k", "v", SetOptions::ttl(Duration::ZERO)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn l1_serves_hits_until_its_ttl_then_refetches() {
    let redis = TestRedis::start().unwrap();
    let (cache, clock) = manual_cache(&redis, |c| {
        c.l1.ttl = Duration::from_secs(10);
        c.l1.ttl_jitter = 0.0;
    });
    redis.cli(&["SET", "k", "old"]).unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("old")));
    assert_eq!(cache.get_local(b"k").unwrap(), Lookup::Hit(b("old")));
    let gets = calls(&redis, "get");
    // A writer outside nearcache; in `ttl` mode L1 is bounded by its TTL only.
    redis.cli(&["SET", "k", "new"]).unwrap();
    for _ in 0..100 {
        assert_eq!(cache.get("k").await.unwrap(), Some(b("old")));
    }
    assert_eq!(calls(&redis, "get"), gets, "hits went to Redis");
    clock.advance(Duration::from_secs(10));
    assert_eq!(cache.get_local(b"k").unwrap(), Lookup::Miss);
    assert_eq!(cache.get("k").await.unwrap(), Some(b("new")));
    let stats = cache.stats();
    assert!(stats.l1_hits >= 100, "{stats:?}");
    assert_eq!(stats.fills, 2);
}

#[tokio::test]
async fn l1_ttl_jitter_only_shortens() {
    let redis = TestRedis::start().unwrap();
    let (cache, clock) = manual_cache(&redis, |c| {
        c.l1.ttl = Duration::from_secs(10);
        c.l1.ttl_jitter = 0.5;
    });
    for i in 0..50 {
        redis.cli(&["SET", &format!("k{i}"), "v"]).unwrap();
        cache.get(format!("k{i}")).await.unwrap();
    }
    clock.advance(Duration::from_millis(4_900));
    for i in 0..50 {
        assert!(matches!(cache.get_local(format!("k{i}").as_bytes()).unwrap(), Lookup::Hit(_)), "k{i} gone early");
    }
    clock.advance(Duration::from_millis(2_600));
    let live =
        (0..50).filter(|i| matches!(cache.get_local(format!("k{i}").as_bytes()).unwrap(), Lookup::Hit(_))).count();
    assert!(live > 0 && live < 50, "jitter did not spread expiry: {live} of 50 live at 7.5 s");
    clock.advance(Duration::from_millis(2_600));
    for i in 0..50 {
        assert_eq!(cache.get_local(format!("k{i}").as_bytes()).unwrap(), Lookup::Miss, "k{i} outlived l1.ttl");
    }
}

#[tokio::test]
async fn missing_keys_are_cached_negatively_and_own_writes_are_seen() {
    let redis = TestRedis::start().unwrap();
    let (cache, clock) = manual_cache(&redis, |c| {
        c.l1.negative_ttl = Duration::from_secs(5);
        c.l1.ttl_jitter = 0.0;
    });
    assert_eq!(cache.get("n").await.unwrap(), None);
    assert_eq!(cache.get_local(b"n").unwrap(), Lookup::Absent);
    redis.cli(&["SET", "n", "outside"]).unwrap();
    assert_eq!(cache.get("n").await.unwrap(), None, "negative entry should answer within negative_ttl");
    clock.advance(Duration::from_secs(5));
    assert_eq!(cache.get("n").await.unwrap(), Some(b("outside")));
    // Rule 3: our own write drops the negative entry before it is sent.
    assert_eq!(cache.get("m").await.unwrap(), None);
    cache.set("m", "mine", SetOptions::default()).await.unwrap();
    assert_eq!(cache.get("m").await.unwrap(), Some(b("mine")));
    assert_eq!(cache.stats().l1_negative_hits, 2, "get_local and get each answered from the negative entry");
}

#[tokio::test]
async fn prefix_rules_disable_caching_or_shorten_the_ttl() {
    let redis = TestRedis::start().unwrap();
    let (cache, clock) = manual_cache(&redis, |c| {
        c.l1.ttl_jitter = 0.0;
        c.l1.rules = vec![
            nearcache::config::Rule { prefix: "rate:".into(), ttl: None, cache: false },
            nearcache::config::Rule { prefix: "session:".into(), ttl: Some(Duration::from_secs(2)), cache: true },
        ];
    });
    redis.cli(&["SET", "rate:1", "1"]).unwrap();
    redis.cli(&["SET", "session:1", "s"]).unwrap();
    assert_eq!(cache.get("rate:1").await.unwrap(), Some(b("1")));
    assert_eq!(cache.get_local(b"rate:1").unwrap(), Lookup::Miss);
    assert_eq!(cache.get("session:1").await.unwrap(), Some(b("s")));
    assert_eq!(cache.get_local(b"session:1").unwrap(), Lookup::Hit(b("s")));
    clock.advance(Duration::from_secs(2));
    assert_eq!(cache.get_local(b"session:1").unwrap(), Lookup::Miss);
}

#[tokio::test]
async fn get_many_uses_l1_first_and_one_mget_for_the_rest() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    for i in 0..10 {
        redis.cli(&["SET", &format!("m{i}"), &format!("v{i}")]).unwrap();
    }
    assert_eq!(cache.get("m0").await.unwrap(), Some(b("v0")));
    assert_eq!(cache.get("m1").await.unwrap(), Some(b("v1")));
    let mgets = calls(&redis, "mget");
    let keys: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    let values = cache.get_many(&keys).await.unwrap();
    assert_eq!(calls(&redis, "mget"), mgets + 1);
    for (i, value) in values.iter().enumerate() {
        let expected = (i < 10).then(|| b(&format!("v{i}")));
        assert_eq!(value, &expected, "m{i}");
    }
    // Now everything (including the two absent keys) answers from L1.
    let mgets = calls(&redis, "mget");
    assert_eq!(cache.get_many(&keys).await.unwrap(), values);
    assert_eq!(calls(&redis, "mget"), mgets);
    assert_eq!(cache.get_many::<&str>(&[]).await.unwrap(), Vec::<Option<Bytes>>::new());
}

#[tokio::test]
async fn set_many_writes_all_keys_with_and_without_ttl() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    cache.get("a").await.unwrap(); // a negative entry that set_many must drop
    cache.set_many(&[("a", "1"), ("b", "2")], None).await.unwrap();
    assert_eq!(cache.get_many(&["a", "b"]).await.unwrap(), vec![Some(b("1")), Some(b("2"))]);
    assert_eq!(cache.ttl("a").await.unwrap(), Ttl::Persistent);
    cache.set_many(&[("c", "3"), ("d", "4")], Some(Duration::from_secs(30))).await.unwrap();
    assert!(matches!(cache.ttl("d").await.unwrap(), Ttl::Expires(d) if d <= Duration::from_secs(30)));
    assert_eq!(cache.delete_many(&["a", "b", "c", "zzz"]).await.unwrap(), 3);
}

#[tokio::test]
async fn hashes_round_trip_and_compress_large_fields() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    let big = "x".repeat(10_000);
    assert_eq!(cache.hset("h", &[("a", "1"), ("b", big.as_str())]).await.unwrap(), 2);
    assert_eq!(cache.hget("h", "a").await.unwrap(), Some(b("1")));
    assert_eq!(cache.hget("h", "b").await.unwrap(), Some(b(&big)));
    assert_eq!(cache.hget("h", "zz").await.unwrap(), None);
    assert_eq!(cache.hmget("h", &["b", "zz", "a"]).await.unwrap(), vec![Some(b(&big)), None, Some(b("1"))]);
    let mut all = cache.hgetall("h").await.unwrap();
    all.sort();
    assert_eq!(all, vec![(b("a"), b("1")), (b("b"), b(&big))]);
    assert_eq!(cache.hdel("h", &["a", "zz"]).await.unwrap(), 1);
    assert_eq!(cache.hgetall("nohash").await.unwrap(), vec![]);
    let raw = redis.cli(&["HSTRLEN", "h", "b"]).unwrap();
    assert!(raw.trim().parse::<usize>().unwrap() < 1000, "the big field was not compressed: {raw}");
    cache.set("str", "v", SetOptions::default()).await.unwrap();
    assert_eq!(cache.hget("str", "f").await.unwrap_err().kind(), ErrorKind::Redis, "WRONGTYPE is a Redis error");
}

#[tokio::test]
async fn compression_is_transparent_and_foreign_values_pass_through() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    let json: String =
        (0..400).map(|i| format!("{{\"id\":{i},\"name\":\"user {i}\",\"tags\":[\"a\",\"b\"]}},")).collect();
    cache.set("doc", &json, SetOptions::default()).await.unwrap();
    let stored = redis.cli(&["STRLEN", "doc"]).unwrap().trim().parse::<usize>().unwrap();
    assert!(stored < json.len() / 2, "stored {stored} bytes of {}", json.len());
    let raw = cache.command(&["GET", "doc"]).await.unwrap();
    let Reply::Bytes(frame) = raw else { panic!("{raw:?}") };
    assert_eq!(&frame[..3], &nearcache::codec::MAGIC);
    assert_eq!(cache.get("doc").await.unwrap(), Some(b(&json)));
    let stats = cache.stats();
    assert_eq!(stats.compressed_writes, 1);
    assert!(stats.compression_bytes_saved > (json.len() / 2) as u64);
    // A value written by another client comes back byte for byte.
    redis.cli(&["SET", "foreign", "plain text from redis-cli"]).unwrap();
    assert_eq!(cache.get("foreign").await.unwrap(), Some(b("plain text from redis-cli")));
    // Large binary value (2 MiB) round-trips.
    let big: Vec<u8> = (0..2 * 1024 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    cache.set("big", &big, SetOptions::default()).await.unwrap();
    assert_eq!(cache.get("big").await.unwrap().as_deref(), Some(&big[..]));
}

#[tokio::test]
async fn a_corrupt_frame_is_a_codec_error_not_a_panic() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    // magic, algo 1 (lz4), len 1000, garbage payload
    cache.command(&[&b"SET"[..], b"bad", b"\x00NC\x01\xe8\x03\x00\x00garbage"]).await.unwrap();
    let err = cache.get("bad").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Codec, "{err}");
    assert!(err.to_string().contains("bad"), "the message should name the key: {err}");
    cache.command(&[&b"SET"[..], b"bomb", b"\x00NC\x01\xff\xff\xff\xffxx"]).await.unwrap();
    assert_eq!(cache.get("bomb").await.unwrap_err().kind(), ErrorKind::Codec);
    assert_eq!(cache.stats().errors["NC_CODEC"], 2);
}

#[tokio::test]
async fn l1_stays_within_its_byte_bound_under_churn() {
    let redis = TestRedis::start().unwrap();
    let max = 512 * 1024;
    let cache = cache_with(&redis, |c| c.l1.max_bytes = max);
    let value = "v".repeat(2000);
    let items: Vec<(String, &str)> = (0..2000).map(|i| (format!("churn:{i}"), value.as_str())).collect();
    for chunk in items.chunks(200) {
        cache.set_many(chunk, None).await.unwrap();
    }
    for round in 0..3 {
        for chunk in items.chunks(100) {
            let keys: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
            cache.get_many(&keys).await.unwrap();
            let bytes = cache.stats().l1_bytes;
            assert!(bytes <= max, "round {round}: L1 holds {bytes} bytes, bound {max}");
        }
    }
    let stats = cache.stats();
    assert!(stats.l1_bytes >= max * 9 / 10 - 2200, "L1 under-filled: {} of {max}", stats.l1_bytes);
    assert!(stats.evictions > 1000, "{stats:?}");
}

#[tokio::test]
async fn concurrent_misses_for_one_key_share_one_round_trip() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    redis.cli(&["SET", "hot", "v"]).unwrap();
    cache.connect().await.unwrap();
    let gets = calls(&redis, "get");
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get("hot").await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), Some(b("v")));
    }
    let sent = calls(&redis, "get") - gets;
    assert!(sent <= 2, "64 concurrent misses sent {sent} GETs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_or_load_runs_the_loader_once_across_concurrent_callers() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    let loads = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let cache = cache.clone();
            let loads = Arc::clone(&loads);
            tokio::spawn(async move {
                cache
                    .get_or_load("computed", Some(Duration::from_secs(60)), || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok::<_, std::io::Error>(Bytes::from_static(b"expensive"))
                    })
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), b("expensive"));
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(redis.cli(&["GET", "computed"]).unwrap().trim(), "expensive");
    // Present in Redis: the loader is not called again.
    let again = cache.get_or_load("computed", None, || async { Err::<Bytes, _>("must not run") }).await.unwrap();
    assert_eq!(again, b("expensive"));
}

#[tokio::test]
async fn a_failing_loader_is_a_loader_error_with_its_cause() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    let err = cache
        .get_or_load("x", None, || async { Err::<Bytes, _>(std::io::Error::other("database down")) })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Loader);
    let cause = err.cause().expect("the loader's error is kept");
    assert_eq!(cause.to_string(), "database down");
    assert_eq!(redis.cli(&["EXISTS", "x"]).unwrap().trim(), "0");
}

#[tokio::test]
async fn invalidate_local_drops_entries_without_touching_redis() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    redis.cli(&["SET", "a", "1"]).unwrap();
    redis.cli(&["SET", "b", "1"]).unwrap();
    cache.get_many(&["a", "b"]).await.unwrap();
    redis.cli(&["SET", "a", "2"]).unwrap();
    redis.cli(&["SET", "b", "2"]).unwrap();
    cache.invalidate_local(&["a"]).unwrap();
    assert_eq!(cache.get("a").await.unwrap(), Some(b("2")));
    assert_eq!(cache.get("b").await.unwrap(), Some(b("1")));
    cache.invalidate_local_all().unwrap();
    assert_eq!(cache.get("b").await.unwrap(), Some(b("2")));
    assert_eq!(cache.stats().flushes.manual, 1);
}

#[tokio::test]
async fn scan_and_delete_prefix_cover_every_key() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    let items: Vec<(String, String)> = (0..2500).map(|i| (format!("p:{i}"), i.to_string())).collect();
    cache.set_many(&items, None).await.unwrap();
    cache.set_many(&[("q:1", "x"), ("p*literal", "y")], None).await.unwrap();
    let mut scan = cache.scan(Some(b"p:*"));
    let mut seen = std::collections::HashSet::new();
    while let Some(key) = scan.next().await.unwrap() {
        seen.insert(key);
    }
    assert_eq!(seen.len(), 2500);
    cache.get("p:7").await.unwrap(); // in L1 now
                                     // A literal '*' in the prefix must not act as a wildcard.
    assert_eq!(cache.delete_prefix("p*").await.unwrap(), 1);
    assert_eq!(cache.delete_prefix("p:").await.unwrap(), 2500);
    assert_eq!(cache.get("p:7").await.unwrap(), None, "L1 kept a deleted key");
    assert_eq!(cache.get("q:1").await.unwrap(), Some(b("x")));
    assert_eq!(cache.delete_prefix("").await.unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn raw_commands_are_checked_and_writes_drop_l1_entries() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    assert_eq!(cache.command(&["PING"]).await.unwrap(), Reply::Status("PONG".into()));
    cache.set("n", "1", SetOptions::default()).await.unwrap();
    assert_eq!(cache.get("n").await.unwrap(), Some(b("1")));
    assert_eq!(cache.command(&["INCR", "n"]).await.unwrap(), Reply::Int(2));
    assert_eq!(cache.get("n").await.unwrap(), Some(b("2")), "INCR through command() must drop L1");
    for refused in
        [&["MULTI"][..], &["SELECT", "1"], &["CLIENT", "TRACKING", "ON"], &["BLPOP", "q", "0"], &["SUBSCRIBE", "c"]]
    {
        let err = cache.command(refused).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{refused:?}");
    }
    let err = cache.command(&["NOSUCHCOMMAND"]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redis);
    cache.get("n").await.unwrap();
    cache.command(&["FLUSHDB"]).await.unwrap();
    assert_eq!(cache.get("n").await.unwrap(), None, "FLUSHDB through command() must empty L1");
    let Reply::Array(items) = cache.command(&["MGET", "n", "m"]).await.unwrap() else { panic!() };
    assert_eq!(items, vec![Reply::Nil, Reply::Nil]);
}

#[tokio::test]
async fn connections_are_named_for_client_list() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.redis.client_name = "billing-api".into());
    cache.connect().await.unwrap();
    let clients = redis.cli(&["CLIENT", "LIST"]).unwrap();
    assert_eq!(clients.matches("name=billing-api").count(), 2, "{clients}");
    let auto = cache_with(&redis, |_| {});
    auto.connect().await.unwrap();
    let clients = redis.cli(&["CLIENT", "LIST"]).unwrap();
    let pid = format!(":{}", std::process::id());
    assert!(clients.lines().any(|l| l.contains(&pid)), "no app:host:pid name in {clients}");
}

#[tokio::test]
async fn bad_keys_and_values_get_typed_errors() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.compression.max_value_size = 1024 * 1024);
    assert_eq!(cache.get("").await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(cache.set("", "v", SetOptions::default()).await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    let huge_key = vec![b'k'; nearcache::MAX_KEY_LEN + 1];
    assert_eq!(cache.get(&huge_key).await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    let huge_value = vec![0u8; 1024 * 1024 + 1];
    let err = cache.set("k", &huge_value, SetOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("max_value_size"), "{err}");
    // The cache is still fine afterwards.
    cache.set("k", "v", SetOptions::default()).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v")));
}

#[tokio::test]
async fn every_call_after_close_is_closed() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    cache.set("k", "v", SetOptions::default()).await.unwrap();
    cache.get("k").await.unwrap();
    let clone = cache.clone();
    cache.close();
    cache.close(); // twice is fine
    assert!(clone.is_closed());
    let closed = |r: nearcache::Result<()>| assert_eq!(r.unwrap_err().kind(), ErrorKind::Closed);
    closed(clone.get("k").await.map(drop));
    closed(clone.get_local(b"k").map(drop));
    closed(clone.set("k", "v", SetOptions::default()).await.map(drop));
    closed(clone.get_many(&["k"]).await.map(drop));
    closed(clone.delete("k").await.map(drop));
    closed(clone.command(&["PING"]).await.map(drop));
    closed(clone.scan(None).next().await.map(drop));
    closed(clone.invalidate_local(&["k"]));
    closed(clone.connect().await);
    assert_eq!(clone.stats().l1_entries, 0);
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_with_connection() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = Config::default();
    config.redis.url = format!("redis://127.0.0.1:{port}").parse().unwrap();
    config.l1.invalidation = Invalidation::Ttl;
    let cache = Cache::new(config).unwrap();
    let started = Instant::now();
    let err = cache.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
    // While backing off, calls fail at once instead of queueing.
    let err = cache.set("k", "v", SetOptions::default()).await.unwrap_err();
    assert!(err.kind().is_retryable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections but never replies.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut config = Config::default();
    config.redis.url = format!("redis://127.0.0.1:{port}").parse().unwrap();
    config.redis.connect_timeout = Duration::from_millis(300);
    config.l1.invalidation = Invalidation::Ttl;
    let cache = Cache::new(config).unwrap();
    let started = Instant::now();
    let err = cache.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    drop(listener);
}

#[tokio::test]
async fn the_cache_reconnects_after_the_server_restarts() {
    let mut redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| {
        c.redis.reconnect.min = Duration::from_millis(10);
        c.redis.reconnect.max = Duration::from_millis(100);
    });
    cache.set("k", "v", SetOptions::default()).await.unwrap();
    redis.restart().unwrap();
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < Duration::from_secs(3) {
        match cache.set("k", "again", SetOptions::default()).await {
            Ok(_) => {
                last = None;
                break;
            }
            Err(e) => {
                assert!(e.kind().is_retryable(), "{e}");
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    assert!(last.is_none(), "did not recover: {last:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "recovery took {:?}", started.elapsed());
    assert_eq!(cache.get("k").await.unwrap(), Some(b("again")));
    assert!(cache.stats().reconnects >= 1);
}

#[tokio::test]
async fn stats_report_counters_latencies_and_prometheus_text() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.observability.slow_threshold = Duration::ZERO);
    cache.set("k", "v", SetOptions::default()).await.unwrap();
    for _ in 0..2000 {
        cache.get("k").await.unwrap();
    }
    let stats = cache.stats();
    assert_eq!(stats.l1_hits, 1999);
    assert_eq!(stats.l1_misses, 1);
    assert!(stats.hit_ratio() > 0.99);
    assert_eq!(stats.latency["get"].count, 1);
    assert_eq!(stats.latency["set"].count, 1);
    assert!(stats.latency["l1_get"].count >= 1, "sampled L1 latency missing");
    // With a zero threshold every round trip is slow: all are counted, and
    // the log keeps at most one per millisecond.
    assert!(stats.slow_commands >= 3, "{stats:?}");
    assert!(stats.slow_log.iter().any(|e| e.command == "connect" || e.key == "k"), "{:?}", stats.slow_log);
    assert_eq!(stats.hot_keys.first().map(|h| h.key.as_str()), Some("k"));
    let text = cache.stats_prometheus();
    assert!(text.contains("nearcache_l1_hits_total 1999"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&stats.to_json()).unwrap();
    assert_eq!(json["l1_hits"], 1999);
}

#[tokio::test]
async fn invalidation_off_never_caches() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.l1.invalidation = Invalidation::Off);
    redis.cli(&["SET", "k", "1"]).unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("1")));
    redis.cli(&["SET", "k", "2"]).unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("2")));
    assert_eq!(cache.get_local(b"k").unwrap(), Lookup::Miss);
    assert_eq!(cache.stats().l1_entries, 0);
}

#[test]
fn cluster_and_routes_construct_without_io() {
    // Connections open on first use: an unreachable cluster or route is an
    // error on the first command, not at construction.
    let mut config = Config::default();
    config.redis.url = "redis://127.0.0.1:1".parse().unwrap();
    config.redis.mode = nearcache::config::Mode::Cluster;
    Cache::new(config).unwrap();
    let config = Config::from_toml_str("[[routes]]\nprefix = \"big:\"\nurl = \"redis://127.0.0.1:1\"\n").unwrap();
    Cache::new(config).unwrap();
}

#[tokio::test]
async fn set_many_with_ttl_leaves_the_connection_in_step() {
    // One connection, so every command after the MULTI/EXEC shares it: a
    // transaction whose replies were not all consumed would hand its leftover
    // replies to the next commands.
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.redis.connections = 1);
    cache.set_many(&[("c", "3"), ("d", "4")], Some(Duration::from_secs(30))).await.unwrap();
    for _ in 0..3 {
        assert_eq!(cache.command(&["GET", "c"]).await.unwrap(), Reply::Bytes(b("3")));
        assert_eq!(cache.command(&["PING"]).await.unwrap(), Reply::Status("PONG".into()));
    }
}

#[tokio::test]
async fn keepalive_zero_turns_keepalive_off_and_still_connects() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.redis.keepalive = Duration::ZERO);
    cache.set("k", "v", SetOptions::default()).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v")));
}
