//! The main comparison: starts the upstream, the pingora pass-through, nginx and crmgate on
//! loopback, gets tokens, checks each path once, measures every scenario and prints the report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::measure::{self, Plan, Row, Target};
use crate::procs::{self, Procs};
use crate::report::{self, Names};
use crate::setup;
use crate::wrk::{self, Drive, Load};

/// What the command line asked for.
pub struct Options {
    pub quick: bool,
    pub scale: bool,
    /// Distinct tokens of the rotating scenario.
    pub tokens: usize,
    /// Largest store size of the scale scenario.
    pub scale_max: usize,
    pub command: String,
}

const DIRECT: &str = "upstream direct";
const PASS: &str = "pingora pass-through";
const NGINX: &str = "nginx proxy_pass";
const ISSUE: &str = "crmgate issue token";
const INTROSPECT: &str = "crmgate introspect";
const OK_BODY: &str = "\"status\":200";

/// A server on loopback: its port and pid.
#[derive(Clone, Copy)]
struct Srv {
    port: u16,
    pid: u32,
}

struct Servers {
    upstream: Srv,
    passthrough: Srv,
    nginx: Result<Srv, String>,
    gateway: Srv,
}

/// Runs everything and prints the report; children are stopped and files removed on return.
pub fn run(opts: &Options) -> Result<(), String> {
    wrk::check_installed()?;
    setup::crmgate_bin()?;
    let tmp = tempfile::Builder::new()
        .prefix("crmgate-load-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;
    let mut procs = Procs::default();
    let dir = tmp.path();
    let (secs, warmup_secs) = if opts.quick { (3, 1) } else { (10, 2) };
    let drive = Drive {
        connections: 32,
        secs,
    };
    let header = report::machine(&opts.command);
    eprintln!(
        "load: {} run, results at the end",
        if opts.quick { "quick" } else { "full" }
    );
    let servers = start(&mut procs, dir)?;
    let rows = scenarios(
        &servers,
        opts,
        &Plan {
            dir,
            warmup_secs,
            drive,
        },
    )?;
    let out = main_report(&header, &rows, opts, drive, warmup_secs);
    print!("{out}");
    let pairs = paired(&servers, dir, drive, if opts.quick { 3 } else { 7 })?;
    print!("{}", report::pairs(&pairs));
    if opts.scale {
        procs.stop(servers.gateway.pid);
        let up = (servers.upstream.port, servers.upstream.pid);
        let table = crate::scale::run(&mut procs, dir, up, drive, opts.scale_max)?;
        print!(
            "\nscale: a gateway on a data dir filled offline; wrk rotates through a sample of its \
             tokens without warm-up, so each sampled token's first use reads the store\n\n{table}\n\
             load average at end: {}\n",
            report::load_average()
        );
    }
    Ok(())
}

/// The machine, how wrk ran, the table and the ratios.
fn main_report(header: &str, rows: &[Row], opts: &Options, drive: Drive, warmup: u64) -> String {
    let mut out = format!(
        "{header}load: wrk -t1 -c{} -d{}s --latency after a {warmup} s warm-up; every server 1 \
         thread on 127.0.0.1; one sample per scenario; CPU = utime+stime from /proc per request\n\n",
        drive.connections, drive.secs
    );
    out.push_str(&report::table(rows));
    out.push('\n');
    out.push_str(&report::ratios(
        rows,
        &Names {
            passthrough: PASS,
            nginx: NGINX,
            proxied: [&proxied_one(), &proxied_many(opts.tokens)],
            issue: ISSUE,
            introspect: INTROSPECT,
        },
    ));
    out.push_str(&format!("load average now: {}\n", report::load_average()));
    out
}

fn proxied_one() -> String {
    "crmgate query, 1 token".into()
}

fn proxied_many(n: usize) -> String {
    format!("crmgate query, {n} tokens")
}

fn start(procs: &mut Procs, dir: &Path) -> Result<Servers, String> {
    let wait = Duration::from_secs(30);
    let port = procs::free_port()?;
    let pid = setup::spawn_role(procs, dir, "upstream", &["--port".into(), port.to_string()])?;
    procs.wait_http(pid, port, "/", false, wait)?;
    let upstream = Srv { port, pid };
    let port = procs::free_port()?;
    let args = [
        "--port".into(),
        port.to_string(),
        "--upstream".into(),
        upstream.port.to_string(),
    ];
    let pid = setup::spawn_role(procs, dir, "passthrough", &args)?;
    procs.wait_http(pid, port, "/", false, wait)?;
    let passthrough = Srv { port, pid };
    let nginx = if setup::on_path("nginx") {
        let port = procs::free_port()?;
        setup::start_nginx(procs, &dir.join("nginx"), port, upstream.port)
            .map(|pid| Srv { port, pid })
    } else {
        Err("nginx not on PATH (apt-get install nginx)".into())
    };
    let gdir = dir.join("gateway");
    std::fs::create_dir_all(&gdir).map_err(|e| format!("{}: {e}", gdir.display()))?;
    let port = procs::free_port()?;
    setup::write_gateway_config(&gdir, port, upstream.port)?;
    let (pid, _) = setup::start_gateway(procs, &gdir, port)?;
    Ok(Servers {
        upstream,
        passthrough,
        nginx,
        gateway: Srv { port, pid },
    })
}

/// Alternating runs of the pass-through and crmgate (one token), `n` pairs: the ratio the
/// throughput target is about, as a median over pairs measured back to back, since single
/// samples on a shared 2-core machine vary by 15% or more.
fn paired(s: &Servers, dir: &Path, drive: Drive, n: usize) -> Result<Vec<(Row, Row)>, String> {
    let file = dir.join("one-token.txt");
    let query = Load::Query { tokens: &file };
    let plan = Plan {
        dir,
        warmup_secs: 1,
        drive,
    };
    let up = Some(s.upstream.pid);
    let target = |srv: Srv, gateway: bool| Target {
        port: srv.port,
        pid: srv.pid,
        upstream_pid: up,
        gateway,
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        eprintln!("load: pair {} of {n}", i + 1);
        let base = measure::scenario(&plan, PASS, &query, &target(s.passthrough, false))?;
        let gw = measure::scenario(&plan, "crmgate query", &query, &target(s.gateway, true))?;
        out.push((base, gw));
    }
    Ok(out)
}

/// The tokens the scenarios send, and the files wrk reads them from.
struct Tokens {
    one: String,
    one_file: PathBuf,
    many_file: PathBuf,
}

/// Gets the tokens and checks every path once with a request like the load's.
fn prepare(s: &Servers, opts: &Options, dir: &Path) -> Result<Tokens, String> {
    let gw = s.gateway;
    eprintln!("load: getting {} tokens", opts.tokens + 1);
    let one = setup::fetch_token(&setup::client()?, gw.port)?;
    let many = setup::fetch_tokens(gw.port, opts.tokens, Duration::from_secs(120))?;
    let mut proxies = vec![s.upstream, s.passthrough, gw];
    proxies.extend(s.nginx.as_ref().ok().copied());
    for srv in proxies {
        setup::probe(srv.port, wrk::QUERY_PATH, Some(&one), OK_BODY)?;
    }
    let form = [("token", one.as_str())];
    setup::probe_form(gw.port, wrk::INTROSPECT_PATH, &form, "\"active\":true")?;
    let grant = [("grant_type", "client_credentials")];
    setup::probe_form(gw.port, wrk::TOKEN_PATH, &grant, "access_token")?;
    Ok(Tokens {
        one_file: write_lines(dir, "one-token.txt", std::slice::from_ref(&one))?,
        many_file: write_lines(dir, "many-tokens.txt", &many)?,
        one,
    })
}

/// Measures each scenario in turn; the pass-through runs right before crmgate, the pair the
/// targets compare.
fn scenarios(s: &Servers, opts: &Options, plan: &Plan) -> Result<Vec<Row>, String> {
    let t = prepare(s, opts, plan.dir)?;
    let gw = s.gateway;
    let up = Some(s.upstream.pid);
    let run = |name: &str, load: &Load, srv: Srv, upstream_pid: Option<u32>| {
        let target = Target {
            port: srv.port,
            pid: srv.pid,
            upstream_pid,
            gateway: srv.pid == gw.pid,
        };
        measure::scenario(plan, name, load, &target)
    };
    let query = Load::Query {
        tokens: &t.one_file,
    };
    let rotating = Load::Query {
        tokens: &t.many_file,
    };
    let basic = setup::basic();
    let introspect = Load::Introspect {
        basic: &basic,
        token: &t.one,
    };
    let mut rows = vec![run(DIRECT, &query, s.upstream, None)?];
    rows.push(match &s.nginx {
        Ok(n) => run(NGINX, &query, *n, up)?,
        Err(why) => measure::skipped(NGINX, why),
    });
    rows.push(run(PASS, &query, s.passthrough, up)?);
    rows.push(run(&proxied_one(), &query, gw, up)?);
    rows.push(run(&proxied_many(opts.tokens), &rotating, gw, up)?);
    rows.push(run(INTROSPECT, &introspect, gw, None)?);
    rows.push(run(ISSUE, &Load::Issue { basic: &basic }, gw, None)?);
    Ok(rows)
}

fn write_lines(dir: &Path, name: &str, lines: &[String]) -> Result<PathBuf, String> {
    let path = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
