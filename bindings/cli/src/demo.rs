//! `nearcache demo`: a Zipf read workload through the cache at L1 sizes
//! chosen for 0-99 % hit rates, measured beside a naive weighted average.
//!
//! Each row gets a fresh cache (default `tracking` invalidation) whose
//! `l1.max_bytes` holds the `k` hottest keys, `k` taken from the Zipf CDF so
//! that those keys take the target share of reads. L1 is filled with one
//! `MGET` per 500 keys and warmed for a fifth of the row's time; then one
//! thread reads, timing each read, the rows taking turns in four rounds (a
//! noisy moment on the machine then lands on every row, not on one).
//! Redis's own command counter (`INFO stats`, read on a separate connection
//! around each turn) gives the load.
//!
//! The naive prediction for a row is `hit x rate + miss x (1 - rate)`, with
//! `rate` the row's measured hit rate, `hit` the mean L1 hit over all rows,
//! and `miss` the mean read of the 0 % row (every read goes to Redis).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use nearcache::{Cache, Config, Invalidation, Lookup, ENTRY_OVERHEAD};

use crate::proxy::DelayProxy;
use crate::server::{self, Target};
use crate::table::Table;
use crate::zipf::{Rng, Zipf};
use crate::Result;

/// The hit rates the rows aim for.
pub(crate) const TARGETS: [f64; 7] = [0.0, 0.50, 0.70, 0.80, 0.90, 0.95, 0.99];
/// Demo keys live under this prefix (and are deleted afterwards on a --url server).
const PREFIX: &str = "nc-demo:";
/// Share of each row spent warming L1 before measuring.
const WARM_SHARE: f64 = 0.2;
/// Turns each row takes (its measuring time is split between them).
const ROUNDS: u32 = 4;
/// Reads between progress bar updates.
const PROGRESS_EVERY: u64 = 1024;

/// Options of `nearcache demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Redis to use, e.g. redis://127.0.0.1:6379/0. Default: a throwaway redis-server on a
    /// free loopback port. The demo writes its keys under `nc-demo:` and deletes them afterwards.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Emulate a network: put a local delay proxy between the cache and Redis that adds this
    /// much to every round trip (half each way), e.g. 300us for a cross-zone hop.
    #[arg(long, value_name = "DURATION", value_parser = crate::parse_duration)]
    rtt: Option<Duration>,
    /// How many keys to load.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(100..=5_000_000))]
    keys: u32,
    /// Total measuring time, shared by the seven rows.
    #[arg(long, value_name = "S", default_value = "15", value_parser = crate::parse_seconds)]
    seconds: f64,
    /// Size of each value in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    value_size: u32,
    /// Zipf exponent: the key of rank r is read with probability ~ 1/(r+1)^s.
    #[arg(long, value_name = "S", default_value_t = 1.0, value_parser = parse_exponent)]
    zipf: f64,
}

fn parse_exponent(text: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if (0.0..=3.0).contains(&s) => Ok(s),
        _ => Err(format!("expected an exponent between 0 and 3, like 1.0 or 0.99, got {text:?}")),
    }
}

/// One row's measurements.
struct Row {
    target: f64,
    l1_keys: usize,
    l1_bytes: u64,
    reads: u64,
    hits: u64,
    hit_nanos: u64,
    miss_nanos: u64,
    /// Every read's latency, for the percentile.
    latencies: Vec<u32>,
    redis_commands_per_s: f64,
}

impl Row {
    fn hit_rate(&self) -> f64 {
        self.hits as f64 / self.reads.max(1) as f64
    }

    fn mean_us(&self) -> f64 {
        (self.hit_nanos + self.miss_nanos) as f64 / self.reads.max(1) as f64 / 1000.0
    }

    fn miss_mean_us(&self) -> Option<f64> {
        let misses = self.reads - self.hits;
        (misses > 0).then(|| self.miss_nanos as f64 / misses as f64 / 1000.0)
    }

