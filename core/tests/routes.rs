//! `[[routes]]`: key prefixes served by other deployments, against three
//! real servers (the default one and two routes, one nested in the other).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use nearcache::config::{Mode, RouteConfig};
use nearcache::testing::{b, TestRedis};
use nearcache::{Cache, Config, ErrorKind, Lookup, SetOptions};

struct Servers {
    default: TestRedis,
    big: TestRedis,
    huge: TestRedis,
}

fn start() -> (Servers, Cache) {
    let servers = Servers {
        default: TestRedis::start().unwrap(),
        big: TestRedis::start().unwrap(),
        huge: TestRedis::start().unwrap(),
    };
    let mut config = Config::default();
    config.redis.url = servers.default.url().parse().unwrap();
    for (prefix, server) in [("big:", &servers.big), ("big:huge:", &servers.huge)] {
        config.routes.push(RouteConfig {
            prefix: prefix.into(),
            url: server.url().parse().unwrap(),
            mode: Mode::Standalone,
        });
    }
    let cache = Cache::new(config).unwrap();
    (servers, cache)
}

fn raw_get(server: &TestRedis, key: &str) -> String {
    server.cli(&["GET", key]).unwrap().trim_end().to_owned()
}

#[tokio::test]
async fn the_longest_prefix_picks_the_server() {
    let (servers, cache) = start();
    cache.set("small:1", "a", SetOptions::default()).await.unwrap();
    cache.set("big:1", "b", SetOptions::default()).await.unwrap();
    cache.set("big:huge:1", "c", SetOptions::default()).await.unwrap();
    assert_eq!(raw_get(&servers.default, "small:1"), "a");
    assert_eq!(raw_get(&servers.big, "big:1"), "b");
    assert_eq!(raw_get(&servers.huge, "big:huge:1"), "c");
    assert_eq!(raw_get(&servers.default, "big:1"), "", "a routed key leaked to the default server");
    assert_eq!(raw_get(&servers.big, "big:huge:1"), "", "the shorter prefix won");

    // One get_many spanning three servers; set_many / delete_many too.
    let keys = ["small:1", "big:1", "big:huge:1", "big:missing"];
    assert_eq!(cache.get_many(&keys).await.unwrap(), vec![Some(b("a")), Some(b("b")), Some(b("c")), None]);
    cache
        .set_many(&[("small:2", "x"), ("big:2", "y"), ("big:huge:2", "z")], Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(raw_get(&servers.huge, "big:huge:2"), "z");
    assert_eq!(cache.delete_many(&["small:2", "big:2", "big:huge:2"]).await.unwrap(), 3);

    // Stats per deployment, longest route first after [redis].
    let stats = cache.stats();
    let prefixes: Vec<&str> = stats.deployments.iter().map(|d| d.prefix.as_str()).collect();
    assert_eq!(prefixes, ["", "big:huge:", "big:"]);
    assert_eq!(stats.deployments[2].endpoint, format!("127.0.0.1:{}", servers.big.port()));
    assert!(stats.deployments.iter().all(|d| d.commands >= 3 && d.errors == 0), "{:?}", stats.deployments);

    // SCAN and delete_prefix visit every deployment.
    let mut scan = cache.scan(Some(b"big:*"));
    let mut seen = Vec::new();
    while let Some(key) = scan.next().await.unwrap() {
        seen.push(key);
    }
    seen.sort();
    assert_eq!(seen, vec![b("big:1"), b("big:huge:1")]);
    assert_eq!(cache.delete_prefix("big:").await.unwrap(), 2);
    assert_eq!(cache.get("big:huge:1").await.unwrap(), None);

    // FLUSHDB through command() empties every deployment, as it empties L1.
    cache.set("big:3", "x", SetOptions::default()).await.unwrap();
    cache.command(&["FLUSHDB"]).await.unwrap();
    for server in [&servers.default, &servers.big, &servers.huge] {
        assert_eq!(server.cli(&["DBSIZE"]).unwrap().trim(), "0", "{} kept its keys", server.port());
    }
}

#[tokio::test]
async fn each_route_carries_its_own_invalidations() {
    let (servers, cache) = start();
    for (server, key) in [(&servers.default, "small:k"), (&servers.big, "big:k"), (&servers.huge, "big:huge:k")] {
        server.cli(&["SET", key, "old"]).unwrap();
        assert_eq!(cache.get(key).await.unwrap(), Some(b("old")));
        assert!(matches!(cache.get_local(key.as_bytes()).unwrap(), Lookup::Hit(_)), "{key} not in L1");
        server.cli(&["SET", key, "new"]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while cache.get(key).await.unwrap() != Some(b("new")) {
            assert!(Instant::now() < deadline, "{key}: no invalidation from its route's server");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test]
async fn an_unreachable_route_fails_only_its_keys() {
    let (mut servers, cache) = start();
    servers.big.kill();
    cache.set("small:1", "ok", SetOptions::default()).await.unwrap();
    let err = cache.get("big:1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains(&servers.big.port().to_string()), "the error does not name the server: {err}");
    assert_eq!(cache.get("small:1").await.unwrap(), Some(b("ok")));
    assert_eq!(cache.get("big:huge:1").await.unwrap(), None);
    servers.big.restart().unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while cache.get("big:1").await.is_err() {
        assert!(Instant::now() < deadline, "the route never recovered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Rule 4 per deployment: a route's lost connection drops the entries of the
/// keys it serves, and the other deployments' entries stay in L1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_route_drops_only_its_keys() {
    let (mut servers, cache) = start();
    let keys = ["small:k", "big:k", "big:huge:k"];
    for (server, key) in [(&servers.default, keys[0]), (&servers.big, keys[1]), (&servers.huge, keys[2])] {
        server.cli(&["SET", key, "v"]).unwrap();
        assert_eq!(cache.get(key).await.unwrap(), Some(b("v")));
    }
    servers.big.kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache.stats().flushes.partial == 0 {
        assert!(Instant::now() < deadline, "the lost route was never noticed: {:?}", cache.stats().flushes);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(cache.get_local(b"big:k").unwrap(), Lookup::Miss, "an entry of the lost route is still served");
    for key in ["small:k", "big:huge:k"] {
        assert!(matches!(cache.get_local(key.as_bytes()).unwrap(), Lookup::Hit(_)), "{key} left L1 with big:");
    }
    let stats = cache.stats();
    assert_eq!((stats.flushes.disconnect, stats.partial_flush_dropped), (0, 1), "{stats:?}");
}
