//! Transactions (`WATCH` / `MULTI` / `EXEC` on dedicated connections)
//! against a real redis-server started by the shared launcher.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nearcache::testing::{b, TestRedis};
use nearcache::{Cache, Config, ErrorKind, Invalidation, Lookup, Reply};

fn config(url: &str, edit: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::default();
    config.redis.url = url.parse().unwrap();
    edit(&mut config);
    config
}

fn cache_with(redis: &TestRedis, edit: impl FnOnce(&mut Config)) -> Cache {
    Cache::new(config(redis.url(), edit)).unwrap()
}

fn int(reply: &Reply) -> i64 {
    match reply {
        Reply::Bytes(n) => std::str::from_utf8(n).unwrap().parse().unwrap(),
        Reply::Int(n) => *n,
        Reply::Nil => 0,
        other => panic!("not a number: {other:?}"),
    }
}

/// One WATCH-guarded increment of `key`, as redis-py's documentation shows it.
async fn increment(cache: &Cache, key: &'static str) -> i64 {
    let (seen, replies) = cache
        .transaction(&[key], |tx| async move {
            let seen = int(&tx.command(&["GET", key]).await?);
            tx.multi()?;
            tx.queue(&["SET", key, &(seen + 1).to_string()])?;
            Ok(seen)
        })
        .await
        .unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].as_ref().unwrap(), &Reply::Status("OK".into()));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_tasks_of_watched_increments_add_up() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.redis.transaction_retries = 10_000);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                for _ in 0..250 {
                    increment(&cache, "counter").await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    // The test means something only if the tasks did collide.
    assert!(cache.stats().errors["NC_TRANSACTION_ABORTED"] > 0, "no EXEC was ever aborted");
    assert_eq!(cache.get("counter").await.unwrap(), Some(b("1000")));
    assert_eq!(redis.cli(&["GET", "counter"]).unwrap().trim(), "1000");
}

/// Not a test of its own: the worker process of
/// `four_processes_of_watched_increments_add_up` (this test binary, run again
/// with `--ignored --exact`), doing 250 increments against the server its
/// environment names.
#[tokio::test]
#[ignore = "a worker process started by four_processes_of_watched_increments_add_up"]
async fn increment_worker() {
    let url = std::env::var("NEARCACHE_TX_WORKER_URL").expect("run by four_processes_of_watched_increments_add_up");
    let cache = Cache::new(config(&url, |c| c.redis.transaction_retries = 10_000)).unwrap();
    for _ in 0..250 {
        increment(&cache, "counter").await;
    }
}

#[test]
fn four_processes_of_watched_increments_add_up() {
    let redis = TestRedis::start().unwrap();
    let me = std::env::current_exe().unwrap();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(&me)
                .args(["--ignored", "--exact", "increment_worker", "--test-threads", "1"])
                .env("NEARCACHE_TX_WORKER_URL", redis.url())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut worker in workers {
        assert!(worker.wait().unwrap().success(), "a worker failed");
    }
    assert_eq!(redis.cli(&["GET", "counter"]).unwrap().trim(), "1000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_example_is_seen_all_or_nothing() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (cache, stop) = (cache.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let (mut both, mut neither) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                // An atomic read of both keys: a write that is not atomic
                // could be seen half done here.
                let mut p = cache.transaction_pipeline();
                p.cmd(&["HGET", "atomic", "location"]).unwrap();
                p.cmd(&["ZSCORE", "history", "atomic"]).unwrap();
                let replies = p.execute().await.unwrap();
                match (replies[0].as_ref().unwrap(), replies[1].as_ref().unwrap()) {
                    (Reply::Bytes(location), score) if location.as_ref() == b"Los Alamos" => {
                        assert!(matches!(score, Reply::Bytes(_) | Reply::Double(_)), "half a write: {score:?}");
                        both += 1;
                    }
                    (Reply::Nil, Reply::Nil) => neither += 1,
                    other => panic!("half a write: {other:?}"),
                }
            }
            (both, neither)
        })
    };
    for _ in 0..200 {
        let mut p = cache.transaction_pipeline();
        p.cmd(&["HSET", "atomic", "name", "Project Manhattan", "location", "Los Alamos"]).unwrap();
        p.cmd(&["ZADD", "history", "1942", "atomic"]).unwrap();
        let replies = p.execute().await.unwrap();
        assert_eq!(replies[1].as_ref().unwrap(), &Reply::Int(1));
        let mut p = cache.transaction_pipeline();
        p.cmd(&["DEL", "atomic"]).unwrap();
        p.cmd(&["ZREM", "history", "atomic"]).unwrap();
        p.execute().await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let (both, neither) = reader.await.unwrap();
    assert!(both + neither > 0);
}

