//! Everything the checks look at, gathered with read-only commands over one
//! nearcache connection (L1 off, named `nearcache-doctor`).
//!
//! A fact that cannot be read (a command renamed or refused by the server)
//! is kept as the error text, and the checks that need it are skipped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use nearcache::config::RedisUrl;
use nearcache::{Cache, Config, Invalidation, Reply};
use serde::Serialize;

use super::reply::{self, Client, SlowlogEntry};
use crate::Result;

/// The doctor's own connections carry this name (and are left out of the
/// client checks).
pub(crate) const CLIENT_NAME: &str = "nearcache-doctor";
/// The sampling stops after this long, whatever `--sample` says.
const SAMPLE_BUDGET: Duration = Duration::from_secs(10);
/// Keys probed at once (each probe is one to three pipelined commands).
const PROBE_BATCH: usize = 200;
const CONFIG_NAMES: [&str; 10] = [
    "maxmemory",
    "maxmemory-policy",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-eviction",
    "lazyfree-lazy-user-del",
    "timeout",
    "lfu-log-factor",
    "tracking-table-max-keys",
];

pub(crate) struct Options {
    pub sample: usize,
    pub window: Duration,
}

/// The header of the report.
#[derive(Debug, Serialize)]
pub(crate) struct Summary {
    /// Password redacted.
    pub url: String,
    pub version: String,
    pub used_memory: String,
    pub keys: u64,
    pub clients: u64,
    /// How the facts were gathered (sample size, window).
    pub method: String,
}

/// One sampled key.
#[derive(Debug, Clone)]
pub(crate) struct SampledKey {
    pub key: Bytes,
    /// `MEMORY USAGE`: bytes the key takes, overhead included.
    pub bytes: Option<u64>,
    /// Unix milliseconds when the key expires; `None` if it has no TTL.
    pub expires_at_ms: Option<u64>,
    /// `OBJECT FREQ` (the LFU counter), when the policy keeps one.
    pub freq: Option<i64>,
}

#[derive(Debug, Default)]
pub(crate) struct KeySample {
    pub keys: Vec<SampledKey>,
    /// `DBSIZE` of the selected database.
    pub dbsize: u64,
}

/// New connections seen over the churn window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Churn {
    pub window: Duration,
    pub new_connections: u64,
}

pub(crate) struct Facts {
    pub summary: Summary,
    pub info: BTreeMap<String, String>,
    pub config: std::result::Result<BTreeMap<String, String>, String>,
    pub slowlog: std::result::Result<Vec<SlowlogEntry>, String>,
    /// Every connection but the doctor's own.
    pub clients: std::result::Result<Vec<Client>, String>,
    pub sample: std::result::Result<KeySample, String>,
    pub churn: std::result::Result<Churn, String>,
    /// Whether `CLIENT TRACKING ON` worked on a fresh connection.
    pub tracking: std::result::Result<(), String>,
    /// Every node of the cluster, when the server is a cluster node.
    pub cluster: Option<std::result::Result<super::cluster::ClusterFacts, String>>,
}

impl Facts {
    pub(crate) fn config(&self, name: &str) -> Option<&str> {
        self.config.as_ref().ok().and_then(|c| c.get(name)).map(String::as_str)
    }

    pub(crate) fn info_u64(&self, field: &str) -> Option<u64> {
        self.info.get(field).and_then(|v| v.parse().ok())
    }
}

pub(crate) fn cache(url: &RedisUrl, invalidation: Invalidation) -> Result<Cache> {
    let mut config = Config::default();
    config.redis.url = url.clone();
    config.redis.client_name = CLIENT_NAME.to_owned();
    config.redis.connections = 1;
    config.redis.connect_timeout = Duration::from_secs(3);
    config.redis.command_timeout = Duration::from_secs(5);
    config.l1.invalidation = invalidation;
    Ok(Cache::new(config)?)
}

pub(crate) async fn gather(url: &RedisUrl, options: &Options) -> Result<Facts> {
    let server = cache(url, Invalidation::Off)?;
    server.connect().await.map_err(|e| format!("cannot connect to {}: {e}", url.redacted()))?;
    let tracking = tracking_works(url).await;
    let started = Instant::now();
    let info = reply::info(&text_of(&server, &["INFO"]).await?);
    let connections_before = info.get("total_connections_received").and_then(|v| v.parse::<u64>().ok());
    // A cluster node: every node is watched over the same window.
    let cluster_watch = match info.get("cluster_enabled").map(String::as_str) {
        Some("1") => Some(super::cluster::Watch::start(url, &server).await),
        _ => None,
    };

    let config = read_config(&server).await;
    let slowlog = server.command(&["SLOWLOG", "GET", "128"]).await.map(|r| reply::slowlog(&r)).map_err(message);
    let clients = clients(&server).await;
    let lfu = config.as_ref().ok().and_then(|c| c.get("maxmemory-policy")).is_some_and(|p| p.contains("lfu"));
    let sample = sample(&server, options.sample, lfu).await;

    // The window starts before the other reads, so they count towards it.
    if let Some(left) = options.window.checked_sub(started.elapsed()) {
        tokio::time::sleep(left).await;
    }
    let churn = match (connections_before, text_of(&server, &["INFO", "stats"]).await) {
        (Some(before), Ok(stats)) => reply::info(&stats)
            .get("total_connections_received")
            .and_then(|v| v.parse::<u64>().ok())
            .map(|after| Churn { window: started.elapsed(), new_connections: after.saturating_sub(before) })
            .ok_or_else(|| "INFO stats has no total_connections_received".to_owned()),
        (None, _) => Err("INFO has no total_connections_received".to_owned()),
        (_, Err(e)) => Err(e.to_string()),
    };

    let cluster = match cluster_watch {
        Some(Ok(watch)) => Some(Ok(watch.finish().await)),
        Some(Err(e)) => Some(Err(e)),
        None => None,
    };

    let summary = Summary {
        url: url.redacted(),
        version: info.get("redis_version").cloned().unwrap_or_else(|| "?".to_owned()),
        used_memory: info.get("used_memory_human").cloned().unwrap_or_else(|| "?".to_owned()),
        keys: sample.as_ref().map_or(0, |s| s.dbsize),
        clients: info.get("connected_clients").and_then(|v| v.parse().ok()).unwrap_or(0),
        method: format!(
            "sampled {} keys (SCAN + MEMORY USAGE, PTTL{}), watched new connections for {:.1} s",
            sample.as_ref().map_or(0, |s| s.keys.len()),
            if lfu { ", OBJECT FREQ" } else { "" },
            churn.as_ref().map_or(0.0, |c| c.window.as_secs_f64())
        ),
    };
    server.close();
    Ok(Facts { summary, info, config, slowlog, clients, sample, churn, tracking, cluster })
}

