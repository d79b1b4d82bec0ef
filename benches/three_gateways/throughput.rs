//! Proxied-call throughput: wrk against one gateway (sled, then Redis node A), then three wrk
//! processes in parallel, one per Redis node, with the same total connections and duration;
//! with the CPU the gateways, the fake CRM, Redis and the whole machine used meanwhile.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::setup::{self, Cluster, Srv};
use crate::wrk::{self, Drive, Load, Outcome};
use crate::{Options, Res, procs};

/// Open connections in total, split evenly over the nodes of a run.
pub const CONNECTIONS: u32 = 30;
/// Warm-up before every measured run, seconds.
pub const WARMUP_SECS: u64 = 1;

/// Processes whose CPU time is read around each run.
pub struct Pids {
    pub upstream: u32,
    pub redis: Option<u32>,
}

/// One measured run (one or three wrk processes at once).
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub requests: u64,
    /// Sum over the wrk processes.
    pub rps: f64,
    /// The largest over the wrk processes.
    pub p50_us: f64,
    pub p99_us: f64,
    /// Non-2xx/3xx answers and socket errors.
    pub errors: u64,
    /// CPU used during the run, in cores (CPU seconds per second).
    pub gateway_cores: f64,
    pub upstream_cores: f64,
    pub redis_cores: f64,
    /// Every process of the machine (wrk included): busy time from /proc/stat.
    pub machine_cores: f64,
}

/// Every round's runs of each setup.
#[derive(Default)]
pub struct Rounds {
    pub sled_one: Vec<Run>,
    pub redis_one: Vec<Run>,
    pub redis_three: Vec<Run>,
    pub secs: u64,
}

/// A wrk target: the script (its `.out` file is next to it) and the gateway.
struct Target {
    script: PathBuf,
    srv: Srv,
}

/// `opts.rounds` rounds of: one sled node, one Redis node, three Redis nodes.
pub fn measure(cluster: &Cluster, pids: &Pids, dir: &Path, opts: &Options) -> Res<Rounds> {
    let http = setup::client()?;
    let sled = target(
        dir,
        "sled",
        cluster.sled,
        &setup::fetch_token(&http, cluster.sled.port)?,
    )?;
    let shared = setup::fetch_token(&http, cluster.nodes[0].port)?;
    let mut nodes = Vec::with_capacity(3);
    for (name, srv) in ["node-a", "node-b", "node-c"].iter().zip(cluster.nodes) {
        nodes.push(target(dir, name, srv, &shared)?);
    }
    let mut out = Rounds {
        secs: opts.secs,
        ..Rounds::default()
    };
    for round in 1..=opts.rounds {
        eprintln!(
            "three_gateways: throughput round {round} of {}",
            opts.rounds
        );
        out.sled_one
            .push(run_set(std::slice::from_ref(&sled), pids, opts.secs)?);
        out.redis_one.push(run_set(&nodes[..1], pids, opts.secs)?);
        out.redis_three.push(run_set(&nodes, pids, opts.secs)?);
    }
    Ok(out)
}

/// Writes the token file and wrk script for one gateway.
fn target(dir: &Path, name: &str, srv: Srv, token: &str) -> Res<Target> {
    let file = dir.join(format!("{name}-token.txt"));
    std::fs::write(&file, format!("{token}\n"))?;
    let (script, path) = wrk::script(dir, name, &Load::Query { tokens: &file })?;
    if path != setup::QUERY_PATH {
        return Err(format!("wrk script for {path}, expected {}", setup::QUERY_PATH).into());
    }
    Ok(Target { script, srv })
}

/// Warms up, then measures all `targets` at once with [`CONNECTIONS`] split over them.
fn run_set(targets: &[Target], pids: &Pids, secs: u64) -> Res<Run> {
    parallel(targets, WARMUP_SECS)?;
    let gateways: Vec<u32> = targets.iter().map(|t| t.srv.pid).collect();
    let redis: Vec<u32> = pids.redis.into_iter().collect();
    let sets = [gateways, vec![pids.upstream], redis];
    let before: Vec<u64> = sets.iter().map(|s| procs::cpu_ticks(s)).collect();
    let busy0 = machine_busy_ticks()?;
    let start = Instant::now();
    let outcomes = parallel(targets, secs)?;
    let elapsed = start.elapsed().as_secs_f64();
    let busy1 = machine_busy_ticks()?;
    let cores = |ticks: u64| ticks as f64 / procs::clock_ticks() / elapsed;
    let used: Vec<f64> = sets
        .iter()
        .zip(&before)
        .map(|(s, b)| cores(procs::cpu_ticks(s).saturating_sub(*b)))
        .collect();
    let max = |f: fn(&Outcome) -> f64| outcomes.iter().map(f).fold(0.0, f64::max);
    Ok(Run {
        requests: outcomes.iter().map(|o| o.requests).sum(),
        rps: outcomes.iter().map(|o| o.rps).sum(),
        p50_us: max(|o| o.p50_us),
        p99_us: max(|o| o.p99_us),
        errors: outcomes
            .iter()
            .map(|o| o.bad_status + o.socket_errors)
            .sum(),
        gateway_cores: used[0],
        upstream_cores: used[1],
        redis_cores: used[2],
        machine_cores: cores(busy1.saturating_sub(busy0)),
    })
}

/// One `wrk -t1` per target, all at once, for `secs`; connections split evenly.
fn parallel(targets: &[Target], secs: u64) -> Res<Vec<Outcome>> {
    let n = u32::try_from(targets.len())?.max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .zip(0..)
            .map(|(t, i)| {
                let connections = CONNECTIONS / n + u32::from(i < CONNECTIONS % n);
                let drive = Drive { connections, secs };
                s.spawn(move || wrk::run(&t.script, t.srv.port, setup::QUERY_PATH, drive))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| -> Res<Outcome> { Ok(h.join().map_err(|_| "a wrk thread panicked")??) })
            .collect()
    })
}

/// Busy clock ticks of all CPUs from /proc/stat: user, nice, system, irq, softirq (not idle,
/// iowait, or the time the hypervisor stole).
fn machine_busy_ticks() -> Res<u64> {
    let text = std::fs::read_to_string("/proc/stat")?;
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or("/proc/stat has no cpu line")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(7)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    Ok(total.saturating_sub(idle))
}

/// The median of `runs` by `f` (the upper middle for an even count); 0 when empty.
pub fn median(runs: &[Run], f: fn(&Run) -> f64) -> f64 {
    let mut v: Vec<f64> = runs.iter().map(f).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
