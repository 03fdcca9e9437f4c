//! Explicit pipelines and Lua scripts against a real redis-server started
//! by the shared launcher.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nearcache::testing::{b, TestRedis};
use nearcache::{Cache, Config, ErrorKind, Invalidation, Lookup, Reply};

fn cache_with(redis: &TestRedis, edit: impl FnOnce(&mut Config)) -> Cache {
    let mut config = Config::default();
    config.redis.url = redis.url().parse().unwrap();
    edit(&mut config);
    Cache::new(config).unwrap()
}

/// `calls` of a command from INFO commandstats, to count what was sent.
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
async fn results_come_back_in_call_order_each_with_its_own_error() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    let mut p = cache.pipeline();
    p.cmd(&["SET", "s", "text"]).unwrap();
    p.cmd(&["INCR", "n"]).unwrap();
    p.cmd(&["HGET", "s", "field"]).unwrap(); // WRONGTYPE
    p.cmd(&["RPUSH", "list", "a", "b"]).unwrap();
    p.cmd(&["INCR", "n"]).unwrap();
    p.cmd(&["LRANGE", "list", "0", "-1"]).unwrap();
    p.cmd(&["NOSUCHCOMMAND"]).unwrap();
    p.cmd(&["GET", "s"]).unwrap();
    assert_eq!(p.len(), 8);
    let replies = p.execute().await.unwrap();
    assert!(p.is_empty(), "execute empties the pipeline");
    assert_eq!(replies.len(), 8);
    assert_eq!(replies[0].as_ref().unwrap(), &Reply::Status("OK".into()));
    assert_eq!(replies[1].as_ref().unwrap(), &Reply::Int(1));
    let wrongtype = replies[2].as_ref().unwrap_err();
    assert_eq!(wrongtype.kind(), ErrorKind::Redis);
    assert!(wrongtype.message().contains("WRONGTYPE") && wrongtype.message().contains("HGET \"s\""), "{wrongtype}");
    assert_eq!(replies[3].as_ref().unwrap(), &Reply::Int(2));
    assert_eq!(replies[4].as_ref().unwrap(), &Reply::Int(2), "later commands ran after the error");
    assert_eq!(replies[5].as_ref().unwrap(), &Reply::Array(vec![Reply::Bytes(b("a")), Reply::Bytes(b("b"))]));
    assert_eq!(replies[6].as_ref().unwrap_err().kind(), ErrorKind::Redis);
    assert_eq!(replies[7].as_ref().unwrap(), &Reply::Bytes(b("text")));
    assert!(cache.pipeline().execute().await.unwrap().is_empty());
}

#[tokio::test]
async fn reads_l1_can_answer_are_not_sent() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    cache.set("hot", "h", Default::default()).await.unwrap();
    cache.get("hot").await.unwrap(); // in L1 now
    cache.get("absent").await.unwrap(); // a cached absence
    redis.cli(&["SET", "cold", "c"]).unwrap();
    let gets = calls(&redis, "get");
    let mut p = cache.pipeline();
    p.cmd(&["GET", "hot"]).unwrap();
    p.cmd(&["GET", "cold"]).unwrap();
    p.cmd(&["GET", "absent"]).unwrap();
    p.cmd(&["get", "hot"]).unwrap();
    let replies = p.execute().await.unwrap();
    let values: Vec<Reply> = replies.into_iter().map(Result::unwrap).collect();
    assert_eq!(values, vec![Reply::Bytes(b("h")), Reply::Bytes(b("c")), Reply::Nil, Reply::Bytes(b("h"))]);
    assert_eq!(calls(&redis, "get") - gets, 1, "only the GET of \"cold\" was sent");
}