    fn p99_us(&mut self) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let rank = (self.latencies.len() * 99).div_ceil(100).max(1) - 1;
        let (_, p99, _) = self.latencies.select_nth_unstable(rank);
        f64::from(*p99) / 1000.0
    }
}

pub(crate) fn run(args: &Args) -> Result<()> {
    let target = Target::new(args.url.as_deref())?;
    let proxy = match args.rtt {
        Some(rtt) => Some(DelayProxy::start(server::socket_addr(target.url())?, rtt)?),
        None => None,
    };
    let cache_url = match &proxy {
        Some(proxy) => server::with_address(target.url(), proxy.addr())?,
        None => target.url().to_owned(),
    };
    let admin = cache(target.url(), Invalidation::Off, 1)?;
    nearcache::block_on(admin.connect())??;
    let version = redis_version(&admin).unwrap_or_else(|| "?".to_owned());

    let keys: Vec<Bytes> = (0..args.keys).map(|i| Bytes::from(format!("{PREFIX}{i:08}"))).collect();
    let value_size = args.value_size as usize;
    load(&admin, &keys, value_size)?;

    let zipf = Zipf::new(keys.len(), args.zipf);
    let entry_bytes = (keys[0].len() + value_size) as u64 + ENTRY_OVERHEAD;
    let row_time = Duration::from_secs_f64(args.seconds / TARGETS.len() as f64);
    println!(
        "nearcache demo: {} keys of {} B, Zipf s = {} reads from one thread, Redis {version} at {}{}",
        keys.len(),
        value_size,
        args.zipf,
        redacted(target.url()),
        match args.rtt {
            Some(rtt) => format!(
                " behind a delay proxy adding {} per round trip ({} each way)",
                nearcache::config::format_duration(rtt),
                nearcache::config::format_duration(rtt / 2)
            ),
            None => String::new(),
        }
    );
    println!(
        "L1 invalidation: tracking (CLIENT TRACKING: Redis tells the cache when a key changes); \
         {:.1} s per row, the first {:.0} % warming L1, then {ROUNDS} turns each\n",
        row_time.as_secs_f64(),
        WARM_SHARE * 100.0
    );

    let bar = ProgressBar::new(row_time.as_millis() as u64 * TARGETS.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {elapsed:>3} {msg}")
            .map_err(|e| format!("progress bar template: {e}"))?
            .progress_chars("=> "),
    );
    let warm = row_time.mul_f64(WARM_SHARE);
    let mut runs = Vec::with_capacity(TARGETS.len());
    for (i, &rate) in TARGETS.iter().enumerate() {
        bar.set_message(format!("filling and warming L1 for row {} of {}", i + 1, TARGETS.len()));
        let l1_keys = zipf.keys_for_hit_rate(rate);
        let l1_bytes = (l1_keys as u64 * entry_bytes).max(1);
        runs.push(Run::start(&cache_url, &keys, &zipf, rate, l1_keys, l1_bytes, warm)?);
        bar.set_position(bar.position() + warm.as_millis() as u64);
    }
    // Rows take turns, so that a busy moment on the machine lands on all of
    // them rather than on one.
    let slice = (row_time - warm) / ROUNDS;
    for round in 0..ROUNDS {
        for (i, run) in runs.iter_mut().enumerate() {
            bar.set_message(format!("round {} of {ROUNDS}, target hit rate {:.0} %", round + 1, TARGETS[i] * 100.0));
            let base = bar.position();
            run.slice(&admin, &keys, &zipf, slice, &mut |d| bar.set_position(base + d.as_millis() as u64))?;
            bar.set_position(base + slice.as_millis() as u64);
        }
    }
    let mut rows: Vec<Row> = runs
        .into_iter()
        .map(|run| {
            run.cache.close();
            run.row
        })
        .collect();
    bar.finish_and_clear();

    print!("{}", report(&mut rows, args.rtt));
    if !target.is_throwaway() {
        nearcache::block_on(admin.delete_prefix(PREFIX))??;
    }
    admin.close();
    Ok(())
}

