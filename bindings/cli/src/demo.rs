//! `nearcache demo`: the hit-rate table of the usual L1 advice (hit rate ->
//! weighted average latency, reduction vs no L1, Redis load reduction), each
//! number measured: a Zipf read workload through the cache at 0-99 % L1 hit
//! rates.
//!
//! Each row gets its own cache (default `tracking` invalidation) whose
//! `l1.max_bytes` is searched for (`sizing.rs`): the size whose measured
//! hit rate is the row's. That cache is then warmed for a fifth of the
//! row's time with the measured read path; then one thread reads, timing
//! each read, the rows taking turns in four rounds (a noisy moment on the
//! machine then lands on every row, not on one). Redis's own per-command
//! counters (`INFO commandstats`, read on a separate connection around each
//! turn) give the load: commands per read.
//!
//! `--rtt D` sets the whole round trip: a delay proxy sits between the
//! caches and Redis, the demo measures a miss through it with nothing added
//! and has it add the difference to D.
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
use crate::sizing;
use crate::table::Table;
use crate::zipf::{Draws, Rng, Zipf};
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
/// Reads per round-trip measurement while topping the proxy up to `--rtt`.
const RTT_PROBE_READS: u32 = 301;
/// Top-up steps at most, and how close to `--rtt` the mean miss must come.
const RTT_STEPS: u32 = 4;
const RTT_TOLERANCE: f64 = 0.03;
/// Commands that are not the rows' reads: our own INFO, and the health
/// checks every cache sends on its own clock, whichever row is running.
const NOT_READS: [&str; 2] = ["info", "ping"];

/// Options of `nearcache demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Redis to use, e.g. redis://127.0.0.1:6379/0. Default: a throwaway redis-server on a
    /// free loopback port. The demo writes its keys under `nc-demo:` and deletes them afterwards.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Emulate a network: make every round trip to Redis take this long in total, e.g. 300us
    /// for a cross-zone hop. A local delay proxy between the cache and Redis measures the round
    /// trip with nothing added, then holds each byte for half the difference each way.
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
    /// Sizes the L1 search tried, and the hit rate of the one kept.
    trials: usize,
    search_rate: f64,
    reads: u64,
    hits: u64,
    hit_nanos: u64,
    miss_nanos: u64,
    /// Every read's latency, for the percentile.
    latencies: Vec<u32>,
    /// Read commands Redis processed during the row's turns.
    redis_commands: u64,
}

impl Row {
    fn hit_rate(&self) -> f64 {
        self.hits as f64 / self.reads.max(1) as f64
    }