#[tokio::test]
async fn exhausted_retries_are_transaction_aborted() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.redis.transaction_retries = 2);
    let runs = Arc::new(AtomicUsize::new(0));
    let err = cache
        .transaction(&["contended"], |tx| {
            let (cache, runs) = (cache.clone(), Arc::clone(&runs));
            async move {
                runs.fetch_add(1, Ordering::Relaxed);
                // Another client writes the watched key every time.
                cache.command(&["INCR", "contended"]).await?;
                tx.multi()?;
                tx.queue(&["SET", "contended", "mine"])?;
                Ok(())
            }
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TransactionAborted, "{err}");
    assert_eq!(err.code(), "NC_TRANSACTION_ABORTED");
    assert!(err.message().contains("3 times"), "{err}");
    assert_eq!(runs.load(Ordering::Relaxed), 3, "the first attempt and 2 retries");
    assert_eq!(redis.cli(&["GET", "contended"]).unwrap().trim(), "3", "no EXEC ran");

    // The low-level form reports one abort with the same kind.
    let tx = cache.watch(&["contended"]).await.unwrap();
    redis.cli(&["SET", "contended", "other"]).unwrap();
    tx.queue(&["SET", "contended", "mine"]).unwrap();
    assert_eq!(tx.exec().await.unwrap_err().kind(), ErrorKind::TransactionAborted);
    assert_eq!(cache.get("contended").await.unwrap(), Some(b("other")));
}

#[tokio::test]
async fn reads_in_a_transaction_never_use_or_fill_l1() {
    let redis = TestRedis::start().unwrap();
    // `ttl` mode: nothing invalidates L1 but our own writes, so a stale
    // entry stays there for the test to see.
    let cache = cache_with(&redis, |c| c.l1.invalidation = Invalidation::Ttl);
    cache.set("k", "v1", Default::default()).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b("v1")));
    redis.cli(&["SET", "k", "v2"]).unwrap();
    redis.cli(&["SET", "other", "x"]).unwrap();
    let tx = cache.watch(&["k"]).await.unwrap();
    assert_eq!(tx.command(&["GET", "k"]).await.unwrap(), Reply::Bytes(b("v2")), "read from Redis, not L1");
    assert_eq!(tx.command(&["GET", "other"]).await.unwrap(), Reply::Bytes(b("x")));
    tx.multi().unwrap();
    tx.queue(&["GET", "other"]).unwrap();
    assert_eq!(tx.exec().await.unwrap()[0].as_ref().unwrap(), &Reply::Bytes(b("x")));
    assert_eq!(cache.get_local(b"k").unwrap(), Lookup::Hit(b("v1")), "a read does not drop the entry");
    assert_eq!(cache.get_local(b"other").unwrap(), Lookup::Miss, "nor fill one");
}

#[tokio::test]
async fn writes_in_a_transaction_are_read_back_at_once() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.l1.invalidation = Invalidation::Ttl);
    for key in ["queued", "immediate", "piped"] {
        cache.set(key, "old", Default::default()).await.unwrap();
        assert_eq!(cache.get(key).await.unwrap(), Some(b("old")));
    }
    let tx = cache.watch(&["queued"]).await.unwrap();
    tx.command(&["SET", "immediate", "new"]).await.unwrap();
    assert_eq!(cache.get("immediate").await.unwrap(), Some(b("new")));
    tx.multi().unwrap();
    tx.queue(&["SET", "queued", "new"]).unwrap();
    tx.exec().await.unwrap();
    assert_eq!(cache.get("queued").await.unwrap(), Some(b("new")));
    let mut p = cache.transaction_pipeline();
    p.cmd(&["APPEND", "piped", "+new"]).unwrap();
    p.execute().await.unwrap();
    assert_eq!(cache.get("piped").await.unwrap(), Some(b("old+new")));
}