fn message(e: nearcache::Error) -> String {
    e.to_string()
}

pub(crate) async fn text_of(server: &Cache, args: &[&str]) -> Result<String> {
    let r = server.command(args).await?;
    reply::text(&r).ok_or_else(|| format!("{}: unexpected reply {r:?}", args.join(" ")).into())
}

/// A fresh connection with `CLIENT TRACKING ON`, as nearcache's default
/// `tracking` mode opens them.
async fn tracking_works(url: &RedisUrl) -> std::result::Result<(), String> {
    let probe = cache(url, Invalidation::Tracking).map_err(|e| e.to_string())?;
    let result = probe.connect().await.map_err(message);
    probe.close();
    result
}

async fn read_config(server: &Cache) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut all = BTreeMap::new();
    // One name per CONFIG GET: Redis before 7 takes a single pattern.
    for name in CONFIG_NAMES {
        let r = server.command(&["CONFIG", "GET", name]).await.map_err(message)?;
        all.extend(reply::config_pairs(&r));
    }
    if all.is_empty() {
        return Err("CONFIG GET returned nothing".to_owned());
    }
    Ok(all)
}

async fn clients(server: &Cache) -> std::result::Result<Vec<Client>, String> {
    let me = server.command(&["CLIENT", "ID"]).await.map_err(message)?;
    let me = reply::int(&me).ok_or("CLIENT ID: not a number")?;
    let list = server.command(&["CLIENT", "LIST"]).await.map_err(message)?;
    let list = reply::text(&list).ok_or("CLIENT LIST: unexpected reply")?;
    Ok(reply::client_list(&list).into_iter().filter(|c| c.id != me && c.name != CLIENT_NAME).collect())
}

/// SCAN until `max` keys or the time budget, then probe each key.
async fn sample(server: &Cache, max: usize, lfu: bool) -> std::result::Result<KeySample, String> {
    let dbsize = server.command(&["DBSIZE"]).await.map_err(message)?;
    let dbsize = reply::int(&dbsize).unwrap_or(0).max(0) as u64;
    let started = Instant::now();
    let mut keys: Vec<Bytes> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut scan = server.scan(None);
    while keys.len() < max && started.elapsed() < SAMPLE_BUDGET {
        match scan.next_batch().await.map_err(message)? {
            Some(batch) => keys.extend(batch.into_iter().filter(|k| seen.insert(k.clone()))),
            None => break,
        }
    }
    keys.truncate(max);
    let mut sampled = Vec::with_capacity(keys.len());
    for batch in keys.chunks(PROBE_BATCH) {
        if started.elapsed() >= SAMPLE_BUDGET {
            break;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (i, key) in batch.iter().enumerate() {
            let (server, key) = (server.clone(), key.clone());
            tasks.spawn(async move { (i, probe(&server, key, lfu).await) });
        }
        let mut probed: Vec<(usize, Option<SampledKey>)> = Vec::with_capacity(batch.len());
        while let Some(done) = tasks.join_next().await {
            probed.push(done.map_err(|e| format!("probe task failed: {e}"))?);
        }
        probed.sort_by_key(|(i, _)| *i);
        // A key deleted since the SCAN has nothing to report.
        sampled.extend(probed.into_iter().filter_map(|(_, k)| k));
    }
    Ok(KeySample { keys: sampled, dbsize })
}

/// MEMORY USAGE, PTTL and (LFU only) OBJECT FREQ of one key; `None` if the
/// key is gone.
async fn probe(server: &Cache, key: Bytes, lfu: bool) -> Option<SampledKey> {
    let memory = server.command(&[&b"MEMORY"[..], b"USAGE", &key]).await;
    let pttl = server.command(&[&b"PTTL"[..], &key]).await;
    let freq = if lfu { server.command(&[&b"OBJECT"[..], b"FREQ", &key]).await.ok() } else { None };
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let pttl = pttl.ok().as_ref().and_then(reply::int)?;
    if pttl == -2 {
        return None;
    }
    Some(SampledKey {
        bytes: memory.ok().as_ref().and_then(reply::int).map(|b| b.max(0) as u64),
        expires_at_ms: (pttl >= 0).then(|| now_ms + pttl as u64),
        freq: freq.as_ref().and_then(|f| match f {
            Reply::Nil => None,
            other => reply::int(other),
        }),
        key,
    })
}
