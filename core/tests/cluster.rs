//! Redis Cluster mode against a real local cluster (3 masters, 3 replicas,
//! started by `nearcache::testing::TestCluster`): routing, per-slot MGET,
//! per-node tracking, replica reads, and the consistency checker through a
//! resharding and a failover under load.
//!
//! Each test starts its own cluster (about 2 s), so they can run in
//! parallel without sharing state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nearcache::config::{Mode, ReadFrom};
use nearcache::testing::consistency::{read_until_stopped, History, Observations};
use nearcache::testing::{b, TestCluster};
use nearcache::{Cache, Config, ErrorKind, Invalidation, Lookup, SetOptions};
use parking_lot::Mutex;

fn config(cluster: &TestCluster) -> Config {
    let mut config = Config::default();
    config.redis.url = cluster.url().parse().unwrap();
    config.redis.mode = Mode::Cluster;
    config.redis.client_name = "nc-cluster".into();
    config
}

/// Polls `cond` every 10 ms until it holds or `within` passes.
async fn eventually(within: Duration, mut cond: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond().await
}

/// `calls` of `command` on the node at `port`, from INFO commandstats.
fn calls(cluster: &TestCluster, port: u16, command: &str) -> u64 {
    let info = cluster.node(port).unwrap().cli(&["INFO", "commandstats"]).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verb_works_across_slots() {
    let cluster = TestCluster::start().unwrap();
    let cache = Cache::new(config(&cluster)).unwrap();
    cache.connect().await.unwrap();

    let keys: Vec<String> = (0..60).map(|i| format!("k:{i}")).collect();
    let masters: std::collections::HashSet<u16> = keys.iter().map(|k| cluster.master_of(k).unwrap()).collect();
    assert_eq!(masters.len(), 3, "the keys must span every master");

    for (i, key) in keys.iter().enumerate() {
        assert!(cache.set(key, format!("v{i}"), SetOptions::default()).await.unwrap());
    }
    // Every key landed on the master that owns its slot.
    for key in keys.iter().take(10) {
        let owner = cluster.master_of(key).unwrap();
        let direct = cluster.node(owner).unwrap().cli(&["GET", key]).unwrap();
        assert!(direct.starts_with('v'), "{key} is not on its master {owner}: {direct:?}");
    }
    let expected: Vec<Option<Bytes>> = (0..keys.len()).map(|i| Some(b(&format!("v{i}")))).collect();
    assert_eq!(cache.get_many(&keys).await.unwrap(), expected);
    // The MGET filled L1: now every key is local.
    for key in &keys {
        assert!(matches!(cache.get_local(key.as_bytes()).unwrap(), Lookup::Hit(_)), "{key}");
    }

    let pairs: Vec<(String, String)> = (0..30).map(|i| (format!("m:{i}"), format!("w{i}"))).collect();
    cache.set_many(&pairs, None).await.unwrap();
    cache.set_many(&pairs[..10], Some(Duration::from_secs(60))).await.unwrap();
    assert_eq!(cache.get("m:29").await.unwrap(), Some(b("w29")));
    assert!(matches!(cache.ttl("m:3").await.unwrap(), nearcache::Ttl::Expires(_)));
    assert!(cache.expire("m:20", Duration::from_secs(30)).await.unwrap());

    assert_eq!(cache.hset("h:1", &[("a", "1"), ("b", "2")]).await.unwrap(), 2);
    assert_eq!(cache.hget("h:1", "a").await.unwrap(), Some(b("1")));
    assert_eq!(cache.hgetall("h:1").await.unwrap().len(), 2);

    // SCAN visits every master.
    let mut scan = cache.scan(Some(b"m:*"));
    let mut seen = std::collections::HashSet::new();
    while let Some(key) = scan.next().await.unwrap() {
        seen.insert(key);
    }
    assert_eq!(seen.len(), 30);
    assert_eq!(cache.delete_prefix("m:").await.unwrap(), 30);
    assert_eq!(cache.get("m:1").await.unwrap(), None);
    assert_eq!(cache.delete_many(&keys[..20]).await.unwrap(), 20);

    // A raw command is routed by its key; a multi-slot one gets Redis's error.
    assert_eq!(cache.command(&["GET", "k:30"]).await.unwrap(), nearcache::Reply::Bytes(b("v30")));
    let err = cache.command(&["MGET", "k:30", "k:31", "k:32"]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redis, "{err}");
    assert!(err.to_string().to_uppercase().contains("CROSSSLOT"), "{err}");
    // Hash tags keep keys together.
    cache.set_many(&[("{u1}:a", "1"), ("{u1}:b", "2")], None).await.unwrap();
    assert_eq!(
        cache.command(&["MGET", "{u1}:a", "{u1}:b"]).await.unwrap(),
        nearcache::Reply::Array(vec![nearcache::Reply::Bytes(b("1")), nearcache::Reply::Bytes(b("2"))])
    );
    cache.close();
    assert_eq!(cache.get("k:40").await.unwrap_err().kind(), ErrorKind::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_many_sends_one_mget_per_slot() {
    let cluster = TestCluster::start().unwrap();
    let cache = Cache::new(config(&cluster)).unwrap();
    let keys: Vec<String> = (0..4).map(|i| format!("{{t}}:{i}")).chain(["x1".into(), "x2".into()]).collect();
    for key in &keys {
        cache.set(key, "v", SetOptions::default()).await.unwrap();
    }
    let before: u64 = cluster.nodes().iter().map(|n| calls(&cluster, n.port(), "mget")).sum();
    let values = cache.get_many(&keys).await.unwrap();
    assert!(values.iter().all(|v| v.as_deref() == Some(&b"v"[..])));
    let after: u64 = cluster.nodes().iter().map(|n| calls(&cluster, n.port(), "mget")).sum();
    // {t}:0..3 share a slot; x1 and x2 hash to two other slots.
    assert_eq!(after - before, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_any_master_invalidates_l1() {
    let cluster = TestCluster::start().unwrap();
    let cache = Cache::new(config(&cluster)).unwrap();
    // One key per master.
    let mut keys: Vec<(String, u16)> = Vec::new();
    for i in 0.. {
        let key = format!("inv:{i}");
        let master = cluster.master_of(&key).unwrap();
        if keys.iter().all(|(_, m)| *m != master) {
            keys.push((key, master));
        }
        if keys.len() == 3 {
            break;
        }
    }
    for (key, _) in &keys {
        cluster.cli(&["SET", key, "old"]).unwrap();
        assert_eq!(cache.get(key).await.unwrap(), Some(b("old")));
        assert!(matches!(cache.get_local(key.as_bytes()).unwrap(), Lookup::Hit(_)));
    }
    for (key, master) in &keys {
        // Written on the master directly, by another client.
        cluster.node(*master).unwrap().cli(&["SET", key, "new"]).unwrap();
        let c = cache.clone();
        let seen = eventually(Duration::from_secs(2), async || c.get(key).await.unwrap() == Some(b("new"))).await;
        assert!(seen, "{key} on {master}: the invalidation never arrived");
    }
    assert!(cache.stats().invalidations >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_reads_go_to_replicas_and_are_invalidated() {
    let cluster = TestCluster::start().unwrap();
    let mut config = config(&cluster);
    config.redis.read_from = ReadFrom::Replica;
    let cache = Cache::new(config).unwrap();
    cache.connect().await.unwrap();
    let masters: Vec<u16> = cluster.masters().unwrap().iter().map(|m| m.port).collect();
    let replicas: Vec<u16> = cluster.nodes().iter().map(|n| n.port()).filter(|p| !masters.contains(p)).collect();
    assert_eq!(replicas.len(), 3);

    let writer = Cache::new(self::config(&cluster)).unwrap();
    writer.set("r:1", "one", SetOptions::default()).await.unwrap();
    // Replication is asynchronous: the replica may lag for a moment.
    let c = cache.clone();
    assert!(
        eventually(Duration::from_secs(2), async || c.get_after_miss("r:1").await.unwrap() == Some(b("one"))).await
    );
    let on_replicas: u64 = replicas.iter().map(|&p| calls(&cluster, p, "get")).sum();
    let on_masters: u64 = masters.iter().map(|&p| calls(&cluster, p, "get")).sum();
    assert!(on_replicas >= 1, "no GET reached a replica (masters: {on_masters}; {:?})", cache.stats().errors);
    assert_eq!(on_masters, 0, "a read went to a master");

    // Now in L1; a write on the master reaches the replica by replication,
    // and the replica's tracking invalidates our copy.
    assert_eq!(cache.get("r:1").await.unwrap(), Some(b("one")));
    assert!(matches!(cache.get_local(b"r:1").unwrap(), Lookup::Hit(_)));
    writer.set("r:1", "two", SetOptions::default()).await.unwrap();
    let c = cache.clone();
    assert!(
        eventually(Duration::from_secs(2), async || c.get("r:1").await.unwrap() == Some(b("two"))).await,
        "the replica never invalidated the L1 copy"
    );
}

// ---- consistency under resharding and failover ----------------------------

const KEYS: usize = 24;
const READERS: usize = 4;
const MAX_STALENESS: Duration = Duration::from_millis(500);

fn key(i: usize) -> String {
    format!("cc:{i}")
}

/// Writes increasing versions of every key through a cache with L1 off
/// (nearcache's cluster router as a plain client), recording
/// acknowledgements. Pauses while `hold` is set, so that a master is killed
/// only once its replica has every acknowledged write.
async fn writer(cache: Cache, history: Arc<History>, stop: Arc<AtomicBool>, hold: Arc<AtomicBool>) {
    let mut versions = [0u64; KEYS];
    let mut k = 0;
    while !stop.load(Ordering::Relaxed) {
        if hold.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        versions[k] += 1;
        match cache.set(key(k), versions[k].to_string(), SetOptions::default()).await {
            Ok(_) => history.record_write(k, versions[k], Instant::now()),
            // Not acknowledged: the version is never read back as written
            // (a later write uses a higher one), so skipping it is safe.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
        k = (k + 1) % KEYS;
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_stale_reads_through_resharding_and_failover() {
    let mut cluster = TestCluster::start().unwrap();
    let mut reader_config = config(&cluster);
    reader_config.redis.command_timeout = Duration::from_millis(300);
    reader_config.redis.connect_timeout = Duration::from_millis(300);
    reader_config.redis.reconnect.max = Duration::from_millis(100);
    reader_config.l1.max_staleness = MAX_STALENESS;
    reader_config.l1.health_interval = Duration::from_millis(100);
    let readers = Cache::new(reader_config.clone()).unwrap();
    let mut writer_config = reader_config;
    writer_config.l1.invalidation = Invalidation::Off;
    let writer_cache = Cache::new(writer_config).unwrap();

    let history = Arc::new(History::new(KEYS));
    let stop = Arc::new(AtomicBool::new(false));
    let hold = Arc::new(AtomicBool::new(false));
    let outcome = Arc::new(Mutex::new(Observations::default()));
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(writer(writer_cache, Arc::clone(&history), Arc::clone(&stop), Arc::clone(&hold)));
    for r in 0..READERS {
        tasks.spawn(read_until_stopped(readers.clone(), r, KEYS, key, Arc::clone(&stop), Arc::clone(&outcome)));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;

    // Resharding: move 2000 slots (with their keys) between two masters
    // while the load runs.
    let masters = cluster.masters().unwrap();
    let (from, to) = (masters[0].port, masters[1].port);
    let resharded = {
        let started = Instant::now();
        tokio::task::block_in_place(|| cluster.reshard(from, to, 2000)).unwrap();
        started.elapsed()
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Failover: quiesce writes so the replicas have every acknowledged one,
    // kill the master of cc:0, resume.
    hold.store(true, Ordering::Release);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let victim = cluster.master_of(&key(0)).unwrap();
    tokio::task::block_in_place(|| cluster.node_mut(victim).unwrap().kill());
    hold.store(false, Ordering::Release);
    let failover_started = Instant::now();
    let mut recovered = false;
    while failover_started.elapsed() < Duration::from_secs(15) {
        if cluster.master_of(&key(0)).is_ok_and(|port| port != victim) {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "no replica took over from {victim} within 15 s");
    let failover = failover_started.elapsed();
    // Load continues on the new topology.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let reads_before_end = outcome.lock().reads.len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}

    let outcome = outcome.lock();
    let report = history.check(&outcome.reads, MAX_STALENESS);
    let stats = readers.stats();
    eprintln!(
        "cluster: {} reads ({:.0} % from L1), {} errors, max staleness {:?}, {} stale; resharding {resharded:?}, \
         failover {failover:?}; flushes {:?}",
        report.reads,
        stats.hit_ratio() * 100.0,
        outcome.errors.len(),
        report.max_staleness,
        report.stale,
        stats.flushes
    );
    assert_eq!(report.stale, 0, "stale reads beyond {MAX_STALENESS:?}: {:?}", report.examples);
    assert!(report.reads > 500, "too few reads to judge ({})", report.reads);
    assert!(stats.l1_hits > 0, "L1 never served: the check proves nothing");
    assert!(outcome.reads.len() > reads_before_end, "no successful read after the failover");
    for (_, kind) in &outcome.errors {
        assert!(kind.is_retryable(), "an error that is not a transient one during failover: {kind:?}");
    }
    assert!(
        stats.flushes.partial + stats.flushes.disconnect + stats.flushes.topology > 0,
        "the failover flushed nothing"
    );
}

/// Rule 4 per node: losing one master's connection drops the entries of
/// the slots it served and leaves the other masters' entries in L1 (their
/// invalidations are still arriving).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_a_node_keeps_the_other_nodes_entries() {
    let mut cluster = TestCluster::start().unwrap();
    let mut config = config(&cluster);
    config.redis.command_timeout = Duration::from_millis(300);
    config.redis.connect_timeout = Duration::from_millis(300);
    config.l1.max_staleness = Duration::from_secs(5);
    let cache = Cache::new(config).unwrap();
    // Ten keys per master, each read into L1.
    let mut keys: Vec<(String, u16)> = Vec::new();
    let masters: Vec<u16> = cluster.masters().unwrap().iter().map(|m| m.port).collect();
    for i in 0.. {
        let key = format!("node:{i}");
        let master = cluster.master_of(&key).unwrap();
        if keys.iter().filter(|(_, m)| *m == master).count() < 10 {
            keys.push((key, master));
        }
        if keys.len() == 10 * masters.len() {
            break;
        }
    }
    for (key, _) in &keys {
        cluster.cli(&["SET", key, "v"]).unwrap();
        assert_eq!(cache.get(key).await.unwrap(), Some(b("v")));
    }
    let victim = masters[0];
    tokio::task::block_in_place(|| cluster.node_mut(victim).unwrap().kill());
    let c = cache.clone();
    let noticed = eventually(Duration::from_secs(5), async || c.stats().flushes.partial > 0).await;
    assert!(noticed, "the lost node was never noticed: {:?}", cache.stats().flushes);
    for (key, master) in &keys {
        let local = cache.get_local(key.as_bytes()).unwrap();
        if *master == victim {
            assert_eq!(local, Lookup::Miss, "{key} was served by the lost node {victim}");
        } else {
            assert!(matches!(local, Lookup::Hit(_)), "{key} on {master} left L1 with {victim}: {local:?}");
        }
    }
    let stats = cache.stats();
    assert!(stats.partial_flush_dropped >= 10, "{stats:?}");
    assert_eq!(stats.flushes.disconnect, 0, "a whole-L1 flush: {:?}", stats.flushes);
    assert_eq!(stats.l1_entries, 20, "{stats:?}");
}

/// Rule 5 in a cluster: node pools are created on first use, after the
/// health loop started, and the loop must still ping them; otherwise L1
/// would stop serving `max_staleness` after the last connection was dialed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_pings_keep_l1_serving_in_a_cluster() {
    let cluster = TestCluster::start().unwrap();
    let mut config = config(&cluster);
    config.l1.max_staleness = Duration::from_millis(400);
    config.l1.health_interval = Duration::from_millis(100);
    let cache = Cache::new(config).unwrap();
    // A service builds its cache at start-up and serves its first request
    // later: no node pool exists yet when the loop first looks.
    tokio::time::sleep(Duration::from_millis(300)).await;
    cache.set("k", "v", SetOptions::default()).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v")));
    // Well past max_staleness with no new connection: only pings vouch.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        matches!(cache.get_local(b"k").unwrap(), Lookup::Hit(_)),
        "L1 stopped serving: the health loop is not confirming the node connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_reads_work_and_are_invalidated_on_every_master() {
    let cluster = TestCluster::start().unwrap();
    let cache = Cache::new(config(&cluster)).unwrap();
    let keys: Vec<String> = (0..30).map(|i| format!("h:{i}")).collect();
    let masters: std::collections::HashSet<u16> = keys.iter().map(|k| cluster.master_of(k).unwrap()).collect();
    assert_eq!(masters.len(), 3, "the keys must span every master");
    for key in &keys {
        cache.hset(key, &[("f", "1")]).await.unwrap();
        cache.zadd(key.replace("h:", "z:{") + "}", &[(1.0, "a")]).await.unwrap();
        assert_eq!(cache.hget(key, "f").await.unwrap(), Some(b("1")));
        assert!(matches!(cache.hget_ready(key, "f").unwrap(), nearcache::Ready::Now(_)), "{key} not cached");
    }
    // A write on each key's own master drops that key's reply.
    for key in &keys {
        let owner = cluster.master_of(key).unwrap();
        cluster.node(owner).unwrap().cli(&["HSET", key, "f", "2"]).unwrap();
    }
    for key in &keys {
        let dropped = eventually(Duration::from_secs(2), async || {
            matches!(cache.hget_ready(key, "f").unwrap(), nearcache::Ready::Later(_))
        })
        .await;
        assert!(dropped, "{key}: no invalidation from its master");
        assert_eq!(cache.hget(key, "f").await.unwrap(), Some(b("2")));
    }
    assert_eq!(cache.zcard("z:{0}").await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_transactions_and_scripts_follow_slots() {
    use nearcache::Reply;
    let cluster = TestCluster::start().unwrap();
    let cache = Cache::new(config(&cluster)).unwrap();

    // A pipeline over keys of every master: one batch per slot, sent
    // concurrently; results in call order, errors per command.
    let keys: Vec<String> = (0..30).map(|i| format!("p:{i}")).collect();
    let masters: std::collections::HashSet<u16> = keys.iter().map(|k| cluster.master_of(k).unwrap()).collect();
    assert_eq!(masters.len(), 3, "the keys must span every master");
    let mut p = cache.pipeline();
    for (i, key) in keys.iter().enumerate() {
        p.cmd(&["SET", key, &format!("v{i}")]).unwrap();
        p.cmd(&["HGET", key, "f"]).unwrap(); // WRONGTYPE
        p.cmd(&["GET", key]).unwrap();
    }
    let replies = p.execute().await.unwrap();
    // One pipeline reaches one node per slot: a flush goes through command().
    assert_eq!(cache.pipeline().cmd(&["FLUSHALL"]).unwrap_err().kind(), ErrorKind::InvalidArgument);
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(replies[3 * i].as_ref().unwrap(), &Reply::Status("OK".into()), "{key}");
        assert_eq!(replies[3 * i + 1].as_ref().unwrap_err().kind(), ErrorKind::Redis, "{key}");
        assert_eq!(replies[3 * i + 2].as_ref().unwrap(), &Reply::Bytes(b(&format!("v{i}"))), "{key}");
        let owner = cluster.master_of(key).unwrap();
        assert_eq!(cluster.node(owner).unwrap().cli(&["GET", key]).unwrap().trim(), format!("v{i}"));
    }

    // Transactions: keys of one slot only, refused before anything is sent.
    let (a, c) = ("p:0", keys.iter().find(|k| cluster.master_of(k).unwrap() != cluster.master_of("p:0").unwrap()));
    let err = cache.watch(&[a, c.unwrap()]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("hash slot"), "{err}");
    let mut p = cache.transaction_pipeline();
    p.cmd(&["SET", "{t}:a", "1"]).unwrap().cmd(&["SET", "p:0", "2"]).unwrap();
    assert_eq!(p.execute().await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    let tx = cache.watch(&["{t}:a"]).await.unwrap();
    assert_eq!(tx.queue(&["SET", c.unwrap(), "x"]).unwrap_err().kind(), ErrorKind::InvalidArgument);
    tx.queue(&["SET", "{t}:a", "1"]).unwrap();
    tx.queue(&["SET", "{t}:b", "2"]).unwrap();
    tx.exec().await.unwrap();
    let owner = cluster.master_of("{t}:b").unwrap();
    assert_eq!(cluster.node(owner).unwrap().cli(&["GET", "{t}:b"]).unwrap().trim(), "2");
    assert_eq!(cache.get("{t}:a").await.unwrap(), Some(b("1")));

    // Scripts go to the master of their first key; keys must share a slot.
    let script = cache.register_script("return redis.call('SET', KEYS[1], ARGV[1])");
    for key in keys.iter().take(6) {
        script.call(&[key.as_str()], &["s"]).await.unwrap();
        let owner = cluster.master_of(key).unwrap();
        assert_eq!(cluster.node(owner).unwrap().cli(&["GET", key]).unwrap().trim(), "s", "{key}");
        assert_eq!(cache.get(key).await.unwrap(), Some(b("s")), "{key}");
    }
    let err = script.call(&[a, c.unwrap()], &["s"]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");

    // After a resharding the cache's slot map is stale: the commands
    // answered MOVED did not run, and are sent again to their new master.
    let masters = cluster.masters().unwrap();
    let (from, to) = (masters[0].port, masters[1].port);
    let candidates: Vec<String> = (0..300).map(|i| format!("r:{i}")).collect();
    let on_from: Vec<&String> = candidates.iter().filter(|k| cluster.master_of(k).unwrap() == from).collect();
    // A cache whose slot map is read now, before the resharding (and not
    // refreshed again for 10 s).
    let cache = Cache::new(config(&cluster)).unwrap();
    cache.get("warm").await.unwrap();
    let map_read = Instant::now();
    tokio::task::block_in_place(|| cluster.reshard(from, to, 600)).unwrap();
    let map_was_stale = map_read.elapsed() < Duration::from_secs(9);
    let mut p = cache.pipeline();
    for key in &on_from {
        p.cmd(&["INCR", key]).unwrap();
    }
    for (key, reply) in on_from.iter().zip(p.execute().await.unwrap()) {
        assert_eq!(reply.unwrap(), Reply::Int(1), "{key}: ran exactly once");
    }
    let moved: Vec<&&String> = on_from.iter().filter(|k| cluster.master_of(k).unwrap() == to).collect();
    assert!(!moved.is_empty(), "no candidate key moved");
    for key in moved {
        assert_eq!(cluster.node(to).unwrap().cli(&["GET", key]).unwrap().trim(), "1", "{key}");
    }
    // The old master answered MOVED (a rejected call) for those.
    let stats = cluster.node(from).unwrap().cli(&["INFO", "commandstats"]).unwrap();
    let incr = stats.lines().find(|l| l.starts_with("cmdstat_incr:")).unwrap_or_default().to_owned();
    // (Unless the resharding took so long that the periodic refresh ran
    // before the pipeline: then no command was redirected.)
    if map_was_stale {
        assert!(incr.contains("rejected_calls=") && !incr.contains("rejected_calls=0,"), "{incr}");
    } else {
        eprintln!("the resharding outlasted the 10 s map refresh: no redirect was exercised");
    }
}

/// A resharding drops only the entries of the slots that moved: the other
/// slots' masters, and their invalidations, did not change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resharding_keeps_the_entries_of_slots_that_stayed() {
    let cluster = TestCluster::start().unwrap();
    let cache = Cache::new(config(&cluster)).unwrap();
    let keys: Vec<String> = (0..300).map(|i| format!("move:{i}")).collect();
    let before: Vec<u16> = keys.iter().map(|k| cluster.master_of(k).unwrap()).collect();
    for key in &keys {
        cluster.cli(&["SET", key, "v"]).unwrap();
        assert_eq!(cache.get(key).await.unwrap(), Some(b("v")));
    }
    let masters = cluster.masters().unwrap();
    let (from, to) = (masters[0].port, masters[1].port);
    tokio::task::block_in_place(|| cluster.reshard(from, to, 1000)).unwrap();
    let after: Vec<u16> = keys.iter().map(|k| cluster.master_of(k).unwrap()).collect();
    let moved: Vec<usize> = (0..keys.len()).filter(|&i| before[i] != after[i]).collect();
    assert!(!moved.is_empty() && moved.len() < keys.len(), "{} of {} keys moved", moved.len(), keys.len());
    // A moved key's read meets MOVED: the router refreshes its map.
    assert_eq!(cache.get(&keys[moved[0]]).await.unwrap(), Some(b("v")));
    let c = cache.clone();
    assert!(eventually(Duration::from_secs(5), async || c.stats().flushes.topology > 0).await, "no refresh");
    let stayed = (0..keys.len()).filter(|i| !moved.contains(i));
    for i in stayed {
        let local = cache.get_local(keys[i].as_bytes()).unwrap();
        assert!(matches!(local, Lookup::Hit(_)), "{} (slot stayed on {}) left L1: {local:?}", keys[i], after[i]);
    }
    assert_eq!(cache.stats().flushes.disconnect, 0, "{:?}", cache.stats().flushes);
}
