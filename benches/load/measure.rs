//! Measuring one scenario: a warm-up wrk run, then the measured run with the CPU time and peak
//! RSS of the server's process tree (and of the upstream) read from /proc around it.

use std::path::Path;

use crate::procs;
use crate::wrk::{self, Drive, Load, Outcome};

/// One row of the result table.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub name: String,
    pub load: Outcome,
    /// Server CPU (user + system) per request, microseconds.
    pub cpu_us: f64,
    /// Upstream CPU per request, when the server is a proxy.
    pub upstream_cpu_us: Option<f64>,
    /// Peak RSS of the server's processes during the measured run, KiB.
    pub peak_rss_kib: u64,
    /// crmgate's token-cache misses during the measured run.
    pub cache_misses: Option<u64>,
    /// Free text (skipped rows, caveats).
    pub note: String,
}

/// Where the load goes and which processes serve it.
pub struct Target {
    pub port: u16,
    /// The server under test (its direct children are included: nginx's worker).
    pub pid: u32,
    /// The upstream behind it, if it is a proxy.
    pub upstream_pid: Option<u32>,
    /// It is crmgate: note its token-cache misses (`/gateway/metrics`) during the run.
    pub gateway: bool,
}

/// The settings every scenario shares.
pub struct Plan<'a> {
    pub dir: &'a Path,
    pub warmup_secs: u64,
    pub drive: Drive,
}

/// Warms up, then measures `load` against `target`.
pub fn scenario(plan: &Plan, name: &str, load: &Load, target: &Target) -> Result<Row, String> {
    eprintln!("load: measuring {name}");
    let file_name: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let (script, path) = wrk::script(plan.dir, &file_name, load)?;
    if plan.warmup_secs > 0 {
        let warm = Drive {
            secs: plan.warmup_secs,
            ..plan.drive
        };
        wrk::run(&script, target.port, path, warm)?;
    }
    measured(name, &script, path, target, plan.drive)
}

/// The measured wrk run with /proc readings around it.
pub fn measured(
    name: &str,
    script: &Path,
    path: &str,
    target: &Target,
    drive: Drive,
) -> Result<Row, String> {
    let server = procs::tree(target.pid);
    let upstream: Vec<u32> = target.upstream_pid.into_iter().collect();
    procs::reset_peak_rss(&server);
    let misses0 = target.gateway.then(|| cache_misses(target.port)).flatten();
    let cpu0 = procs::cpu_ticks(&server);
    let up0 = procs::cpu_ticks(&upstream);
    let load = wrk::run(script, target.port, path, drive)?;
    let cpu1 = procs::cpu_ticks(&server);
    let up1 = procs::cpu_ticks(&upstream);
    let misses1 = target.gateway.then(|| cache_misses(target.port)).flatten();
    let per_req = |ticks: u64| {
        let reqs = load.requests.max(1) as f64;
        ticks as f64 / procs::clock_ticks() * 1e6 / reqs
    };
    Ok(Row {
        name: name.to_string(),
        cpu_us: per_req(cpu1.saturating_sub(cpu0)),
        upstream_cpu_us: target
            .upstream_pid
            .map(|_| per_req(up1.saturating_sub(up0))),
        peak_rss_kib: procs::status_kib(&server, "VmHWM"),
        cache_misses: misses0.zip(misses1).map(|(a, b)| b.saturating_sub(a)),
        note: String::new(),
        load,
    })
}

/// `crmgate_token_cache_misses_total` of the gateway on `port`.
fn cache_misses(port: u16) -> Option<u64> {
    let http = crate::setup::client().ok()?;
    let text = http
        .get(format!("http://127.0.0.1:{port}/gateway/metrics"))
        .send()
        .ok()?
        .text()
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("crmgate_token_cache_misses_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

/// A row for a scenario that could not run.
pub fn skipped(name: &str, why: &str) -> Row {
    Row {
        name: name.to_string(),
        note: format!("skipped: {why}"),
        ..Row::default()
    }
}
