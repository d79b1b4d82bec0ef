//! Load test of the gateway against baselines on this machine, in one command:
//! `cargo bench --bench load -- --quick` (under a minute) or `cargo bench --bench load` (full,
//! with the scale scenario). Re-executes itself as each server (`--role ...`), drives them all
//! with wrk on 127.0.0.1 and prints one Markdown table. Needs `wrk` (apt-get install wrk); nginx
//! is optional (apt-get install nginx). See `benches/load/` for the parts.

#[path = "load/measure.rs"]
mod measure;
#[path = "load/procs.rs"]
mod procs;
#[path = "load/report.rs"]
mod report;
#[path = "load/roles.rs"]
mod roles;
#[path = "load/run.rs"]
mod run;
#[path = "load/scale.rs"]
mod scale;
#[path = "load/setup.rs"]
mod setup;
#[path = "load/wrk.rs"]
mod wrk;

use std::process::ExitCode;

// The same allocator as the crmgate binary, so the pass-through baseline is built alike.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: cargo bench --bench load [-- OPTIONS]
  --quick          3 s per scenario, no scale scenario (under a minute)
  --scale          also the scale scenario (on by default without --quick)
  --scale-max N    largest store of the scale scenario: 1000, 100000 or 1000000 (default)
  --tokens N       distinct tokens of the rotating scenario (default 1000)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--role") => roles::run(&args[1..]),
        _ => bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bench(args: &[String]) -> Result<(), String> {
    // `cargo bench` passes --bench; `cargo test --benches` runs bench targets without it.
    if args.is_empty() {
        println!("load: nothing to do in test mode; run `cargo bench --bench load -- --quick`");
        return Ok(());
    }
    let mut opts = run::Options {
        quick: false,
        scale: false,
        tokens: 1000,
        scale_max: 1_000_000,
        command: command_line(args),
    };
    let mut scale_flag = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {}
            "--quick" => opts.quick = true,
            "--scale" => scale_flag = true,
            "--tokens" => opts.tokens = number(it.next(), arg, 100_000)?,
            "--scale-max" => opts.scale_max = number(it.next(), arg, 1_000_000)?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    opts.scale = scale_flag || !opts.quick;
    run::run(&opts)
}

/// The value of `flag`: a number from 1 to `max`.
fn number(value: Option<&String>, flag: &str, max: usize) -> Result<usize, String> {
    let v = value.ok_or_else(|| format!("{flag} needs a number"))?;
    v.parse()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("{flag} {v}: expected 1 to {max}"))
}

/// The command that reproduces this run.
fn command_line(args: &[String]) -> String {
    let own: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--bench")
        .collect();
    if own.is_empty() {
        "cargo bench --bench load".into()
    } else {
        format!("cargo bench --bench load -- {}", own.join(" "))
    }
}
