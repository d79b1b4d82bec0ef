//! Revocation propagation through HTTP across three nodes on one Redis: a token from node A, used
//! once on B and C (so their token caches hold it), revoked on A; B and C are then polled with it
//! in parallel until each answers 401, timed from A's revocation 200.

use std::time::{Duration, Instant};

use reqwest::blocking::Client;

use crate::setup::{self, Cluster};
use crate::{Options, Res};

/// Longest one node may take to refuse a revoked token before the bench gives up.
const REFUSAL_LIMIT: Duration = Duration::from_secs(5);
/// Most polls of one node for one token.
const MAX_POLLS: u32 = 100_000;

/// What the revocation loop saw.
#[derive(Default)]
pub struct Revocations {
    /// Milliseconds from A's revocation 200 to B's 401, sorted.
    pub b_ms: Vec<f64>,
    /// The same for C.
    pub c_ms: Vec<f64>,
    /// Round trip of the revocation request on A, ms, sorted.
    pub revoke_ms: Vec<f64>,
    /// Round trip of a query with the (still valid, cached) token on B and C, ms, sorted: the
    /// resolution of the polling.
    pub query_ms: Vec<f64>,
    /// Refusals at the first poll (B and C together).
    pub first_poll: usize,
    /// Answers other than 200 and 401 while polling.
    pub other_statuses: u64,
    /// Wall time of the loop.
    pub elapsed: Duration,
    /// The loop stopped at its time limit before `Options::revocations` rounds.
    pub hit_time_limit: bool,
}

/// One node's refusal of a revoked token.
pub struct Refusal {
    /// Milliseconds from the acknowledgement to the refusal.
    pub ms: f64,
    polls: u32,
    others: u64,
}

/// The three nodes' clients (separate keep-alive pools) and ports.
struct Nodes {
    http: [Client; 3],
    ports: [u16; 3],
}

/// Runs up to `opts.revocations` rounds within `opts.revocation_limit`.
pub fn measure(cluster: &Cluster, opts: &Options) -> Res<Revocations> {
    eprintln!(
        "three_gateways: {} revocations (at most {:?})",
        opts.revocations, opts.revocation_limit
    );
    let nodes = Nodes {
        http: [setup::client()?, setup::client()?, setup::client()?],
        ports: cluster.nodes.map(|n| n.port),
    };
    let mut out = Revocations::default();
    let start = Instant::now();
    for _ in 0..opts.revocations {
        if start.elapsed() > opts.revocation_limit {
            out.hit_time_limit = true;
            break;
        }
        one_round(&nodes, &mut out)?;
    }
    out.elapsed = start.elapsed();
    for v in [
        &mut out.b_ms,
        &mut out.c_ms,
        &mut out.revoke_ms,
        &mut out.query_ms,
    ] {
        v.sort_by(f64::total_cmp);
    }
    Ok(out)
}

fn one_round(n: &Nodes, out: &mut Revocations) -> Res<()> {
    let [a, b, c] = n.ports;
    let token = setup::fetch_token(&n.http[0], a)?;
    for (http, port) in n.http.iter().zip(n.ports).skip(1) {
        // The first use fills the node's token cache; the second is timed as a cached poll.
        for timed in [false, true] {
            let sent = Instant::now();
            let status = setup::query(http, port, &token)?;
            if status != 200 {
                return Err(format!("a fresh node-A token answered {status} on :{port}").into());
            }
            if timed {
                out.query_ms.push(ms(sent.elapsed()));
            }
        }
    }
    let sent = Instant::now();
    let status = setup::revoke(&n.http[0], a, &token)?;
    let acked = Instant::now();
    if status != 200 {
        return Err(format!("revocation on node A answered {status}").into());
    }
    out.revoke_ms.push(ms(acked - sent));
    let (rb, rc) = std::thread::scope(|s| {
        let tb = s.spawn(|| poll(&n.http[1], b, &token, acked));
        let tc = s.spawn(|| poll(&n.http[2], c, &token, acked));
        (joined(tb.join()), joined(tc.join()))
    });
    let (rb, rc) = (rb?, rc?);
    for (r, list) in [(&rb, &mut out.b_ms), (&rc, &mut out.c_ms)] {
        list.push(r.ms);
        out.first_poll += usize::from(r.polls == 1);
        out.other_statuses += r.others;
    }
    Ok(())
}

fn joined(r: std::thread::Result<Res<Refusal>>) -> Res<Refusal> {
    r.map_err(|_| "a polling thread panicked")?
}

/// Sends the query with `token` to `port` until it answers 401; the time since `acked`.
pub fn poll(http: &Client, port: u16, token: &str, acked: Instant) -> Res<Refusal> {
    let mut others = 0;
    for polls in 1..=MAX_POLLS {
        let status = setup::query(http, port, token)?;
        if status == 401 {
            return Ok(Refusal {
                ms: ms(acked.elapsed()),
                polls,
                others,
            });
        }
        if status != 200 {
            others += 1;
        }
        if acked.elapsed() > REFUSAL_LIMIT {
            break;
        }
    }
    Err(format!("node :{port} still accepted a revoked token after {REFUSAL_LIMIT:?}").into())
}

/// Milliseconds of `d`.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The `p` quantile (0 to 1) of sorted values, nearest rank; 0 when empty.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
