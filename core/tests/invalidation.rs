//! The invalidation rules of docs/design.md, each against a real redis-server, with
//! writers outside nearcache (redis-cli).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use nearcache::testing::{answered_locally, b, eventually, TestRedis};
use nearcache::{Cache, Clock, Config, ErrorKind, Invalidation, Lookup, SetOptions};

fn config(redis: &TestRedis, edit: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::default();
    config.redis.url = redis.url().parse().unwrap();
    config.redis.client_name = "nc-under-test".into();
    config.l1.ttl_jitter = 0.0;
    edit(&mut config);
    config
}

fn tracking(redis: &TestRedis) -> Cache {
    Cache::new(config(redis, |_| {})).unwrap()
}

/// Kills this cache's connections from the server side.
fn kill_our_connections(redis: &TestRedis) -> usize {
    let clients = redis.cli(&["CLIENT", "LIST"]).unwrap();
    let ids: Vec<String> = clients
        .lines()
        .filter(|l| l.contains("name=nc-under-test"))
        .filter_map(|l| l.split_whitespace().find_map(|f| f.strip_prefix("id=")).map(str::to_owned))
        .collect();
    for id in &ids {
        redis.cli(&["CLIENT", "KILL", "ID", id]).unwrap();
    }
    ids.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule1_a_write_elsewhere_invalidates_our_copy() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    redis.cli(&["SET", "k", "v1"]).unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v1")));
    assert!(answered_locally(&cache, "k"), "the read should fill L1 in tracking mode");
    redis.cli(&["SET", "k", "v2"]).unwrap();
    eventually("invalidation of k", Duration::from_secs(2), || !answered_locally(&cache, "k")).await;
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v2")));
    assert!(cache.stats().invalidations >= 1);
    // One push can carry several keys (MSET).
    cache.get_many(&["a", "b"]).await.unwrap();
    redis.cli(&["MSET", "a", "1", "b", "2"]).unwrap();
    eventually("invalidation of a and b", Duration::from_secs(2), || {
        !answered_locally(&cache, "a") && !answered_locally(&cache, "b")
    })
    .await;
    assert_eq!(cache.get_many(&["a", "b"]).await.unwrap(), vec![Some(b("1")), Some(b("2"))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule2_an_invalidation_during_a_fill_discards_the_fill() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    cache.connect().await.unwrap();
    redis.cli(&["SET", "race", "old"]).unwrap();
    let gate = cache.hold_next_fill(b"race");
    let reader = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get("race").await })
    };
    // The fill has its reply ("old") and has not inserted it yet.
    tokio::time::timeout(Duration::from_secs(2), gate.reached()).await.expect("the fill never reached the gate");
    let before = cache.stats().invalidations;
    redis.cli(&["SET", "race", "new"]).unwrap();
    eventually("the invalidation for the write", Duration::from_secs(2), || cache.stats().invalidations > before).await;
    gate.open();
    // The read itself may return what it read (it started before the write)...
    assert_eq!(reader.await.unwrap().unwrap(), Some(b("old")));
    // ...but the stale value must not have landed in L1.
    assert_eq!(cache.get_local(b"race").unwrap(), Lookup::Miss, "a stale fill was inserted after its invalidation");
    assert_eq!(cache.stats().fills_discarded, 1);
    assert_eq!(cache.get("race").await.unwrap(), Some(b("new")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule3_own_writes_are_read_back_and_do_not_fill_l1() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    redis.cli(&["SET", "k", "theirs"]).unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("theirs")));
    cache.set("k", "mine", SetOptions::default()).await.unwrap();
    assert_eq!(cache.get_local(b"k").unwrap(), Lookup::Miss, "a write must not populate L1 in tracking mode");
    assert_eq!(cache.get("k").await.unwrap(), Some(b("mine")));
    for (i, write) in ["expire", "delete", "hset"].iter().enumerate() {
        cache.get("k").await.unwrap();
        match *write {
            "expire" => assert!(cache.expire("k", Duration::from_secs(100)).await.unwrap()),
            "delete" => assert!(cache.delete("k").await.unwrap()),
            _ => assert_eq!(cache.hset("k", &[("f", "v")]).await.unwrap(), 1),
        }
        assert_eq!(cache.get_local(b"k").unwrap(), Lookup::Miss, "write {i} ({write}) left L1 in place");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule4_a_lost_connection_drops_what_it_served() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    redis.cli(&["SET", "k", "v1"]).unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v1")));
    cache.connect().await.unwrap();
    assert!(kill_our_connections(&redis) >= 1);
    // Written while we are disconnected: no push can tell us about it.
    redis.cli(&["SET", "k", "v2"]).unwrap();
    eventually("the disconnect flush", Duration::from_secs(2), || cache.stats().flushes.disconnect >= 1).await;
    assert_eq!(cache.get_local(b"k").unwrap(), Lookup::Miss, "served an entry of a lost connection");
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v2")));
    // The new connection tracks again.
    redis.cli(&["SET", "k", "v3"]).unwrap();
    eventually("tracking after reconnect", Duration::from_secs(2), || !answered_locally(&cache, "k")).await;
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v3")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule4_a_nil_invalidation_flushes_everything() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    redis.cli(&["MSET", "a", "1", "b", "2"]).unwrap();
    cache.get_many(&["a", "b"]).await.unwrap();
    redis.cli(&["FLUSHALL"]).unwrap();
    eventually("the nil invalidation", Duration::from_secs(2), || cache.stats().flushes.nil >= 1).await;
    assert_eq!(cache.get_many(&["a", "b"]).await.unwrap(), vec![None, None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule5_a_half_open_connection_stops_l1_within_max_staleness() {
    let redis = TestRedis::start().unwrap();
    let cache = Cache::new(config(&redis, |c| {
        c.l1.max_staleness = Duration::from_millis(400);
        c.l1.health_interval = Duration::from_millis(100);
        c.redis.command_timeout = Duration::from_millis(100);
        c.redis.connect_timeout = Duration::from_millis(200);
        c.redis.reconnect.min = Duration::from_millis(10);
        c.redis.reconnect.max = Duration::from_millis(100);
    }))
    .unwrap();
    redis.cli(&["SET", "k", "v1"]).unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v1")));
    // Several health rounds pass while the server is healthy: L1 keeps serving.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(600) {
        assert!(answered_locally(&cache, "k"), "L1 stopped serving with a healthy connection");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The server stops answering; no FIN, no RST: a half-open connection.
    redis.pause();
    let paused = Instant::now();
    eventually("L1 to stop serving", Duration::from_secs(2), || !answered_locally(&cache, "k")).await;
    let stopped_after = paused.elapsed();
    let err = cache.get("k").await.unwrap_err();
    assert!(err.kind().is_retryable(), "{err}");
    redis.resume();
    let resumed = Instant::now();
    let mut recovered = None;
    while resumed.elapsed() < Duration::from_secs(3) {
        if let Ok(Some(v)) = cache.get("k").await {
            recovered = Some((v, resumed.elapsed()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (value, took) = recovered.expect("no recovery after SIGCONT");
    assert_eq!(value, b("v1"));
    assert!(took < Duration::from_secs(1), "recovery took {took:?}");
    // max_staleness (400 ms) + one health interval + the coarse clock.
    assert!(stopped_after < Duration::from_millis(700), "L1 served {stopped_after:?} into the outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule6_a_cached_absence_is_invalidated_when_the_key_is_created() {
    let redis = TestRedis::start().unwrap();
    let cache = tracking(&redis);
    assert_eq!(cache.get("new").await.unwrap(), None);
    assert_eq!(cache.get_local(b"new").unwrap(), Lookup::Absent);
    redis.cli(&["SET", "new", "here"]).unwrap();
    eventually("invalidation of the negative entry", Duration::from_secs(2), || !answered_locally(&cache, "new")).await;
    assert_eq!(cache.get("new").await.unwrap(), Some(b("here")));
}

#[tokio::test]
async fn rule7_an_entry_never_outlives_the_keys_redis_ttl() {
    let redis = TestRedis::start().unwrap();
    let clock = Clock::manual();
    // `ttl` mode: no pushes, so only the PTTL cap can end the entry early
    // (in tracking mode Redis would also push an invalidation on expiry).
    let config = config(&redis, |c| c.l1.invalidation = Invalidation::Ttl);
    let cache = Cache::builder().config(config).clock(clock.clone()).build().unwrap();
    redis.cli(&["SET", "short", "v", "PX", "5000"]).unwrap();
    redis.cli(&["SET", "long", "v"]).unwrap();
    redis.cli(&["SET", "many", "v", "PX", "5000"]).unwrap();
    cache.get("short").await.unwrap();
    cache.get("long").await.unwrap();
    cache.get_many(&["many"]).await.unwrap();
    clock.advance(Duration::from_millis(4_500));
    assert!(answered_locally(&cache, "short") && answered_locally(&cache, "many"));
    clock.advance(Duration::from_millis(600));
    assert_eq!(cache.get_local(b"short").unwrap(), Lookup::Miss, "L1 outlived the key's PTTL (get)");
    assert_eq!(cache.get_local(b"many").unwrap(), Lookup::Miss, "L1 outlived the key's PTTL (get_many)");
    assert!(answered_locally(&cache, "long"), "a key without a TTL keeps l1.ttl");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule8_stale_if_error_serves_the_last_value_while_redis_is_down() {
    let mut redis = TestRedis::start().unwrap();
    let cache = Cache::new(config(&redis, |c| {
        c.l1.stale_if_error = Duration::from_secs(30);
        c.redis.reconnect.max = Duration::from_millis(50);
    }))
    .unwrap();
    redis.cli(&["SET", "k", "v1"]).unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v1")));
    redis.kill();
    eventually("the disconnect flush", Duration::from_secs(2), || cache.stats().flushes.disconnect >= 1).await;
    assert_eq!(cache.get_local(b"k").unwrap(), Lookup::Miss, "normal reads must not see it");
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v1")), "stale_if_error should answer");
    assert_eq!(cache.stats().stale_served, 1);
    // A key never read has nothing stale: the error comes through, typed.
    let err = cache.get("other").await.unwrap_err();
    assert!(err.kind().is_retryable(), "{err}");
    redis.restart().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcast_mode_invalidates_by_prefix_and_caches_only_those_keys() {
    let redis = TestRedis::start().unwrap();
    let cache = Cache::new(config(&redis, |c| {
        c.l1.invalidation = Invalidation::Bcast;
        c.l1.prefixes = vec!["user:".into()];
    }))
    .unwrap();
    redis.cli(&["MSET", "user:1", "a", "order:1", "x"]).unwrap();
    assert_eq!(cache.get("user:1").await.unwrap(), Some(b("a")));
    assert_eq!(cache.get("order:1").await.unwrap(), Some(b("x")));
    assert!(answered_locally(&cache, "user:1"));
    assert!(
        !answered_locally(&cache, "order:1"),
        "a key outside the prefixes gets no invalidations: it must not be cached"
    );
    redis.cli(&["SET", "user:1", "b"]).unwrap();
    eventually("bcast invalidation", Duration::from_secs(2), || !answered_locally(&cache, "user:1")).await;
    assert_eq!(cache.get("user:1").await.unwrap(), Some(b("b")));
}

#[tokio::test]
async fn a_server_without_client_tracking_gives_a_clear_error() {
    // CLIENT renamed away: the handshake (SETNAME, TRACKING) cannot run.
    let redis = TestRedis::start_with_args(&["--rename-command", "CLIENT", "\"\""]).unwrap();
    let cache = tracking(&redis);
    let err = cache.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redis, "{err}");
    assert!(err.to_string().contains("connecting to"), "{err}");
}
