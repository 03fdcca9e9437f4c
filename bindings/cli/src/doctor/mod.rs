//! `nearcache doctor URL`: a read-only check of a live Redis server for the
//! server-side half of the "make Redis fast" advice.
//!
//! Two phases. `facts` gathers everything with read-only commands (INFO,
//! CONFIG GET, SLOWLOG GET, CLIENT LIST, SCAN + MEMORY USAGE / PTTL / OBJECT
//! FREQ on a bounded sample; never KEYS) into [`facts::Facts`]. Then one
//! module per check family turns the facts into findings, as pure functions
//! (unit-tested without a server). A check whose facts could not be read
//! (a managed Redis that renames CONFIG, say) is reported as skipped.

mod clients;
mod cluster;
mod eviction;
mod expiry;
mod facts;
mod reply;
mod slowlog;
#[cfg(test)]
mod testing;
mod tracking;
mod values;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::Result;

/// Options of `nearcache doctor`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The server to check, e.g. redis://127.0.0.1:6379 or redis://user:password@host:6379/0.
    /// Only read-only commands are sent.
    #[arg(value_name = "URL", value_parser = parse_url)]
    url: nearcache::config::RedisUrl,
    /// Print one JSON document (findings, checks, exit code) instead of text.
    #[arg(long)]
    json: bool,
    /// How many keys to sample (SCAN, then MEMORY USAGE, PTTL and OBJECT FREQ on each).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    sample: u32,
    /// How long to watch new connections for the churn check.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = crate::parse_duration)]
    window: Duration,
}

fn parse_url(text: &str) -> std::result::Result<nearcache::config::RedisUrl, String> {
    text.parse().map_err(|e: nearcache::Error| e.message().to_owned())
}

/// How bad a finding is; the worst one sets the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    /// Worth knowing; exit code unaffected.
    Info,
    /// Hurts latency or reliability; exit code 1.
    Warning,
    /// Breaks a cache under load (or the server could not be read); exit code 2.
    Error,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One problem, its evidence, and the concrete fix.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    /// Stable identifier (`maxmemory-policy`), also the check's id.
    pub id: &'static str,
    pub severity: Severity,
    /// What is wrong, in one line.
    pub title: String,
    /// Evidence: sampled keys, log entries, numbers.
    pub details: Vec<String>,
    /// What to do about it.
    pub fix: String,
}

/// The outcome of one check, found or not.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    pub id: &'static str,
    /// `ok`, `skipped`, or the finding's severity.
    pub status: &'static str,
    pub note: String,
}

/// What every check family writes into.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Findings {
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
}

impl Findings {
    pub(crate) fn ok(&mut self, id: &'static str, note: impl Into<String>) {
        self.checks.push(Check { id, status: "ok", note: note.into() });
    }

    pub(crate) fn skip(&mut self, id: &'static str, why: impl Into<String>) {
        self.checks.push(Check { id, status: "skipped", note: why.into() });
    }

    pub(crate) fn add(&mut self, finding: Finding) {
        self.checks.push(Check { id: finding.id, status: finding.severity.label(), note: finding.title.clone() });
        self.findings.push(finding);
    }

    fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    #[cfg(test)]
    pub(crate) fn ids(&self) -> Vec<&'static str> {
        self.findings.iter().map(|f| f.id).collect()
    }
}

#[derive(Serialize)]
struct Report<'a> {
    server: &'a facts::Summary,
    checks: &'a [Check],
    findings: &'a [Finding],
    exit_code: u8,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let url = &args.url;
    let options = facts::Options { sample: args.sample as usize, window: args.window };
    let facts = nearcache::block_on(facts::gather(url, &options))??;
    let mut out = Findings::default();
    tracking::check(&facts, &mut out);
    eviction::check(&facts, &mut out);
    expiry::check(&facts, &mut out);
    values::check(&facts, &mut out);
    slowlog::check(&facts, &mut out);
    clients::check(&facts, &mut out);
    match &facts.cluster {
        Some(Ok(cluster)) => cluster::check(cluster, &mut out),
        Some(Err(e)) => out.skip("cluster-slots", format!("CLUSTER NODES could not be read: {e}")),
        None => {}
    }
    // Worst first, so the summary's first line is the one to act on.
    out.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let code = match out.worst() {
        Some(Severity::Error) => 2,
        Some(Severity::Warning) => 1,
        _ => 0,
    };
    if args.json {
        let report = Report { server: &facts.summary, checks: &out.checks, findings: &out.findings, exit_code: code };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&facts.summary, &out, code));
    }
    Ok(ExitCode::from(code))
}

fn render(summary: &facts::Summary, out: &Findings, code: u8) -> String {
    let mut text = format!(
        "nearcache doctor: {} (Redis {}, {} used, {} keys, {} clients)\n{}\n\n",
        summary.url, summary.version, summary.used_memory, summary.keys, summary.clients, summary.method
    );
    for f in &out.findings {
        let _ = writeln!(text, "{:<8} {}: {}", f.severity.label().to_uppercase(), f.id, f.title);
        for d in &f.details {
            let _ = writeln!(text, "         {d}");
        }
        let _ = writeln!(text, "         fix: {}\n", f.fix);
    }
    for c in out.checks.iter().filter(|c| c.status == "ok" || c.status == "skipped") {
        let _ = writeln!(text, "{:<8} {}: {}", c.status, c.id, c.note);
    }
    let count = |s: Severity| out.findings.iter().filter(|f| f.severity == s).count();
    let _ = writeln!(
        text,
        "\n{} checks: {} errors, {} warnings, {} info (exit code {code})",
        out.checks.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    text
}

/// A key for display: lossy UTF-8, truncated.
pub(crate) fn show_key(key: &[u8]) -> String {
    const MAX: usize = 60;
    let text = String::from_utf8_lossy(&key[..key.len().min(MAX)]);
    if key.len() > MAX {
        format!("{text}... ({} bytes)", key.len())
    } else {
        text.into_owned()
    }
}