fn cache(url: &str, invalidation: Invalidation, max_bytes: u64) -> Result<Cache> {
    let mut config = Config::default();
    config.redis.url = url.parse()?;
    config.redis.connections = 1;
    // A slow row (a loaded machine, a long --rtt) must not turn into errors.
    config.redis.command_timeout = Duration::from_secs(5);
    config.l1.invalidation = invalidation;
    config.l1.max_bytes = max_bytes.max(1);
    // Rows are short: no entry should expire while one runs.
    config.l1.ttl = Duration::from_secs(600);
    Ok(Cache::new(config)?)
}

/// Writes every key (incompressible values, so no codec work on the miss path).
fn load(admin: &Cache, keys: &[Bytes], value_size: usize) -> Result<()> {
    let mut rng = Rng::new(0x5EED);
    for chunk in keys.chunks(1000) {
        let items: Vec<(&Bytes, Vec<u8>)> =
            chunk.iter().map(|k| (k, (0..value_size).map(|_| (rng.next_u64() >> 56) as u8).collect())).collect();
        nearcache::block_on(admin.set_many(&items, None))??;
    }
    // Check one, so that a server that refuses writes fails here, clearly.
    let probe = keys.first().map(|k| nearcache::block_on(admin.get(k)));
    match probe {
        Some(Ok(Ok(Some(_)))) | None => Ok(()),
        _ => Err("the demo keys could not be read back after writing them".into()),
    }
}

/// One row in progress: its cache (kept, and so kept warm, across rounds),
/// its reads so far, and its share of Redis's command counter.
struct Run {
    cache: Cache,
    rng: Rng,
    row: Row,
    commands: u64,
    measured: Duration,
}

impl Run {
    /// A cache holding the `l1_keys` hottest keys (one MGET per 500), then
    /// `warm` of unmeasured reads so that L1 settles into its steady state.
    fn start(
        url: &str,
        keys: &[Bytes],
        zipf: &Zipf,
        target: f64,
        l1_keys: usize,
        l1_bytes: u64,
        warm: Duration,
    ) -> Result<Run> {
        let cache = cache(url, Invalidation::Tracking, l1_bytes)?;
        nearcache::block_on(cache.connect())??;
        for chunk in keys[..l1_keys].chunks(500) {
            nearcache::block_on(cache.get_many(chunk))??;
        }
        let row = Row {
            target,
            l1_keys,
            l1_bytes,
            reads: 0,
            hits: 0,
            hit_nanos: 0,
            miss_nanos: 0,
            latencies: Vec::new(),
            redis_commands_per_s: 0.0,
        };
        let mut run = Run {
            cache,
            rng: Rng::new(0x9E37_79B9_7F4A_7C15 ^ (target * 1000.0) as u64),
            row,
            commands: 0,
            measured: Duration::ZERO,
        };
        run.reads(keys, zipf, warm, false, &mut |_| {})?;
        Ok(run)
    }

    /// Measures reads for `slice`; Redis's command counter is read before
    /// and after on the admin connection.
    fn slice(
        &mut self,
        admin: &Cache,
        keys: &[Bytes],
        zipf: &Zipf,
        slice: Duration,
        progress: &mut dyn FnMut(Duration),
    ) -> Result<()> {
        let before = commands_processed(admin)?;
        let started = Instant::now();
        self.reads(keys, zipf, slice, true, progress)?;
        self.measured += started.elapsed();
        self.commands += commands_processed(admin)?.saturating_sub(before);
        self.row.redis_commands_per_s = self.commands as f64 / self.measured.as_secs_f64().max(1e-9);
        Ok(())
    }