#[tokio::test]
async fn each_command_has_its_own_result_and_refusals_come_first() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    cache.set("text", "t", Default::default()).await.unwrap();
    let tx = cache.watch(&["text"]).await.unwrap();
    // A server error before MULTI is that command's error; the transaction goes on.
    assert_eq!(tx.command(&["HGET", "text", "f"]).await.unwrap_err().kind(), ErrorKind::Redis);
    assert_eq!(tx.command(&["MULTI"]).await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    tx.multi().unwrap();
    assert_eq!(tx.multi().unwrap_err().kind(), ErrorKind::InvalidArgument, "MULTI cannot nest");
    assert_eq!(tx.command(&["GET", "text"]).await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(tx.watch(&["text"]).await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(tx.queue(&["SUBSCRIBE", "ch"]).unwrap_err().kind(), ErrorKind::InvalidArgument);
    tx.queue(&["INCR", "text"]).unwrap();
    tx.queue(&["SET", "n", "1"]).unwrap();
    let replies = tx.exec().await.unwrap();
    let err = replies[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redis);
    assert!(err.message().contains("INCR \"text\""), "{err}");
    assert_eq!(replies[1].as_ref().unwrap(), &Reply::Status("OK".into()));
    assert_eq!(tx.exec().await.unwrap_err().kind(), ErrorKind::InvalidArgument, "finished");

    // A command the server refuses while queueing aborts the whole EXEC.
    let mut p = cache.transaction_pipeline();
    p.cmd(&["SET", "n", "2"]).unwrap();
    p.cmd(&["GET"]).unwrap();
    let err = p.execute().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redis);
    assert!(err.message().contains("nothing ran: command #2 (GET)"), "{err}");
    assert_eq!(cache.get("n").await.unwrap(), Some(b("1")));
}

#[tokio::test]
async fn dedicated_connections_share_the_handshake_without_tracking() {
    let redis = TestRedis::start().unwrap();
    let cache = Cache::new(config(&format!("{}/3", redis.url()), |c| c.redis.client_name = "txtest".into())).unwrap();
    let tx = cache.watch(&["k"]).await.unwrap();
    let info = match tx.command(&["CLIENT", "INFO"]).await.unwrap() {
        Reply::Bytes(info) => String::from_utf8(info.to_vec()).unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(info.contains(" name=txtest "), "{info}");
    assert!(info.contains(" db=3 "), "{info}");
    let tracking = tx.command(&["CLIENT", "TRACKINGINFO"]).await.unwrap();
    assert!(format!("{tracking:?}").contains("\"off\""), "{tracking:?}");
    tx.reset().await;
    // The shared connections do track (the default mode).
    cache.get("k").await.unwrap();
    let list = redis.cli(&["CLIENT", "LIST"]).unwrap();
    assert!(list.lines().any(|l| l.contains("name=txtest") && l.contains("flags=t")), "{list}");
}

#[tokio::test]
async fn a_connection_left_watching_is_never_reused() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.redis.dedicated_connections = 1);
    let tx = cache.watch(&["watched"]).await.unwrap();
    tx.command(&["GET", "watched"]).await.unwrap();
    drop(tx); // neither exec nor reset: its WATCH is still pending on the server
    redis.cli(&["SET", "watched", "changed"]).unwrap();
    // With one dedicated connection, a reused one would carry the old WATCH
    // and abort this EXEC.
    let tx = cache.watch(&["fresh"]).await.unwrap();
    tx.queue(&["SET", "fresh", "1"]).unwrap();
    tx.exec().await.unwrap();
    // reset() returns the connection in its initial state: reused, and clean.
    let tx = cache.watch(&["watched"]).await.unwrap();
    tx.reset().await;
    redis.cli(&["SET", "watched", "again"]).unwrap();
    let tx = cache.watch(&["fresh"]).await.unwrap();
    tx.queue(&["SET", "fresh", "2"]).unwrap();
    tx.exec().await.unwrap();
    assert_eq!(cache.get("fresh").await.unwrap(), Some(b("2")));
}

#[tokio::test]
async fn a_busy_pool_times_out_with_a_clear_error() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| {
        c.redis.dedicated_connections = 1;
        c.redis.connect_timeout = Duration::from_millis(200);
    });
    let held = cache.watch(&["a"]).await.unwrap();
    let err = cache.watch(&["b"]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("redis.dedicated_connections"), "{err}");
    held.reset().await;
    cache.watch(&["b"]).await.unwrap().reset().await;
}

