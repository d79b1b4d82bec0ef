//! Several crmgate gateways on one Redis, measured on this machine in one command:
//! `cargo bench --bench three_gateways -- --quick` (about 20 s) or without `--quick` (10 s runs,
//! three rounds; about 2 minutes). Starts one throwaway `redis-server`, the load bench's fake
//! CRM, three `crmgate` processes on that Redis with one master key and one on sled, then
//! measures how long a revocation on one node takes to be refused over HTTP on the two others,
//! and proxied-call throughput of one node (sled, Redis) against three Redis nodes. Needs `wrk`
//! and `redis-server` (apt-get install wrk redis-server). Parts in `benches/three_gateways/`.

#[path = "three_gateways/disable.rs"]
mod disable;
#[path = "load/procs.rs"]
#[allow(dead_code)]
mod procs;
#[path = "../src/store/redis_test_server.rs"]
#[allow(clippy::unwrap_used, clippy::panic)]
mod redis_server;
#[path = "three_gateways/report.rs"]
mod report;
#[path = "three_gateways/revocation.rs"]
mod revocation;
#[path = "load/roles.rs"]
mod roles;
#[path = "three_gateways/setup.rs"]
mod setup;
#[path = "three_gateways/throughput.rs"]
mod throughput;
#[path = "load/wrk.rs"]
#[allow(dead_code)]
mod wrk;

use std::process::ExitCode;
use std::time::Duration;

/// The bench's error type: any error, boxed (`String`s from the shared load modules included).
pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

// The same allocator as the crmgate binary, for the fake CRM role.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: cargo bench --bench three_gateways [-- OPTIONS]
  --quick          5 s wrk runs, one round, 200 revocations (about 20 s)
  --rounds N       throughput rounds (default 3, 1 with --quick)
  --revocations N  revocation samples (default 500, 200 with --quick; at most 60 s)";

/// What the command line asked for.
pub struct Options {
    pub quick: bool,
    /// Seconds of each measured wrk run.
    pub secs: u64,
    /// Throughput rounds (each: sled one node, Redis one node, Redis three nodes).
    pub rounds: usize,
    /// Revocation samples.
    pub revocations: usize,
    /// Longest the revocation loop may run.
    pub revocation_limit: Duration,
    pub command: String,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--role") => roles::run(&args[1..]).map_err(Into::into),
        _ => bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("three_gateways: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bench(args: &[String]) -> Res<()> {
    // `cargo bench` passes --bench; `cargo test --benches` runs bench targets without it.
    if args.is_empty() {
        println!(
            "three_gateways: nothing to do in test mode; run `cargo bench --bench three_gateways -- --quick`"
        );
        return Ok(());
    }
    let quick = args.iter().any(|a| a == "--quick");
    let mut opts = Options {
        quick,
        secs: if quick { 5 } else { 10 },
        rounds: if quick { 1 } else { 3 },
        revocations: if quick { 200 } else { 500 },
        revocation_limit: Duration::from_secs(60),
        command: command_line(args),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" | "--quick" => {}
            "--rounds" => opts.rounds = number(it.next(), arg, 9)?,
            "--revocations" => opts.revocations = number(it.next(), arg, 10_000)?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}").into()),
        }
    }
    run(&opts)
}

/// Starts everything, measures, prints; every child is stopped when this returns (also on error).
fn run(opts: &Options) -> Res<()> {
    for tool in ["wrk", "redis-server"] {
        if !setup::on_path(tool) {
            return Err(format!("{tool} is not on PATH: apt-get install {tool}").into());
        }
    }
    let header = report::machine(&opts.command);
    let tmp = tempfile::Builder::new()
        .prefix("crmgate-three-")
        .tempdir()?;
    let redis = redis_server::TestRedis::start();
    let mut procs = procs::Procs::default();
    let cluster = setup::start_all(&mut procs, tmp.path(), &redis)?;
    eprintln!(
        "three_gateways: redis :{}, fake CRM :{}, sled node :{}, redis nodes :{} :{} :{}",
        redis.port,
        cluster.upstream.port,
        cluster.sled.port,
        cluster.nodes[0].port,
        cluster.nodes[1].port,
        cluster.nodes[2].port
    );
    let revoked = revocation::measure(&cluster, opts)?;
    let disabled = disable::measure(&cluster, opts)?;
    let pids = throughput::Pids {
        upstream: cluster.upstream.pid,
        redis: redis_pid(),
    };
    let rounds = throughput::measure(&cluster, &pids, tmp.path(), opts)?;
    print!(
        "{}",
        report::render(&header, opts, &revoked, &disabled, &rounds)
    );
    drop(procs);
    drop(redis);
    Ok(())
}

/// The pid of the redis-server this process started (`TestRedis` keeps its child private).
fn redis_pid() -> Option<u32> {
    procs::tree(std::process::id()).into_iter().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|comm| comm.trim() == "redis-server")
    })
}

/// The value of `flag`: a number from 1 to `max`.
fn number(value: Option<&String>, flag: &str, max: usize) -> Res<usize> {
    let v = value.ok_or_else(|| format!("{flag} needs a number"))?;
    let n = v
        .parse()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("{flag} {v}: expected 1 to {max}"))?;
    Ok(n)
}

/// The command that reproduces this run.
fn command_line(args: &[String]) -> String {
    let own: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--bench")
        .collect();
    if own.is_empty() {
        "cargo bench --bench three_gateways".into()
    } else {
        format!("cargo bench --bench three_gateways -- {}", own.join(" "))
    }
}