    fn commands_per_read(&self) -> f64 {
        self.redis_commands as f64 / self.reads.max(1) as f64
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
    // The proxy starts adding nothing; it is topped up once the keys are in.
    let proxy = match args.rtt {
        Some(_) => Some(DelayProxy::start(server::socket_addr(target.url())?, Duration::ZERO)?),
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
    let (mut keeper, topped_up) = match (&proxy, args.rtt) {
        (Some(proxy), Some(rtt)) => {
            let (keeper, topped_up) = RttKeeper::start(proxy, &cache_url, &keys, rtt)?;
            (Some(keeper), Some(topped_up))
        }
        _ => (None, None),
    };
    println!(
        "nearcache demo: {} keys of {} B, Zipf s = {} reads from one thread, Redis {version} at {}{}",
        keys.len(),
        value_size,
        args.zipf,
        redacted(target.url()),
        match (&topped_up, args.rtt) {
            (Some(t), Some(rtt)) => format!(
                "\nbehind a delay proxy: round trip set to {} in all (median miss {:.0} us through the proxy \
                 with nothing added, so it adds {:.0} us, half each way; then {:.0} us measured){}",
                nearcache::config::format_duration(rtt),
                t.base_us,
                t.added.as_secs_f64() * 1e6,
                t.final_us,
                if t.base_us >= rtt.as_secs_f64() * 1e6 {
                    "; the machine's own round trip is already longer than --rtt"
                } else {
                    ""
                }
            ),
            _ => String::new(),
        }
    );
    println!(
        "L1 invalidation: tracking (CLIENT TRACKING: Redis tells the cache when a key changes); \
         L1 sized per row by measuring its hit rate, then {:.1} s per row, the first {:.0} % warming L1, \
         then {ROUNDS} turns each\n",
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
    let sizing_started = Instant::now();
    // The L1 that gives a rate r holds the hottest keys that ideally take
    // r + spare x (1 - r) of the reads: the room CLOCK needs grows with the
    // miss share. `spare` is measured by each row's search and is the next
    // row's first guess (about 0.3 here at every rate; 0.25 to start).
    let mut spare = 0.25f64;
    for (i, &rate) in TARGETS.iter().enumerate() {
        bar.set_message(format!("sizing and warming L1 for row {} of {}", i + 1, TARGETS.len()));
        let mut draws = Draws::new(0x9E37_79B9_7F4A_7C15 ^ (rate * 1000.0) as u64);
        let sized = if rate > 0.0 {
            let start = zipf.keys_for_hit_rate(rate + spare * (1.0 - rate));
            let new_cache = |bytes: u64| cache(&cache_url, Invalidation::Tracking, bytes);
            let sized = sizing::size_for(&new_cache, &keys, &zipf, rate, entry_bytes, start, &mut draws)?;
            spare = ((zipf.cdf(sized.l1_keys) - rate) / (1.0 - rate)).clamp(0.0, 1.0);
            sized
        } else {
            // A 1-byte L1 holds nothing: every read goes to Redis.
            let cache = cache(&cache_url, Invalidation::Tracking, 1)?;
            nearcache::block_on(cache.connect())??;
            sizing::Sized { cache, l1_keys: 0, search_rate: 0.0, trials: 0 }
        };
        runs.push(Run::start(sized, &keys, &zipf, rate, entry_bytes, draws, warm)?);
        bar.set_position(bar.position() + warm.as_millis() as u64);
    }
    let sizing_time = sizing_started.elapsed();
    // Rows take turns, so that a busy moment on the machine lands on all of
    // them rather than on one.
    let slice = (row_time - warm) / ROUNDS;
    for round in 0..ROUNDS {
        if let Some(keeper) = keeper.as_mut() {
            bar.set_message("keeping the round trip at --rtt");
            keeper.correct()?;
        }
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

    print!("{}", report(&mut rows, args.rtt, sizing_time));
    if let Some(keeper) = keeper {
        let medians: Vec<String> = keeper.measured_us.iter().map(|m| format!("{m:.0}")).collect();
        println!(
            "Round trip kept at --rtt: median miss through the proxy before each round {} us (corrected when \
             more than {:.0} % off); the proxy added {:.0} us at the end.",
            medians.join(", "),
            RTT_TOLERANCE * 100.0,
            keeper.added_us
        );
        keeper.probe.close();
    }
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
    draws: Draws,
    row: Row,
}

impl Run {
    /// The row's sized (and already warm) cache, then `warm` of unmeasured
    /// reads on the measured read path, so that L1 settles under it.
    fn start(
        sized: sizing::Sized,
        keys: &[Bytes],
        zipf: &Zipf,
        target: f64,
        entry_bytes: u64,
        draws: Draws,
        warm: Duration,
    ) -> Result<Run> {
        let row = Row {
            target,
            l1_keys: sized.l1_keys,
            l1_bytes: (sized.l1_keys as u64 * entry_bytes).max(1),
            trials: sized.trials,
            search_rate: sized.search_rate,
            reads: 0,
            hits: 0,
            hit_nanos: 0,
            miss_nanos: 0,
            latencies: Vec::new(),
            redis_commands: 0,
        };
        let mut run = Run { cache: sized.cache, draws, row };
        run.reads(keys, zipf, warm, false, &mut |_| {})?;
        Ok(run)
    }

    /// Measures reads for `slice`; Redis's command counters are read before
    /// and after on the admin connection.
    fn slice(
        &mut self,
        admin: &Cache,
        keys: &[Bytes],
        zipf: &Zipf,
        slice: Duration,
        progress: &mut dyn FnMut(Duration),
    ) -> Result<()> {
        let before = read_commands(admin)?;
        self.reads(keys, zipf, slice, true, progress)?;
        self.row.redis_commands += read_commands(admin)?.saturating_sub(before);
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
            let key = &keys[zipf.sample(&mut self.draws)];
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

/// What topping the proxy up to `--rtt` measured and set.
struct TopUp {
    /// Median miss through the proxy with nothing added.
    base_us: f64,
    /// What the proxy adds per round trip.
    added: Duration,
    /// Median miss with `added`.
    final_us: f64,
}

/// Keeps the proxy's round trip at `--rtt`: measures a miss through it with
/// nothing added, has it add the difference, and corrects it (a delayed
/// round trip also pays wake-ups that an instant one does not, and the
/// machine's own speed drifts while the demo runs, so it is corrected again
/// before each round). Medians, so that a busy moment on a shared machine
/// does not set the network's delay.
struct RttKeeper<'a> {
    proxy: &'a DelayProxy,
    /// The 0 % row's read path: a tracking cache whose 1-byte L1 keeps nothing.
    probe: Cache,
    keys: &'a [Bytes],
    rng: Rng,
    target_us: f64,
    added_us: f64,
    /// Every correction's measurement, for the report.
    measured_us: Vec<f64>,
}

impl<'a> RttKeeper<'a> {
    fn start(proxy: &'a DelayProxy, url: &str, keys: &'a [Bytes], rtt: Duration) -> Result<(RttKeeper<'a>, TopUp)> {
        let probe = cache(url, Invalidation::Tracking, 1)?;
        nearcache::block_on(probe.connect())??;
        let target_us = rtt.as_secs_f64() * 1e6;
        let mut keeper =
            RttKeeper { proxy, probe, keys, rng: Rng::new(0xB0B), target_us, added_us: 0.0, measured_us: Vec::new() };
        proxy.set_added_rtt(Duration::ZERO);
        let base_us = keeper.median_miss_us()?;
        keeper.added_us = (target_us - base_us).max(0.0);
        let mut final_us = base_us;
        for _ in 0..RTT_STEPS {
            if keeper.added_us <= 0.0 {
                break;
            }
            final_us = keeper.correct()?;
            if (final_us - target_us).abs() <= target_us * RTT_TOLERANCE {
                break;
            }
        }
        keeper.measured_us.clear();
        Ok((keeper, TopUp { base_us, added: proxy.added_rtt(), final_us }))
    }

    /// Sets the current delay, measures, and moves the delay by the error
    /// (taking effect at the next correction or `correct`'s caller's next
    /// read); returns the measurement.
    fn correct(&mut self) -> Result<f64> {
        self.proxy.set_added_rtt(Duration::from_secs_f64(self.added_us / 1e6));
        let measured = self.median_miss_us()?;
        self.measured_us.push(measured);
        if (measured - self.target_us).abs() > self.target_us * RTT_TOLERANCE {
            self.added_us = (self.added_us + self.target_us - measured).max(0.0);
            self.proxy.set_added_rtt(Duration::from_secs_f64(self.added_us / 1e6));
        }
        Ok(measured)
    }

    fn median_miss_us(&mut self) -> Result<f64> {
        let mut took = Vec::with_capacity(RTT_PROBE_READS as usize);
        for _ in 0..RTT_PROBE_READS {
            let key = &self.keys[(self.rng.next_u64() % self.keys.len() as u64) as usize];
            let started = Instant::now();
            nearcache::block_on(self.probe.get(key))??;
            took.push(started.elapsed().as_secs_f64() * 1e6);
        }
        let middle = took.len() / 2;
        let (_, median, _) = took.select_nth_unstable_by(middle, f64::total_cmp);
        Ok(*median)
    }
}

fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

fn report(rows: &mut [Row], rtt: Option<Duration>, sizing_time: Duration) -> String {
    let hits: u64 = rows.iter().map(|r| r.hits).sum();
    let hit_us = rows.iter().map(|r| r.hit_nanos).sum::<u64>() as f64 / hits.max(1) as f64 / 1000.0;
    let miss_us = rows.first().map_or(0.0, Row::mean_us);
    let no_l1_commands = rows.first().map_or(0.0, Row::commands_per_read);
    let mut table = Table::new(&[
        "L1 hit rate",
        "measured",
        "L1 keys",
        "L1 size",
        "avg us",
        "reduction vs no L1",
        "Redis cmds/read",
        "Redis load reduction",
        "p99 us",
        "miss us",
        "naive us",
    ]);
    for (i, row) in rows.iter_mut().enumerate() {
        let rate = row.hit_rate();
        let naive = hit_us * rate + miss_us * (1.0 - rate);
        let p99 = row.p99_us();
        let first = i == 0;
        table.row(vec![
            format!("{:.0} %", row.target * 100.0),
            percent(rate),
            row.l1_keys.to_string(),
            if row.l1_keys == 0 { "0".to_owned() } else { crate::table::size(row.l1_bytes) },
            format!("{:.2}", row.mean_us()),
            if first || miss_us <= 0.0 { "-".to_owned() } else { percent(1.0 - row.mean_us() / miss_us) },
            format!("{:.3}", row.commands_per_read()),
            if first || no_l1_commands <= 0.0 {
                "-".to_owned()
            } else {
                percent(1.0 - row.commands_per_read() / no_l1_commands)
            },
            format!("{p99:.2}"),
            row.miss_mean_us().map_or("-".to_owned(), |m| format!("{m:.2}")),
            format!("{naive:.2}"),
        ]);
    }
    let mut out = table.render();
    let searched: Vec<String> = rows
        .iter()
        .filter(|r| r.trials > 0)
        .map(|r| format!("{:.0} %: {} sizes, {}", r.target * 100.0, r.trials, percent(r.search_rate)))
        .collect();
    let reads: Vec<String> = rows.iter().map(|r| format!("{:.0} %: {}", r.target * 100.0, r.reads)).collect();
    let _ = writeln!(out, "\nReads measured per row: {}.", reads.join(", "));
    let _ = writeln!(
        out,
        "L1 hit rate: the row; measured: hits / reads in the row's turns. avg us: the weighted average \
         latency, measured (mean of every read); reduction vs no L1: against the 0 % row's average. \
         Redis cmds/read: commands Redis counted in INFO commandstats during the row's turns (health-check \
         PINGs and the demo's INFO left out) per read; Redis load reduction: against the 0 % row."
    );
    let _ = writeln!(
        out,
        "L1 keys: entries l1.max_bytes holds, found in {:.1} s by measuring the real L1's hit rate at candidate \
         sizes (row: sizes tried, rate of the size kept: {}).",
        sizing_time.as_secs_f64(),
        searched.join("; ")
    );
    let _ = writeln!(
        out,
        "naive = hit x rate + miss x (1 - rate), with hit = {hit_us:.3} us (mean L1 hit, all rows) and \
         miss = {miss_us:.2} us (mean read of the 0 % row{}).",
        if rtt.is_some() { ", through the proxy" } else { "" }
    );
    let _ = writeln!(
        out,
        "A miss costs two Redis commands (GET + PTTL, one round trip); every hit is a read Redis never sees."
    );
    out
}

/// The calls Redis has counted (`INFO commandstats`) of every command but
/// [`NOT_READS`], read over `admin`.
fn read_commands(admin: &Cache) -> Result<u64> {
    let info = info(admin, "commandstats")?;
    let calls = command_calls(&info);
    if calls.is_empty() {
        return Err("INFO commandstats lists no commands".into());
    }
    Ok(calls.iter().filter(|(name, _)| !NOT_READS.contains(&name.as_str())).map(|(_, n)| n).sum())
}

/// `cmdstat_get:calls=12,usec=...` lines as (`get`, 12).
fn command_calls(info: &str) -> Vec<(String, u64)> {
    info.lines()
        .filter_map(|line| {
            let (name, fields) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = fields.split(',').find_map(|f| f.strip_prefix("calls="))?.trim().parse().ok()?;
            Some((name.to_ascii_lowercase(), calls))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commandstats_lines_give_calls_per_command() {
        let info = "# Commandstats\r\ncmdstat_get:calls=12,usec=30,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n\
                    cmdstat_pttl:calls=12,usec=10\r\ncmdstat_info:calls=3,usec=90\r\ncmdstat_client|setname:calls=1,usec=1\r\n";
        assert_eq!(
            command_calls(info),
            [("get".to_owned(), 12), ("pttl".to_owned(), 12), ("info".to_owned(), 3), ("client|setname".to_owned(), 1)]
        );
    }
}
