//! A short demo: a Zipf read workload through nearcache at several L1 sizes,
//! against a throwaway local redis-server (or `--url`).
//!
//! ```text
//! cargo run --release -p nearcache --features test-util --example demo -- --seconds 3
//! ```
//!
//! The full demo (hit-rate targets, `--rtt`, the naive-average comparison)
//! is `nearcache demo` in the CLI; this example is what the README's first
//! command runs before that binary exists.

use std::time::{Duration, Instant};

use nearcache::testing::TestRedis;
use nearcache::{Cache, Config, Invalidation};

const VALUE_LEN: usize = 1024;

struct Args {
    url: Option<String>,
    keys: usize,
    seconds: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { url: None, keys: 10_000, seconds: 3.0 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = Some(value()?),
            "--keys" => args.keys = value()?.parse().map_err(|e| format!("--keys: {e}"))?,
            "--seconds" => args.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "-h" | "--help" => {
                return Err("usage: demo [--url redis://127.0.0.1:PORT] [--keys 10000] [--seconds 3]".into())
            }
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    if args.keys == 0 || args.seconds <= 0.0 {
        return Err("--keys and --seconds must be positive".into());
    }
    Ok(args)
}

/// Samples ranks 0..n with P(rank) ~ 1 / (rank + 1): a few keys take most reads.
struct Zipf {
    cdf: Vec<f64>,
    state: u64,
}

impl Zipf {
    fn new(n: usize) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for rank in 0..n {
            total += 1.0 / (rank as f64 + 1.0);
            cdf.push(total);
        }
        cdf.iter_mut().for_each(|c| *c /= total);
        Zipf { cdf, state: 0x2545_F491_4F6C_DD1D }
    }

    fn sample(&mut self) -> usize {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let u = (self.state >> 11) as f64 / (1u64 << 53) as f64;
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let _server;
    let url = match &args.url {
        Some(url) => url.clone(),
        None => {
            let server = TestRedis::start()?;
            let url = server.url().to_owned();
            _server = server;
            url
        }
    };
    println!("nearcache demo: {} keys of {VALUE_LEN} B, Zipf reads, Redis at {url}", args.keys);
    let keys: Vec<String> = (0..args.keys).map(|i| format!("demo:{i}")).collect();
    let loader = config_with(&url, Invalidation::Off, 0)?;
    let value = vec![b'x'; VALUE_LEN];
    for chunk in keys.chunks(500) {
        let items: Vec<(&String, &[u8])> = chunk.iter().map(|k| (k, &value[..])).collect();
        nearcache::block_on(loader.set_many(&items, None))??;
    }
    let dataset = (args.keys * (VALUE_LEN + 16)) as u64 + args.keys as u64 * nearcache::ENTRY_OVERHEAD;
    let rows: [(&str, u64); 5] =
        [("off", 0), ("1 %", dataset / 100), ("5 %", dataset / 20), ("20 %", dataset / 5), ("100 %", dataset)];
    println!("\n{:>12} {:>9} {:>11} {:>10} {:>14}", "L1 size", "hit rate", "mean (us)", "p99 (us)", "Redis GETs/s");
    let per_row = Duration::from_secs_f64(args.seconds / rows.len() as f64);
    for (label, bytes) in rows {
        let mode = if bytes == 0 { Invalidation::Off } else { Invalidation::Ttl };
        let cache = config_with(&url, mode, bytes.max(1))?;
        let reader = nearcache::blocking::Cache::from(cache.clone());
        let mut zipf = Zipf::new(args.keys);
        let mut latencies = Vec::new();
        let started = Instant::now();
        while started.elapsed() < per_row {
            let key = &keys[zipf.sample()];
            let t = Instant::now();
            let got = reader.get(key)?;
            latencies.push(t.elapsed());
            if got.is_none() {
                return Err(format!("{key} is missing").into());
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort_unstable();
        let stats = cache.stats();
        let mean = latencies.iter().sum::<Duration>().as_secs_f64() * 1e6 / latencies.len() as f64;
        let p99 = latencies[latencies.len() * 99 / 100].as_secs_f64() * 1e6;
        let redis_reads = stats.latency.get("get").map_or(0, |l| l.count);
        println!(
            "{:>12} {:>8.1}% {:>11.2} {:>10.2} {:>14.0}",
            format!("{label} ({})", human(bytes)),
            stats.hit_ratio() * 100.0,
            mean,
            p99,
            redis_reads as f64 / elapsed
        );
        cache.close();
    }
    println!("\nEvery hit is a read Redis never sees; `make bench` has the per-operation numbers.");
    Ok(())
}

fn config_with(url: &str, invalidation: Invalidation, max_bytes: u64) -> Result<Cache, nearcache::Error> {
    let mut config = Config::default();
    config.redis.url = url.parse()?;
    config.l1.invalidation = invalidation;
    config.l1.max_bytes = max_bytes.max(1);
    config.l1.ttl = Duration::from_secs(300);
    Cache::new(config)
}

fn human(bytes: u64) -> String {
    match bytes {
        0 => "0".into(),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        b => format!("{} KiB", b >> 10),
    }
}
