//! Printing: the machine facts and command, and the one Markdown table with the throughput runs
//! (ratios against one gateway on sled) and the revocation propagation times.

use crate::Options;
use crate::disable::Disables;
use crate::revocation::{Revocations, quantile};
use crate::throughput::{self, CONNECTIONS, Rounds, Run, WARMUP_SECS};

/// The machine (nproc, CPU model, kernel, load average), the tools and the exact command.
pub fn machine(command: &str) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown", |(_, v)| v.trim());
    let kernel = read("/proc/sys/kernel/osrelease");
    format!(
        "machine: nproc {cpus}, {model}, Linux {}, load average at start {}\n{}\ncommand: {command}\n",
        kernel.trim(),
        load_average(),
        tool_versions()
    )
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = text.split_whitespace().take(3).collect();
    load.join(" ")
}

fn tool_versions() -> String {
    let first_line = |cmd: &str, arg: &str| {
        std::process::Command::new(cmd)
            .arg(arg)
            .output()
            .ok()
            .map(|o| {
                let text = [o.stdout, o.stderr].concat();
                let text = String::from_utf8_lossy(&text);
                text.lines().next().unwrap_or("").trim().to_string()
            })
            .unwrap_or_else(|| "not found".into())
    };
    format!(
        "tools: {}; {}",
        first_line("redis-server", "--version"),
        first_line("wrk", "--version")
    )
}

/// Everything the bench prints at the end.
pub fn render(
    header: &str,
    opts: &Options,
    rev: &Revocations,
    dis: &Disables,
    rounds: &Rounds,
) -> String {
    let mut out = format!(
        "\n{header}throughput: POST /restapi/v1/vtews/query with one valid Bearer token to the fake \
         CRM (auth = \"headers\"), every gateway 1 thread; {CONNECTIONS} connections in total, \
         {} s after a {WARMUP_SECS} s warm-up, {} round(s), medians over rounds; three nodes = \
         three `wrk -t1 -c{}` at once, req/s summed, latency the worst of the three. CPU in \
         cores (CPU s per s) from /proc during the measured run. Revocation: {} rounds in {:.1} s \
         (token on A, used on B and C, revoked on A, B and C polled in parallel until 401){}.\n\n",
        rounds.secs,
        rounds.sled_one.len(),
        CONNECTIONS / 3,
        rev.b_ms.len(),
        rev.elapsed.as_secs_f64(),
        if rev.hit_time_limit {
            ", stopped at the time limit"
        } else {
            ""
        },
    );
    out.push_str(
        "| measure | req/s | vs 1 node sled | p50 ms | p99 ms | max ms | CPU cores: gateways / fake CRM / Redis / machine | errors | note |\n\
         |---|---:|---:|---:|---:|---:|---|---:|---|\n",
    );
    let base = throughput::median(&rounds.sled_one, |r| r.rps);
    for (name, runs) in [
        ("1 gateway, sled", &rounds.sled_one),
        ("1 gateway, Redis", &rounds.redis_one),
        ("3 gateways, one Redis", &rounds.redis_three),
    ] {
        out.push_str(&throughput_row(name, runs, base));
    }
    out.push_str(&revocation_rows(rev, opts));
    out.push_str(&disable_rows(dis));
    out.push_str(&format!("\nload average at end: {}\n", load_average()));
    out
}

fn throughput_row(name: &str, runs: &[Run], base: f64) -> String {
    let m = |f: fn(&Run) -> f64| throughput::median(runs, f);
    let rps = m(|r| r.rps);
    let ratio = if base > 0.0 { rps / base } else { 0.0 };
    let each: Vec<String> = runs.iter().map(|r| format!("{:.0}", r.rps)).collect();
    let cores: Vec<String> = runs
        .iter()
        .map(|r| format!("{:.2}", r.gateway_cores))
        .collect();
    let errors: u64 = runs.iter().map(|r| r.errors).sum();
    let requests: u64 = runs.iter().map(|r| r.requests).sum();
    format!(
        "| {name} | {rps:.0} | {ratio:.2}x | {:.3} | {:.3} | - | {:.2} / {:.2} / {:.2} / {:.2} | {errors} | req/s per round: {}; gateway cores per round: {}; {requests} requests |\n",
        m(|r| r.p50_us) / 1e3,
        m(|r| r.p99_us) / 1e3,
        m(|r| r.gateway_cores),
        m(|r| r.upstream_cores),
        m(|r| r.redis_cores),
        m(|r| r.machine_cores),
        each.join(", "),
        cores.join(", ")
    )
}

fn latency_row(name: &str, v: &[f64], note: &str) -> String {
    format!(
        "| {name} | - | - | {:.3} | {:.3} | {:.3} | - | 0 | {note} |\n",
        quantile(v, 0.5),
        quantile(v, 0.99),
        v.last().copied().unwrap_or(0.0),
    )
}

fn disable_rows(dis: &Disables) -> String {
    let n = format!("{} samples", dis.b_ms.len());
    [
        latency_row(
            "app disabled on A (admin API), refused (401) on B",
            &dis.b_ms,
            &n,
        ),
        latency_row(
            "app disabled on A (admin API), refused (401) on C",
            &dis.c_ms,
            &n,
        ),
        latency_row(
            "disabling PATCH on A (round trip)",
            &dis.patch_ms,
            "compare-and-set of the shared registry, durable in Redis before the 200",
        ),
    ]
    .concat()
}

fn revocation_rows(rev: &Revocations, opts: &Options) -> String {
    let row = |name: &str, v: &[f64], errors: u64, note: String| {
        format!(
            "| {name} | - | - | {:.3} | {:.3} | {:.3} | - | {errors} | {note} |\n",
            quantile(v, 0.5),
            quantile(v, 0.99),
            v.last().copied().unwrap_or(0.0),
        )
    };
    let others = rev.other_statuses;
    let polled = rev.b_ms.len() + rev.c_ms.len();
    let first = if polled > 0 {
        100.0 * rev.first_poll as f64 / polled as f64
    } else {
        0.0
    };
    let mut both = [rev.b_ms.as_slice(), rev.c_ms.as_slice()].concat();
    both.sort_by(f64::total_cmp);
    let mut out = row(
        "revoked on A, refused (401) on B",
        &rev.b_ms,
        others,
        format!("{} samples of {} asked", rev.b_ms.len(), opts.revocations),
    );
    out.push_str(&row(
        "revoked on A, refused (401) on C",
        &rev.c_ms,
        others,
        format!("{} samples", rev.c_ms.len()),
    ));
    out.push_str(&row(
        "revoked on A, refused on B and C together",
        &both,
        others,
        format!("{first:.1}% refused at the first poll"),
    ));
    out.push_str(&row(
        "revocation request on A (round trip)",
        &rev.revoke_ms,
        0,
        "POST /oauth2/v2.0/revoke.php, durable in Redis before the 200".into(),
    ));
    out.push_str(&row(
        "query on B and C with the cached token, before the revocation (round trip)",
        &rev.query_ms,
        0,
        "one poll's round trip: the resolution of the refusal times".into(),
    ));
    out
}
