//! Printing: the machine and command, the Markdown result table, and the ratios against the
//! targets (crmgate vs pingora pass-through and nginx, absolute issue/introspection rates).

use crate::measure::Row;

/// The machine, the load average and the exact command line.
pub fn machine(command: &str) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown", |(_, v)| v.trim());
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let kernel = read("/proc/sys/kernel/osrelease");
    format!(
        "machine: {cpus} CPUs (nproc), {model}, Linux {}, load average at start {}\n\
         command: {command}\n",
        kernel.trim(),
        load_average()
    )
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = text.split_whitespace().take(3).collect();
    load.join(" ")
}

fn ms(us: f64) -> String {
    format!("{:.3}", us / 1000.0)
}

/// The result table in Markdown.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | req/s | p50 ms | p99 ms | p99.9 ms | server CPU us/req | upstream CPU us/req | server peak RSS MiB | errors | note |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        if r.load.requests == 0 {
            out.push_str(&format!(
                "| {} | - | - | - | - | - | - | - | - | {} |\n",
                r.name, r.note
            ));
            continue;
        }
        let l = &r.load;
        let upstream = r.upstream_cpu_us.map_or("-".into(), |u| format!("{u:.1}"));
        let errors = l.bad_status + l.socket_errors;
        let note = match r.cache_misses {
            Some(m) => format!("token cache misses: {m} {}", r.note),
            None => r.note.clone(),
        };
        out.push_str(&format!(
            "| {} | {:.0} | {} | {} | {} | {:.1} | {upstream} | {:.1} | {errors} | {} |\n",
            r.name,
            l.rps,
            ms(l.p50_us),
            ms(l.p99_us),
            ms(l.p999_us),
            r.cpu_us,
            r.peak_rss_kib as f64 / 1024.0,
            note.trim_end()
        ));
    }
    out
}

fn find<'a>(rows: &'a [Row], name: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.name == name && r.load.requests > 0)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets target" } else { "MISSES target" }
}

/// One "A vs B" line: throughput ratio and p99 difference, with targets when given.
fn versus(a: &Row, b: &Row, targets: bool) -> String {
    let ratio = a.load.rps / b.load.rps.max(1.0);
    let dp99 = (a.load.p99_us - b.load.p99_us) / 1000.0;
    let mut line = format!(
        "- {} vs {}: {ratio:.2}x throughput, p99 {dp99:+.3} ms, CPU {:.1} vs {:.1} us/req",
        a.name, b.name, a.cpu_us, b.cpu_us
    );
    if targets {
        line.push_str(&format!(
            " (target >= 0.90x: {}; p99 <= +0.2 ms: {})",
            verdict(ratio >= 0.90),
            verdict(dp99 <= 0.2)
        ));
    }
    line.push('\n');
    line
}

/// Names of the rows the ratios refer to.
pub struct Names<'a> {
    pub passthrough: &'a str,
    pub nginx: &'a str,
    pub proxied: [&'a str; 2],
    pub issue: &'a str,
    pub introspect: &'a str,
}

/// The ratios against the baselines and the absolute OAuth rates.
pub fn ratios(rows: &[Row], n: &Names) -> String {
    let mut out = String::new();
    for name in n.proxied {
        let Some(gw) = find(rows, name) else { continue };
        if let Some(base) = find(rows, n.passthrough) {
            out.push_str(&versus(gw, base, true));
        }
        if let Some(base) = find(rows, n.nginx) {
            out.push_str(&versus(gw, base, false));
        }
    }
    for (name, target) in [(n.issue, 10_000.0), (n.introspect, 50_000.0)] {
        if let Some(r) = find(rows, name) {
            out.push_str(&format!(
                "- {name}: {:.0}/s (target {target:.0}/s: {})\n",
                r.load.rps,
                verdict(r.load.rps >= target)
            ));
        }
    }
    out
}

/// The paired comparison: each pair's ratio, and the medians.
pub fn pairs(pairs: &[(Row, Row)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut ratios: Vec<f64> = pairs
        .iter()
        .map(|(b, g)| g.load.rps / b.load.rps.max(1.0))
        .collect();
    let mut p99: Vec<f64> = pairs
        .iter()
        .map(|(b, g)| (g.load.p99_us - b.load.p99_us) / 1000.0)
        .collect();
    let mut cpu: Vec<f64> = pairs.iter().map(|(b, g)| g.cpu_us - b.cpu_us).collect();
    let list: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (r, d, c) = (median(&mut ratios), median(&mut p99), median(&mut cpu));
    format!(
        "\npaired: {} alternating runs of pingora pass-through then crmgate query (1 token)\n\
         - throughput ratio per pair: {}\n\
         - median ratio {r:.2}x (target >= 0.90x: {}); median p99 difference {d:+.3} ms \
         (target <= +0.2 ms: {}); median extra CPU {c:.1} us/req\n",
        pairs.len(),
        list.join(", "),
        verdict(r >= 0.90),
        verdict(d <= 0.2),
    )
}