    /// Reads for `time` (and at least once), timing each read if `measure`.
    fn reads(
        &mut self,
        keys: &[Bytes],
        zipf: &Zipf,
        time: Duration,
        measure: bool,
        progress: &mut dyn FnMut(Duration),
    ) -> Result<()> {
        let started = Instant::now();
        let end = started + time;
        let mut now = started;
        let mut n = 0u64;
        // A read is bounded by the command timeout, so this ends.
        while n == 0 || now < end {
            n += 1;
            if n % PROGRESS_EVERY == 0 {
                progress(now - started);
            }
            let key = &keys[zipf.sample(&mut self.rng)];
            let t = Instant::now();
            let hit = match self.cache.get_local(key)? {
                Lookup::Hit(_) | Lookup::Absent => true,
                Lookup::Miss => {
                    if nearcache::block_on(self.cache.get(key))??.is_none() {
                        return Err(
                            format!("{} is missing from Redis: was it deleted during the demo?", show(key)).into()
                        );
                    }
                    false
                }
            };
            now = Instant::now();
            if measure {
                let nanos = (now - t).as_nanos() as u64;
                let row = &mut self.row;
                row.reads += 1;
                row.latencies.push(u32::try_from(nanos).unwrap_or(u32::MAX));
                if hit {
                    row.hits += 1;
                    row.hit_nanos += nanos;
                } else {
                    row.miss_nanos += nanos;
                }
            }
        }
        progress(now - started);
        Ok(())
    }
}

fn report(rows: &mut [Row], rtt: Option<Duration>) -> String {
    let hits: u64 = rows.iter().map(|r| r.hits).sum();
    let hit_us = rows.iter().map(|r| r.hit_nanos).sum::<u64>() as f64 / hits.max(1) as f64 / 1000.0;
    let miss_us = rows.first().map_or(0.0, Row::mean_us);
    let mut table = Table::new(&[
        "target",
        "L1 keys",
        "L1 size",
        "hit rate",
        "mean us",
        "p99 us",
        "miss us",
        "Redis cmd/s",
        "naive us",
        "measured/naive",
    ]);
    for row in rows.iter_mut() {
        let rate = row.hit_rate();
        let naive = hit_us * rate + miss_us * (1.0 - rate);
        let p99 = row.p99_us();
        table.row(vec![
            format!("{:.0} %", row.target * 100.0),
            row.l1_keys.to_string(),
            if row.l1_keys == 0 { "0".to_owned() } else { crate::table::size(row.l1_bytes) },
            format!("{:.1} %", rate * 100.0),
            format!("{:.2}", row.mean_us()),
            format!("{p99:.2}"),
            row.miss_mean_us().map_or("-".to_owned(), |m| format!("{m:.2}")),
            format!("{:.0}", row.redis_commands_per_s),
            format!("{naive:.2}"),
            if naive > 0.0 { format!("{:.2}", row.mean_us() / naive) } else { "-".to_owned() },
        ]);
    }
    let mut out = table.render();
    let _ = writeln!(
        out,
        "\nnaive = hit x rate + miss x (1 - rate), with hit = {hit_us:.3} us (mean L1 hit, all rows) and \
         miss = {miss_us:.2} us (mean read of the 0 % row{}).",
        if rtt.is_some() { ", through the proxy" } else { "" }
    );
    let _ = writeln!(
        out,
        "A miss costs two Redis commands (GET + PTTL, one round trip); every hit is a read Redis never sees."
    );
    out
}

/// `INFO stats` `total_commands_processed`, read over `admin`.
fn commands_processed(admin: &Cache) -> Result<u64> {
    let info = info(admin, "stats")?;
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "INFO stats has no total_commands_processed".into())
}

fn redis_version(admin: &Cache) -> Option<String> {
    let info = info(admin, "server").ok()?;
    info.lines().find_map(|l| l.strip_prefix("redis_version:")).map(|v| v.trim().to_owned())
}

fn info(admin: &Cache, section: &str) -> Result<String> {
    match nearcache::block_on(admin.command(&["INFO", section]))?? {
        nearcache::Reply::Bytes(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        nearcache::Reply::Status(s) => Ok(s),
        other => Err(format!("INFO {section}: unexpected reply {other:?}").into()),
    }
}

fn redacted(url: &str) -> String {
    url.parse::<nearcache::config::RedisUrl>().map(|u| u.redacted()).unwrap_or_else(|_| "<invalid url>".to_owned())
}

fn show(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}
