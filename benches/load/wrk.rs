//! The load generator: wrk Lua scripts for each kind of load, running wrk with a watchdog, and
//! parsing its output (`Requests/sec` and the `LOADRESULT` line our `done()` prints).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The query every proxied request sends.
pub const QUERY_PATH: &str = "/restapi/v1/vtews/query";
const QUERY_BODY: &str = r#"{"query":"SELECT * FROM Invoice;"}"#;
/// Token endpoint path.
pub const TOKEN_PATH: &str = "/oauth2/v2.0/token.php";
/// Introspection endpoint path.
pub const INTROSPECT_PATH: &str = "/oauth2/v2.0/introspect.php";

/// What a wrk run sends.
pub enum Load<'a> {
    /// The query with `Authorization: Bearer`, rotating through the tokens in a file.
    Query { tokens: &'a Path },
    /// `grant_type=client_credentials` with Basic credentials (`basic` is the base64 part).
    Issue { basic: &'a str },
    /// `token=...` to the introspection endpoint with Basic credentials.
    Introspect { basic: &'a str, token: &'a str },
}

/// How wrk drives every scenario.
#[derive(Clone, Copy)]
pub struct Drive {
    /// Open connections.
    pub connections: u32,
    /// Measured seconds.
    pub secs: u64,
}

/// One wrk run.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub requests: u64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    /// Responses with status >= 400.
    pub bad_status: u64,
    /// Connect, read, write and timeout errors.
    pub socket_errors: u64,
}

const DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "LOADRESULT requests=%d duration_us=%d p50=%.0f p99=%.0f p999=%.0f connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), e.connect, e.read, e.write, e.status, e.timeout))
end
"#;

/// Writes the Lua script for `load` to `dir/name.lua`; returns its path and the URL path.
pub fn script(dir: &Path, name: &str, load: &Load) -> Result<(PathBuf, &'static str), String> {
    let (body, path) = match load {
        Load::Query { tokens } => (query_script(tokens), QUERY_PATH),
        Load::Issue { basic } => (
            form_script(TOKEN_PATH, basic, "grant_type=client_credentials"),
            TOKEN_PATH,
        ),
        Load::Introspect { basic, token } => (
            form_script(INTROSPECT_PATH, basic, &format!("token={token}")),
            INTROSPECT_PATH,
        ),
    };
    let file = dir.join(format!("{name}.lua"));
    std::fs::write(&file, format!("{body}{DONE}"))
        .map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((file, path))
}

/// Pre-formats one request per token at init and sends them round-robin.
fn query_script(tokens: &Path) -> String {
    format!(
        r#"local body = [[{QUERY_BODY}]]
local reqs = {{}}
local i = 0
init = function(args)
  for line in io.lines([[{}]]) do
    if #line > 0 and #reqs < 1000000 then
      reqs[#reqs + 1] = wrk.format("POST", "{QUERY_PATH}",
        {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. line}}, body)
    end
  end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
"#,
        tokens.display()
    )
}

fn form_script(path: &str, basic: &str, body: &str) -> String {
    format!(
        r#"wrk.method = "POST"
wrk.path = "{path}"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic {basic}"
"#
    )
}

/// Runs `wrk -t1 -c<conns> -d<secs>s --latency -s script url`, killed if it overruns by 20 s.
pub fn run(script: &Path, port: u16, path: &str, drive: Drive) -> Result<Outcome, String> {
    let out_file = script.with_extension("out");
    let out =
        std::fs::File::create(&out_file).map_err(|e| format!("{}: {e}", out_file.display()))?;
    let mut child = Command::new("wrk")
        .arg("-t1")
        .arg(format!("-c{}", drive.connections))
        .arg(format!("-d{}s", drive.secs))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run wrk ({e}); install it: apt-get install wrk"))?;
    let deadline = Instant::now() + Duration::from_secs(drive.secs + 20);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("wrk: {e}"))? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("wrk overran its duration by 20 s; killed".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&out_file).unwrap_or_default();
    if !status.success() {
        return Err(format!("wrk failed ({status}):\n{text}"));
    }
    parse(&text).ok_or_else(|| format!("cannot read wrk's output:\n{text}"))
}

/// Reads the `LOADRESULT` line and `Requests/sec`.
pub fn parse(text: &str) -> Option<Outcome> {
    let line = text.lines().find_map(|l| l.strip_prefix("LOADRESULT "))?;
    let get = |key: &str| -> Option<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    let requests = get("requests")?;
    let duration_s = get("duration_us")? / 1e6;
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(if duration_s > 0.0 {
            requests / duration_s
        } else {
            0.0
        });
    let errors = ["connect", "read", "write", "timeout"];
    Some(Outcome {
        requests: requests as u64,
        rps,
        p50_us: get("p50")?,
        p99_us: get("p99")?,
        p999_us: get("p999")?,
        bad_status: get("status")? as u64,
        socket_errors: errors.iter().filter_map(|k| get(k)).sum::<f64>() as u64,
    })
}

/// `wrk` on PATH, or an error saying how to install it.
pub fn check_installed() -> Result<(), String> {
    if crate::setup::on_path("wrk") {
        Ok(())
    } else {
        Err("wrk is not on PATH: apt-get install wrk".into())
    }
}
