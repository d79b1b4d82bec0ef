//! The scale scenario: a gateway data dir filled offline (the `seed` role) with 1k, 100k and 1M
//! live tokens; at each size the gateway's start-up time, RSS and token-check latency.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::measure::{self, Row, Target};
use crate::procs::{self, Procs};
use crate::setup;
use crate::wrk::{self, Drive, Load};

/// Live-token counts the store is filled to, in order.
const LEVELS: [usize; 3] = [1_000, 100_000, 1_000_000];
/// Most tokens written to the sample file wrk rotates through.
const SAMPLE: usize = 10_000;
const SEED_TIMEOUT: Duration = Duration::from_secs(900);

/// One size of the store.
struct Level {
    tokens: usize,
    seed_secs: f64,
    store_mib: f64,
    startup: Duration,
    rss_start_kib: u64,
    sample: usize,
    row: Row,
}

/// Runs every level up to `max` tokens against the upstream on `upstream`; returns the
/// Markdown table.
pub fn run(
    procs: &mut Procs,
    dir: &Path,
    upstream: (u16, u32),
    drive: Drive,
    max: usize,
) -> Result<String, String> {
    let gdir = dir.join("scale");
    std::fs::create_dir_all(&gdir).map_err(|e| format!("{}: {e}", gdir.display()))?;
    let port = procs::free_port()?;
    setup::write_gateway_config(&gdir, port, upstream.0)?;
    let mut levels = Vec::new();
    let mut have = 0;
    for tokens in LEVELS.into_iter().filter(|n| *n <= max.max(LEVELS[0])) {
        levels.push(level(
            procs,
            &gdir,
            (port, upstream.1),
            tokens - have,
            tokens,
            drive,
        )?);
        have = tokens;
    }
    Ok(table(&levels))
}

fn level(
    procs: &mut Procs,
    gdir: &Path,
    (port, upstream_pid): (u16, u32),
    add: usize,
    tokens: usize,
    drive: Drive,
) -> Result<Level, String> {
    eprintln!("load: scale: seeding to {tokens} live tokens");
    let sample_file = gdir.join(format!("sample-{tokens}.txt"));
    let started = Instant::now();
    seed(procs, gdir, add, SAMPLE.min(add), &sample_file)?;
    let seed_secs = started.elapsed().as_secs_f64();
    let store_mib = dir_bytes(&gdir.join("data"), 0) as f64 / (1024.0 * 1024.0);
    let (pid, startup) = setup::start_gateway(procs, gdir, port)?;
    let rss_start_kib = procs::status_kib(&[pid], "VmHWM");
    let tokens_text = std::fs::read_to_string(&sample_file)
        .map_err(|e| format!("{}: {e}", sample_file.display()))?;
    let first = tokens_text.lines().next().unwrap_or_default();
    let sample = tokens_text.lines().count();
    setup::probe(port, wrk::QUERY_PATH, Some(first), "\"status\":200")?;
    let name = format!("check with {tokens} live tokens");
    let (script, path) = wrk::script(
        gdir,
        &format!("scale{tokens}"),
        &Load::Query {
            tokens: &sample_file,
        },
    )?;
    let target = Target {
        port,
        pid,
        upstream_pid: Some(upstream_pid),
        gateway: true,
    };
    let row = measure::measured(&name, &script, path, &target, drive);
    procs.stop(pid);
    let row = row?;
    Ok(Level {
        tokens,
        seed_secs,
        store_mib,
        startup,
        rss_start_kib,
        sample,
        row,
    })
}

/// Runs the `seed` role to add `add` tokens and waits for it.
fn seed(
    procs: &mut Procs,
    gdir: &Path,
    add: usize,
    sample: usize,
    out: &Path,
) -> Result<(), String> {
    let args: Vec<String> = [
        "--data-dir",
        &gdir.join("data").to_string_lossy(),
        "--client-id",
        setup::CLIENT_ID,
        "--count",
        &add.to_string(),
        "--sample",
        &sample.to_string(),
        "--out",
        &out.to_string_lossy(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let pid = setup::spawn_role(procs, gdir, "seed", &args)?;
    procs.wait_exit(pid, SEED_TIMEOUT)
}

/// Total size of the files under `dir` (8 levels deep at most).
fn dir_bytes(dir: &Path, depth: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for e in entries.flatten().take(100_000) {
        match e.metadata() {
            Ok(m) if m.is_dir() && depth < 8 => total += dir_bytes(&e.path(), depth + 1),
            Ok(m) => total += m.len(),
            Err(_) => {}
        }
    }
    total
}

fn table(levels: &[Level]) -> String {
    let mut out = String::from(
        "| live tokens | seed s | store MiB | start-up ms | peak RSS at start MiB | peak RSS under load MiB | check req/s | p50 ms | p99 ms | p99.9 ms | CPU us/req | errors | tokens rotated | cache misses |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for l in levels {
        let o = &l.row.load;
        out.push_str(&format!(
            "| {} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {:.0} | {:.3} | {:.3} | {:.3} | {:.1} | {} | {} | {} |\n",
            l.tokens,
            l.seed_secs,
            l.store_mib,
            l.startup.as_secs_f64() * 1000.0,
            l.rss_start_kib as f64 / 1024.0,
            l.row.peak_rss_kib as f64 / 1024.0,
            o.rps,
            o.p50_us / 1000.0,
            o.p99_us / 1000.0,
            o.p999_us / 1000.0,
            l.row.cpu_us,
            o.bad_status + o.socket_errors,
            l.sample,
            l.row.cache_misses.map_or("-".into(), |m| m.to_string())
        ));
    }
    out
}
