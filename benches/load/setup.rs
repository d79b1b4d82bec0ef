//! Starting the servers under test: the crmgate binary with generated config files, nginx with
//! a generated config, the bench's own roles; and getting tokens from the running gateway.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::procs::Procs;

/// The service account every scenario uses (bound to a non-admin user).
pub const CLIENT_ID: &str = "vte_loadbench00000001";
const CLIENT_SECRET: &str = "load-bench-secret-0123456789abcdef";
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// `base64(client_id:secret)` for `Authorization: Basic`.
pub fn basic() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
}

/// True when `tool` is an executable file in a folder of PATH.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// Starts the bench executable as `role` with `args`.
pub fn spawn_role(
    procs: &mut Procs,
    dir: &Path,
    role: &str,
    args: &[String],
) -> Result<u32, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("--role").arg(role).args(args);
    procs.spawn(role, &mut cmd, &dir.join(format!("{role}.log")))
}

/// The crmgate binary cargo built for this bench (`target/release/crmgate`).
pub fn crmgate_bin() -> Result<PathBuf, String> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_crmgate"));
    if bin.is_file() {
        return Ok(bin);
    }
    Err(format!(
        "{} is missing; run `cargo build --release --bin crmgate`",
        bin.display()
    ))
}

/// Writes crmgate.toml, apps.toml and users.toml into `dir` (data in `dir/data`).
pub fn write_gateway_config(dir: &Path, port: u16, upstream: u16) -> Result<PathBuf, String> {
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
         data_dir = \"data\"\nthreads = 1\nshutdown_grace_seconds = 0\n\n\
         [upstream]\naddress = \"127.0.0.1:{upstream}\"\nauth = \"headers\"\n\n\
         [logging]\nlevel = \"warn\"\naccess_log = false\n"
    );
    let apps = format!(
        "[settings]\noauth_enabled = true\nallow_admin_users = false\n\n\
         [[apps]]\nclient_id = \"{CLIENT_ID}\"\nname = \"Load bench\"\n\
         client_type = \"service_account\"\nsecret_type = \"client_secret\"\n\
         client_secret = \"{CLIENT_SECRET}\"\nscope = \"rest.all\"\nuser = \"bench\"\n"
    );
    let users = "[[users]]\nusername = \"bench\"\nname = \"Load bench\"\nadmin = false\n\
                 groups = [\"sales\"]\n";
    for (name, text) in [
        ("crmgate.toml", config.as_str()),
        ("apps.toml", apps.as_str()),
        ("users.toml", users),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(dir.join("crmgate.toml"))
}

/// Starts `crmgate serve` on the config in `dir`; returns its pid and the time until
/// `/gateway/healthz` answered 200.
pub fn start_gateway(procs: &mut Procs, dir: &Path, port: u16) -> Result<(u32, Duration), String> {
    let mut cmd = Command::new(crmgate_bin()?);
    cmd.arg("serve")
        .arg("--config")
        .arg(dir.join("crmgate.toml"));
    cmd.env_remove("RUST_LOG");
    let pid = procs.spawn("crmgate", &mut cmd, &dir.join("crmgate.log"))?;
    let took = procs.wait_http(pid, port, "/gateway/healthz", true, START_TIMEOUT)?;
    Ok((pid, took))
}

/// Starts nginx (1 worker, keep-alive upstream) on `port` in front of `upstream`.
pub fn start_nginx(procs: &mut Procs, dir: &Path, port: u16, upstream: u16) -> Result<u32, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let d = dir.display();
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         upstream crm {{ server 127.0.0.1:{upstream}; keepalive 64; }}\n\
         server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://crm;\n\
         proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut cmd = Command::new("nginx");
    cmd.arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .arg("-g")
        .arg("daemon off;");
    let pid = procs.spawn("nginx", &mut cmd, &dir.join("stderr.log"))?;
    procs.wait_http(pid, port, "/", false, START_TIMEOUT)?;
    Ok(pid)
}

/// An HTTP client for set-up requests (not for load).
pub fn client() -> Result<reqwest::blocking::Client, String> {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("http client: {e}"))
}

/// One client_credentials token from the gateway on `port`.
pub fn fetch_token(http: &reqwest::blocking::Client, port: u16) -> Result<String, String> {
    let r = http
        .post(format!("http://127.0.0.1:{port}{}", crate::wrk::TOKEN_PATH))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .map_err(|e| format!("token request: {e}"))?;
    let status = r.status();
    let v: serde_json::Value = r.json().map_err(|e| format!("token response: {e}"))?;
    v["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("token endpoint answered {status}: {v}"))
}

/// `n` distinct tokens from 8 threads, within `limit`.
pub fn fetch_tokens(port: u16, n: usize, limit: Duration) -> Result<Vec<String>, String> {
    let next = AtomicUsize::new(0);
    let out = Mutex::new(Vec::with_capacity(n));
    let deadline = Instant::now() + limit;
    let http = client()?;
    let worker = || -> Result<(), String> {
        while next.fetch_add(1, Ordering::Relaxed) < n {
            if Instant::now() > deadline {
                return Err(format!("getting {n} tokens took over {limit:?}"));
            }
            let token = fetch_token(&http, port)?;
            out.lock().map_err(|_| "token list poisoned")?.push(token);
        }
        Ok(())
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(worker)).collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().map_err(|_| "token thread panicked".to_string())?)
    })?;
    out.into_inner().map_err(|_| "token list poisoned".into())
}

/// Sends one request like the load would and checks the status and that `expect` is in the body.
pub fn probe(port: u16, path: &str, bearer: Option<&str>, expect: &str) -> Result<(), String> {
    let http = client()?;
    let url = format!("http://127.0.0.1:{port}{path}");
    let req = match bearer {
        Some(token) => http
            .post(url)
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(r#"{"query":"SELECT * FROM Invoice;"}"#),
        None => http.post(url).body(""),
    };
    let r = req
        .send()
        .map_err(|e| format!("probe {path} on :{port}: {e}"))?;
    let status = r.status();
    let body = r.text().unwrap_or_default();
    if status.is_success() && body.contains(expect) {
        Ok(())
    } else {
        Err(format!("probe {path} on :{port}: {status} {body}"))
    }
}

/// `probe` for the OAuth endpoints: a form POST with Basic credentials.
pub fn probe_form(
    port: u16,
    path: &str,
    form: &[(&str, &str)],
    expect: &str,
) -> Result<(), String> {
    let r = client()?
        .post(format!("http://127.0.0.1:{port}{path}"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(form)
        .send()
        .map_err(|e| format!("probe {path}: {e}"))?;
    let status = r.status();
    let body = r.text().unwrap_or_default();
    if status.is_success() && body.contains(expect) {
        Ok(())
    } else {
        Err(format!("probe {path}: {status} {body}"))
    }
}
