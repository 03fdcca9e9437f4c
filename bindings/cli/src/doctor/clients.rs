//! Connections: churn, idle ones kept forever, and ones without a name.
//!
//! - `connection-churn` (warning): `total_connections_received` grew by 10
//!   or more per second over the window: clients connect per request instead
//!   of pooling (each connect costs a handshake, maybe TLS and AUTH).
//! - `idle-timeout` (warning): `timeout 0` with many clients: leaked
//!   idle connections are never closed and pile up towards `maxclients`.
//! - `client-names` (warning): connections without `CLIENT SETNAME`
//!   cannot be told apart in CLIENT LIST, the slow log or a latency hunt.

use super::facts::Facts;
use super::{Finding, Findings, Severity};

const CHURN_PER_S: f64 = 10.0;
const CHURN_MIN: u64 = 5;
/// "Many clients" for the idle-timeout check.
pub(crate) const MANY_CLIENTS: u64 = 50;
const SHOWN: usize = 5;

pub(crate) fn check(facts: &Facts, out: &mut Findings) {
    churn(facts, out);
    idle_timeout(facts, out);
    unnamed(facts, out);
}

fn churn(facts: &Facts, out: &mut Findings) {
    let churn = match &facts.churn {
        Ok(churn) => churn,
        Err(e) => {
            out.skip("connection-churn", e.clone());
            return;
        }
    };
    let seconds = churn.window.as_secs_f64().max(0.001);
    let rate = churn.new_connections as f64 / seconds;
    if churn.new_connections >= CHURN_MIN && rate >= CHURN_PER_S {
        out.add(Finding {
            id: "connection-churn",
            severity: Severity::Warning,
            title: format!("{rate:.0} new connections per second"),
            details: vec![format!(
                "total_connections_received grew by {} in {seconds:.1} s; healthy clients keep a few long-lived \
                 connections",
                churn.new_connections
            )],
            fix: "reuse connections: one client (a pool or a multiplexed connection, as nearcache keeps) per process, \
                  created at start-up, not per request"
                .into(),
        });
    } else {
        out.ok("connection-churn", format!("{} new connections in {seconds:.1} s", churn.new_connections));
    }
}

fn idle_timeout(facts: &Facts, out: &mut Findings) {
    let Some(timeout) = facts.config("timeout").and_then(|t| t.parse::<u64>().ok()) else {
        out.skip("idle-timeout", "CONFIG GET timeout did not answer");
        return;
    };
    let clients = facts.info_u64("connected_clients").unwrap_or(0);
    if timeout > 0 {
        out.ok("idle-timeout", format!("idle connections are closed after {timeout} s"));
    } else if clients < MANY_CLIENTS {
        out.ok("idle-timeout", format!("timeout is 0, with {clients} clients"));
    } else {
        let idle = facts.clients.as_ref().map_or(0, |c| c.iter().filter(|c| c.idle_s >= 300).count());
        out.add(Finding {
            id: "idle-timeout",
            severity: Severity::Warning,
            title: format!("timeout is 0 (idle connections are never closed) with {clients} clients"),
            details: vec![format!("{idle} connections have been idle for 5 minutes or more")],
            fix: "CONFIG SET timeout 300 (and in redis.conf): connections idle for 5 minutes are closed; pooled \
                  clients with TCP keepalive (nearcache's default) reconnect on their own"
                .into(),
        });
    }
}

fn unnamed(facts: &Facts, out: &mut Findings) {
    let clients = match &facts.clients {
        Ok(clients) => clients,
        Err(e) => {
            out.skip("client-names", format!("CLIENT LIST failed: {e}"));
            return;
        }
    };
    let apps: Vec<_> = clients.iter().filter(|c| !c.is_replication()).collect();
    let unnamed: Vec<_> = apps.iter().filter(|c| c.name.is_empty()).collect();
    if unnamed.is_empty() {
        out.ok("client-names", format!("all {} client connections have a name", apps.len()));
        return;
    }
    let mut details = vec![format!("{} of {} client connections have no name", unnamed.len(), apps.len())];
    details.extend(
        unnamed
            .iter()
            .take(SHOWN)
            .map(|c| format!("{}  age {} s, idle {} s, last command {}", c.addr, c.age_s, c.idle_s, c.cmd)),
    );
    out.add(Finding {
        id: "client-names",
        severity: Severity::Warning,
        title: format!("{} connections without a client name", unnamed.len()),
        details,
        fix: "call CLIENT SETNAME app:host:pid on every connection (nearcache does: redis.client_name = \"auto\"), \
              so CLIENT LIST and the slow log say who is who"
            .into(),
    });
}

#[cfg(test)]
mod tests {
    use super::super::facts::Churn;
    use super::super::reply::Client;
    use super::super::testing::facts;
    use super::*;
    use std::time::Duration;

    fn client(name: &str, flags: &str) -> Client {
        Client { id: 1, addr: "127.0.0.1:1".into(), name: name.into(), flags: flags.into(), ..Client::default() }
    }

    #[test]
    fn churn_is_a_rate() {
        let mut f = facts(&[("timeout", "300")], vec![]);
        f.churn = Ok(Churn { window: Duration::from_secs(2), new_connections: 100 });
        let mut out = Findings::default();
        check(&f, &mut out);
        assert_eq!(out.ids(), ["connection-churn"]);
        f.churn = Ok(Churn { window: Duration::from_secs(2), new_connections: 3 });
        let mut out = Findings::default();
        check(&f, &mut out);
        assert!(out.ids().is_empty());
    }

    #[test]
    fn timeout_zero_matters_with_many_clients() {
        let mut f = facts(&[("timeout", "0")], vec![]);
        f.info.insert("connected_clients".into(), MANY_CLIENTS.to_string());
        let mut out = Findings::default();
        check(&f, &mut out);
        assert_eq!(out.ids(), ["idle-timeout"]);
        f.info.insert("connected_clients".into(), "3".into());
        let mut out = Findings::default();
        check(&f, &mut out);
        assert!(out.ids().is_empty());
    }

    #[test]
    fn unnamed_application_clients_are_listed() {
        let mut f = facts(&[("timeout", "300")], vec![]);
        f.clients = Ok(vec![client("", "N"), client("app", "N"), client("", "S")]);
        let mut out = Findings::default();
        check(&f, &mut out);
        assert_eq!(out.ids(), ["client-names"]);
        assert!(out.findings[0].details[0].starts_with("1 of 2"));
    }
}
