//! The blocking facade against a real redis-server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use nearcache::blocking::Cache;
use nearcache::testing::TestRedis;
use nearcache::{ErrorKind, Invalidation, SetOptions};

fn cache(redis: &TestRedis) -> Cache {
    Cache::builder().url(redis.url()).invalidation(Invalidation::Ttl).build_blocking().unwrap()
}

#[test]
fn blocking_calls_cover_the_api() {
    let redis = TestRedis::start().unwrap();
    let cache = cache(&redis);
    assert!(cache.set("k", "v", SetOptions::ttl(Duration::from_secs(60))).unwrap());
    assert_eq!(cache.get("k").unwrap(), Some(Bytes::from_static(b"v")));
    assert_eq!(cache.get_many(&["k", "nope"]).unwrap(), vec![Some(Bytes::from_static(b"v")), None]);
    cache.set_many(&[("a", "1"), ("b", "2")], None).unwrap();
    assert_eq!(cache.hset("h", &[("f", "x")]).unwrap(), 1);
    assert_eq!(cache.hget("h", "f").unwrap(), Some(Bytes::from_static(b"x")));
    let loaded = cache.get_or_load("lazy", None, || Ok::<_, std::io::Error>(Bytes::from_static(b"made"))).unwrap();
    assert_eq!(loaded, Bytes::from_static(b"made"));
    let keys: Vec<_> = cache.scan(None).collect::<Result<_, _>>().unwrap();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(cache.delete_many(&["a", "b"]).unwrap(), 2);
    cache.close();
    assert_eq!(cache.get("k").unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn a_miss_is_looked_up_and_counted_once() {
    let redis = TestRedis::start().unwrap();
    let cache = cache(&redis);
    cache.set("k", "v", SetOptions::default()).unwrap();
    assert_eq!(cache.get("k").unwrap(), Some(Bytes::from_static(b"v")));
    assert_eq!(cache.get("k").unwrap(), Some(Bytes::from_static(b"v")));
    let stats = cache.stats();
    assert_eq!((stats.l1_misses, stats.l1_hits), (1, 1), "{stats:?}");
}

#[test]
fn many_threads_share_one_cache() {
    let redis = TestRedis::start().unwrap();
    let cache = cache(&redis);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let key = format!("t{t}:{}", i % 20);
                    cache.set(&key, i.to_string(), SetOptions::default()).unwrap();
                    assert_eq!(cache.get(&key).unwrap(), Some(Bytes::from(i.to_string())), "read-your-writes");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[tokio::test]
async fn blocking_inside_an_async_runtime_is_refused_not_deadlocked() {
    let redis = TestRedis::start().unwrap();
    let cache = cache(&redis);
    let err = cache.get("k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("async"), "{err}");
}