#[tokio::test]
async fn sent_reads_fill_l1_and_an_outside_write_drops_them() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    redis.cli(&["HSET", "h", "f", "1"]).unwrap();
    redis.cli(&["SADD", "s", "a", "b"]).unwrap();
    redis.cli(&["SET", "g", "v"]).unwrap();
    let queue = |p: &mut nearcache::Pipeline| {
        p.cmd(&["HGET", "h", "f"]).unwrap();
        p.cmd(&["SCARD", "s"]).unwrap();
        p.cmd(&["GET", "g"]).unwrap();
        p.cmd(&["TTL", "g"]).unwrap(); // not a cached read: always sent
    };
    let expected = vec![Reply::Bytes(b("1")), Reply::Int(2), Reply::Bytes(b("v")), Reply::Int(-1)];
    let mut p = cache.pipeline();
    queue(&mut p);
    let first: Vec<Reply> = p.execute().await.unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(first, expected);
    // The sent reads filled L1 (with their PTTL, in the same round trip):
    // the same pipeline again sends only the TTL.
    let (hgets, scards, gets, ttls) =
        (calls(&redis, "hget"), calls(&redis, "scard"), calls(&redis, "get"), calls(&redis, "ttl"));
    queue(&mut p);
    let second: Vec<Reply> = p.execute().await.unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(second, expected);
    assert_eq!(
        (calls(&redis, "hget") - hgets, calls(&redis, "scard") - scards, calls(&redis, "get") - gets),
        (0, 0, 0),
        "every cached read was answered from L1"
    );
    assert_eq!(calls(&redis, "ttl") - ttls, 1);
    assert_eq!(cache.hget("h", "f").await.unwrap(), Some(b("1")));
    // A write outside nearcache drops the key's replies (tracking).
    redis.cli(&["HSET", "h", "f", "2"]).unwrap();
    let started = std::time::Instant::now();
    loop {
        let mut p = cache.pipeline();
        p.cmd(&["HGET", "h", "f"]).unwrap();
        if p.execute().await.unwrap()[0].as_ref().ok() == Some(&Reply::Bytes(b("2"))) {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "the outside write was never seen");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_read_after_a_write_of_its_key_is_sent_and_sees_the_write() {
    let redis = TestRedis::start().unwrap();
    // `ttl` mode: only our own writes drop L1 entries.
    let cache = cache_with(&redis, |c| c.l1.invalidation = Invalidation::Ttl);
    cache.set("k", "old", Default::default()).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("old")));
    let mut p = cache.pipeline();
    p.cmd(&["GET", "k"]).unwrap(); // before the write: L1 may answer
    p.cmd(&["SET", "k", "new"]).unwrap();
    p.cmd(&["GET", "k"]).unwrap(); // after it: must see it
    let replies = p.execute().await.unwrap();
    assert_eq!(replies[0].as_ref().unwrap(), &Reply::Bytes(b("old")));
    assert_eq!(replies[2].as_ref().unwrap(), &Reply::Bytes(b("new")));
    // Read back at once through get, and L1 holds nothing stale.
    assert_eq!(cache.get("k").await.unwrap(), Some(b("new")));
    let mut p = cache.pipeline();
    p.cmd(&["HSET", "h", "f", "1"]).unwrap();
    p.execute().await.unwrap();
    assert_eq!(cache.hget("h", "f").await.unwrap(), Some(b("1")));
}

#[tokio::test]
async fn compressed_values_read_the_same_from_l1_and_from_redis() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    let big = "x".repeat(10_000); // compressed on write (min_size 1KiB)
    cache.set("big", &big, Default::default()).await.unwrap();
    cache.hset("hash", &[("f", big.as_str())]).await.unwrap();
    let mut p = cache.pipeline();
    p.cmd(&["GET", "big"]).unwrap(); // not in L1: from Redis
    p.cmd(&["HGET", "hash", "f"]).unwrap();
    p.cmd(&["HMGET", "hash", "f", "missing"]).unwrap();
    p.cmd(&["STRLEN", "big"]).unwrap(); // raw: the stored frame's length
    let replies = p.execute().await.unwrap();
    assert_eq!(replies[0].as_ref().unwrap(), &Reply::Bytes(b(&big)));
    assert_eq!(replies[1].as_ref().unwrap(), &Reply::Bytes(b(&big)));
    assert_eq!(replies[2].as_ref().unwrap(), &Reply::Array(vec![Reply::Bytes(b(&big)), Reply::Nil]));
    assert!(matches!(replies[3].as_ref().unwrap(), Reply::Int(n) if *n < 10_000));
    cache.get("big").await.unwrap();
    assert!(matches!(cache.get_local(b"big").unwrap(), Lookup::Hit(_)));
    let mut p = cache.pipeline();
    p.cmd(&["GET", "big"]).unwrap(); // from L1 now
    assert_eq!(p.execute().await.unwrap()[0].as_ref().unwrap(), &Reply::Bytes(b(&big)));
}

#[tokio::test]
async fn commands_that_would_hold_the_connection_are_refused_when_queued() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    let mut p = cache.pipeline();
    for args in [&["MULTI"][..], &["WATCH", "k"], &["SUBSCRIBE", "ch"], &["BLPOP", "q", "0"], &[]] {
        let err = p.cmd(args).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{args:?}");
    }
    assert!(p.is_empty());
}

#[test]
fn the_blocking_pipeline_and_script_are_the_same() {
    let redis = TestRedis::start().unwrap();
    let mut config = Config::default();
    config.redis.url = redis.url().parse().unwrap();
    let cache = nearcache::blocking::Cache::new(config).unwrap();
    let mut p = cache.transaction_pipeline();
    assert!(p.is_transaction());
    p.cmd(&["SET", "a", "1"]).unwrap().cmd(&["INCRBY", "a", "2"]).unwrap();
    let replies = p.execute().unwrap();
    assert_eq!(replies[1].as_ref().unwrap(), &Reply::Int(3));
    assert_eq!(cache.get("a").unwrap(), Some(b("3")));
    let script = cache.register_script("return redis.call('INCR', KEYS[1])");
    assert_eq!(script.call(&["a"], &[""; 0]).unwrap(), Reply::Int(4));
    assert_eq!(cache.get("a").unwrap(), Some(b("4")));
}