#[test]
fn the_blocking_transaction_retries_like_the_async_one() {
    let redis = TestRedis::start().unwrap();
    let cache = nearcache::blocking::Cache::new(config(redis.url(), |c| c.redis.transaction_retries = 1)).unwrap();
    let mut runs = 0;
    let err = cache
        .transaction(&["k"], |tx| {
            runs += 1;
            tx.command(&["GET", "k"])?;
            redis.cli(&["INCR", "k"]).unwrap();
            tx.queue(&["SET", "k", "mine"])
        })
        .unwrap_err();
    assert_eq!((err.kind(), runs), (ErrorKind::TransactionAborted, 2));
    let ((), replies) = cache
        .transaction(&["k"], |tx| {
            tx.multi()?;
            tx.queue(&["INCR", "k"])
        })
        .unwrap();
    assert_eq!(replies[0].as_ref().unwrap(), &Reply::Int(3));
}

#[tokio::test]
async fn a_cancelled_call_voids_the_transaction_and_frees_its_connection() {
    let redis = TestRedis::start_with_args(&["--enable-debug-command", "yes"]).unwrap();
    let cache = cache_with(&redis, |c| c.redis.dedicated_connections = 1);
    let tx = cache.watch(&["k"]).await.unwrap();
    // Cancelled while the server is still busy with it: the connection's
    // state is unknown, so it must be closed, not reused.
    let cancelled = tokio::time::timeout(Duration::from_millis(20), tx.command(&["DEBUG", "SLEEP", "0.2"])).await;
    assert!(cancelled.is_err(), "the call was meant to be cancelled: {cancelled:?}");
    let err = tx.exec().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("cancelled"), "{err}");
    // The one dedicated connection's permit came back with the drop.
    let tx = cache.watch(&["k"]).await.unwrap();
    redis.cli(&["SET", "k", "v"]).unwrap();
    tx.queue(&["SET", "k", "mine"]).unwrap();
    assert_eq!(tx.exec().await.unwrap_err().kind(), ErrorKind::TransactionAborted, "a fresh WATCH of k");
}

#[tokio::test]
async fn another_retry_policy_waits_between_attempts() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |_| {});
    let runs = Arc::new(AtomicUsize::new(0));
    let started = std::time::Instant::now();
    let retries = nearcache::TransactionRetries::new(1).delay(Duration::from_millis(100));
    let err = cache
        .transaction_with(&["w"], retries, |tx| {
            let (cache, runs) = (cache.clone(), Arc::clone(&runs));
            async move {
                runs.fetch_add(1, Ordering::Relaxed);
                cache.command(&["INCR", "w"]).await?;
                tx.queue(&["SET", "w", "mine"])
            }
        })
        .await
        .unwrap_err();
    assert_eq!((err.kind(), runs.load(Ordering::Relaxed)), (ErrorKind::TransactionAborted, 2));
    assert!(started.elapsed() >= Duration::from_millis(100), "the retry did not wait");
    // An error of the body ends the loop at once, as it is.
    let err = cache
        .transaction(&["w"], |tx| async move {
            tx.command(&["HGET", "w", "f"]).await?; // WRONGTYPE
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redis, "{err}");
    // Other errors are not retried either.
    let mut retries = cache.transaction_retries();
    let refused = nearcache::Error::new(ErrorKind::Connection, "gone");
    assert_eq!(retries.retry(refused).unwrap_err().kind(), ErrorKind::Connection);
}

#[tokio::test]
async fn a_binding_driven_loop_counts_the_give_up_as_the_closure_form_does() {
    let redis = TestRedis::start().unwrap();
    let cache = cache_with(&redis, |c| c.redis.transaction_retries = 1);
    let mut retries = cache.transaction_retries();
    let aborted = || nearcache::Error::new(ErrorKind::TransactionAborted, "watched key changed");
    let before = cache.stats().errors.get("NC_TRANSACTION_ABORTED").copied().unwrap_or(0);
    assert_eq!(cache.retry_transaction(&mut retries, aborted()).unwrap(), Duration::ZERO, "one retry left");
    let err = cache.retry_transaction(&mut retries, aborted()).unwrap_err();
    assert!(err.message().contains("2 times"), "{err}");
    let after = cache.stats().errors.get("NC_TRANSACTION_ABORTED").copied().unwrap_or(0);
    assert_eq!(after - before, 1, "the give-up is counted once, the retried abort was not an error of the caller's");
    // Errors passed through are not counted again.
    let err = cache.retry_transaction(&mut retries, nearcache::Error::new(ErrorKind::Connection, "gone")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert_eq!(cache.stats().errors.get("NC_CONNECTION").copied().unwrap_or(0), 0);
}
