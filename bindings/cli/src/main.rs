//! `nearcache`: see what an in-process cache in front of Redis buys
//! (`demo`), measure it (`bench`), and check a live Redis server for the
//! server-side half of the usual advice (`doctor`).
//!
//! Exit codes: 0 success, 1 failure (`doctor`: warnings), 2 bad arguments
//! (`doctor`: errors).

mod bench;
mod demo;
mod doctor;
mod proxy;
mod server;
mod sizing;
mod table;
mod zipf;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Errors of the binary: printed once, as `nearcache <command>: <message>`.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type Result<T> = std::result::Result<T, Error>;

#[derive(Parser)]
#[command(
    name = "nearcache",
    version,
    about = "A Redis client-side cache: see what it buys, measure it, check your Redis server",
    long_about = "nearcache keeps hot Redis keys in process memory (the L1 tier) and lets Redis \
invalidate them when they change. This tool shows what that buys on your machine and checks a \
Redis server for the settings that hurt latency.

  nearcache demo              hit rate vs latency, on a throwaway local redis-server
  nearcache demo --rtt 300us  the same across an emulated cross-zone network
  nearcache bench --json      the numbers behind the README's performance section
  nearcache doctor redis://host:6379   read-only health check of a live server

`demo` and `bench` start their own redis-server on a free loopback port when no --url is given \
(they need `redis-server` on the PATH).

Exit codes: 0 success; 1 failure (doctor: warnings found); 2 bad arguments (doctor: errors found).",
    after_help = "Run `nearcache <command> --help` for the options of each command."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a Zipf read workload through the cache at L1 sizes found (by measuring) to give
    /// 0-99 % hit rates, and print each row's average latency, its reduction vs no L1 and
    /// Redis's load per read, beside what a naive weighted average predicts.
    Demo(demo::Args),
    /// Measure L1 hits, Redis misses, 100-way concurrent reads and compression, each
    /// beside a baseline (a plain HashMap, raw redis-rs).
    Bench(bench::Args),
    /// Check a live Redis server (read-only) and print each finding with its fix.
    /// Exit code 0: nothing to fix, 1: warnings, 2: errors (or the server is unreachable).
    Doctor(doctor::Args),
}

fn main() -> ExitCode {
    // clap prints the message and exits with 2 on bad arguments, 0 on --help.
    let cli = Cli::parse();
    let (name, outcome) = match cli.command {
        Command::Demo(args) => ("demo", demo::run(&args).map(|()| ExitCode::SUCCESS)),
        Command::Bench(args) => ("bench", bench::run(&args).map(|()| ExitCode::SUCCESS)),
        Command::Doctor(args) => ("doctor", doctor::run(&args)),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nearcache {name}: {e}");
            // An unreachable server is an error finding for the doctor.
            ExitCode::from(if name == "doctor" { 2 } else { 1 })
        }
    }
}

/// Parses `300us`, `1ms`, `2s` (core's duration syntax) for clap.
pub(crate) fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    nearcache::config::parse_duration(text).map_err(|e| e.message().to_owned())
}

/// Parses a positive number of seconds (`5`, `0.5`) for clap.
pub(crate) fn parse_seconds(text: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(format!("expected a number of seconds between 0 and 86400, like 5 or 0.5, got {text:?}")),
    }
}