#[tokio::test]
async fn scripts_fall_back_to_eval_after_a_script_flush() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    let script = cache.register_script("return {KEYS[1], ARGV[1]}");
    let one = cache.register_script("return 1");
    assert_eq!(one.sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    let expected = Reply::Array(vec![Reply::Bytes(b("k")), Reply::Bytes(b("a"))]);
    assert_eq!(script.call(&["k"], &["a"]).await.unwrap(), expected);
    assert_eq!(calls(&redis, "eval"), 1, "unknown to the server: EVAL");
    assert_eq!(script.call(&["k"], &["a"]).await.unwrap(), expected);
    assert_eq!(calls(&redis, "eval"), 1, "known now: EVALSHA only");
    redis.cli(&["SCRIPT", "FLUSH"]).unwrap();
    assert_eq!(script.call(&["k"], &["a"]).await.unwrap(), expected);
    assert_eq!(calls(&redis, "eval"), 2, "NOSCRIPT after the flush: EVAL again");
    assert_eq!(script.call(&["k"], &["a"]).await.unwrap(), expected);
    assert_eq!(calls(&redis, "eval"), 2);
    assert_eq!(cache.stats().errors["NC_REDIS"], 0, "a NOSCRIPT recovered from is no error");
    // Without keys it goes to the [redis] deployment.
    assert_eq!(one.call::<&str, &str>(&[], &[]).await.unwrap(), Reply::Int(1));
    let failing = cache.register_script("return redis.error_reply('nope')");
    let err = failing.call(&["k"], &[""; 0]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redis);
    assert!(err.message().contains("nope"), "{err}");
}

#[tokio::test]
async fn a_script_drops_its_declared_keys_from_l1() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.l1.invalidation = Invalidation::Ttl);
    for key in ["a", "b", "untouched"] {
        cache.set(key, "old", Default::default()).await.unwrap();
        cache.get(key).await.unwrap();
    }
    let set_both =
        cache.register_script("redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return 'OK'");
    set_both.call(&["a", "b"], &["new"]).await.unwrap();
    assert_eq!(cache.get("a").await.unwrap(), Some(b("new")));
    assert_eq!(cache.get("b").await.unwrap(), Some(b("new")));
    assert_eq!(cache.get_local(b"untouched").unwrap(), Lookup::Hit(b("old")), "undeclared keys stay");
}

/// The bindings spawn these futures on core's runtime: they must be `Send`
/// (checked when this compiles; nothing is polled).
#[test]
fn the_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    fn transaction_calls(tx: &nearcache::Transaction) {
        send(&tx.exec());
        send(&tx.reset());
        send(&tx.command(&["GET", "k"]));
        send(&tx.watch(&["k"]));
    }
    let cache = Cache::new(Config::default()).unwrap();
    let mut p = cache.pipeline();
    send(&p.execute());
    let script = cache.register_script("return 1");
    send(&script.call(&["k"], &["a"]));
    send(&cache.watch(&["k"]));
    send(&cache.transaction(&["k"], |tx| async move { tx.command(&["GET", "k"]).await }));
    let _ = transaction_calls;
}

#[tokio::test]
async fn scripts_in_pipelines_and_transactions() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.l1.invalidation = Invalidation::Ttl);
    let incr = cache.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    cache.set("n", "0", Default::default()).await.unwrap();
    cache.get("n").await.unwrap(); // in L1: the script's write must drop it
                                   // In a pipeline a script is sent as EVAL: it runs in its place, before
                                   // the commands queued after it, whether the server knew it or not.
    let mut p = cache.pipeline();
    p.script(&incr, &["n"], &["2"]).unwrap();
    p.cmd(&["GET", "n"]).unwrap();
    p.script(&incr, &["n"], &["3"]).unwrap();
    let replies = p.execute().await.unwrap();
    assert_eq!(replies[0].as_ref().unwrap(), &Reply::Int(2));
    assert_eq!(replies[1].as_ref().unwrap(), &Reply::Bytes(b("2")), "in call order, not from L1");
    assert_eq!(replies[2].as_ref().unwrap(), &Reply::Int(5));
    assert_eq!(cache.get("n").await.unwrap(), Some(b("5")));
    // Inside MULTI too (a NOSCRIPT there could not be undone).
    redis.cli(&["SCRIPT", "FLUSH"]).unwrap();
    let mut p = cache.transaction_pipeline();
    p.script(&incr, &["n"], &["10"]).unwrap();
    assert_eq!(p.execute().await.unwrap()[0].as_ref().unwrap(), &Reply::Int(15));
    let tx = cache.watch(&["n"]).await.unwrap();
    tx.queue_script(&incr, &["n"], &["100"]).unwrap();
    assert_eq!(tx.exec().await.unwrap()[0].as_ref().unwrap(), &Reply::Int(115));
    assert_eq!(cache.get("n").await.unwrap(), Some(b("115")));
}
