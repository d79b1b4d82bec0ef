//! Black-box test harness: a demo CRM that records what it receives, and the real `crmgate`
//! binary on a free loopback port with a fresh data dir, driven over real HTTP.

#![allow(dead_code, unused_imports)]

pub mod api;
pub mod browser;
pub mod inprocess;
pub use inprocess::InProcess;
pub mod jwt;
pub mod lookalike;
pub mod process;
/// The throwaway redis-server the Redis backend's unit tests use, shared with these tests.
#[path = "../../src/store/redis_test_server.rs"]
pub mod redis_server;
pub mod wire;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crmgate::demo::crm::{CrmAuth, CrmUser, DemoCrm, Received};
use reqwest::blocking::{Client, Response};
use serde_json::Value;

/// The demo users every test gateway knows; access keys are `ak-<name>`.
pub fn users() -> Vec<CrmUser> {
    [
        ("aldo", false, "sales"),
        ("bruna", false, "support"),
        ("carla", false, "support"),
        ("admin", true, ""),
    ]
    .into_iter()
    .map(|(name, admin, group)| CrmUser {
        username: name.into(),
        password: format!("{name}-pw"),
        access_key: format!("ak-{name}"),
        admin,
        groups: if group.is_empty() {
            vec![]
        } else {
            vec![group.into()]
        },
    })
    .collect()
}

pub fn users_toml() -> String {
    users()
        .iter()
        .map(|u| {
            let groups: Vec<String> = u.groups.iter().map(|g| format!("\"{g}\"")).collect();
            format!(
                "[[users]]\nusername = \"{}\"\npassword_hash = \"{}\"\nadmin = {}\ngroups = [{}]\ncrm_access_key = \"{}\"\n\n",
                u.username,
                cheap_hash(&u.password),
                u.admin,
                groups.join(", "),
                u.access_key
            )
        })
        .collect()
}

/// An argon2id hash with tiny cost parameters, so logins are fast in debug test builds (the
/// gateway verifies with the parameters stored in the hash).
pub fn cheap_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// `[settings]` with the given switches.
pub fn settings(oauth_enabled: bool, allow_admin_users: bool) -> String {
    format!(
        "[settings]\noauth_enabled = {oauth_enabled}\nusers_can_manage_secrets = false\nallow_admin_users = {allow_admin_users}\n\n"
    )
}

/// A `client_secret` service account.
pub fn secret_app(client_id: &str, secret: &str, scope: &str, user: &str) -> String {
    format!(
        "[[apps]]\nclient_id = \"{client_id}\"\nname = \"App {client_id}\"\nclient_type = \"service_account\"\n\
         secret_type = \"client_secret\"\nclient_secret = \"{secret}\"\nscope = \"{scope}\"\nuser = \"{user}\"\n\n"
    )
}

/// A `signed_jwt` service account with a PEM public key.
pub fn jwt_app(client_id: &str, public_pem: &str, scope: &str, user: &str) -> String {
    format!(
        "[[apps]]\nclient_id = \"{client_id}\"\nname = \"JWT {client_id}\"\nclient_type = \"service_account\"\n\
         secret_type = \"signed_jwt\"\njwt_public_key = \"\"\"\n{public_pem}\"\"\"\nscope = \"{scope}\"\nuser = \"{user}\"\n\n"
    )
}

/// The embedded store backends the durability tests run against (`[store] backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// sled under `data/store`.
    Sled,
    /// redb: `data/store-redb/tokens.redb` and its seal.
    Redb,
}

impl Backend {
    /// Its name in `[store] backend`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sled => "sled",
            Backend::Redb => "redb",
        }
    }

    /// The `[store]` section choosing it.
    pub fn toml(self) -> String {
        format!("[store]\nbackend = \"{}\"\n\n", self.name())
    }

    /// Its store folder, relative to the config folder.
    pub fn store_dir(self) -> &'static str {
        match self {
            Backend::Sled => "data/store",
            Backend::Redb => "data/store-redb",
        }
    }

    /// Default options with this backend.
    pub fn options(self) -> Options {
        Options {
            extra: self.toml(),
            ..Options::default()
        }
    }
}

/// Options of a test gateway.
#[derive(Clone)]
pub struct Options {
    /// `basic` or `headers`.
    pub upstream_auth: &'static str,
    /// `[upstream] signing_secret`.
    pub signing_secret: Option<String>,
    /// Extra TOML appended to crmgate.toml (other sections).
    pub extra: String,
    /// Forward to this address instead of the demo CRM.
    pub upstream_address: Option<String>,
    /// `[upstream] read_timeout_seconds`.
    pub read_timeout: u64,
    /// Extra keys of the `[server]` section.
    pub server_extra: String,
    /// `server.public_url` instead of `http://127.0.0.1:PORT`.
    pub public_url: Option<String>,
    /// Certificate and key PEM: the gateway listens with HTTPS and the client trusts the cert.
    pub tls: Option<(String, String)>,
    /// Write no users.toml (for the `upstream` users backend).
    pub no_users_file: bool,
    /// users.toml instead of the demo users.
    pub users_toml: Option<String>,
    /// `server.shutdown_grace_seconds`.
    pub shutdown_grace_seconds: u64,
    /// Send this signal over and over from the gateway's first log line until it answers.
    pub signal_while_starting: Option<i32>,
    /// The master key to write into the data dir before the first start (gateways sharing a
    /// store need the same one).
    pub master_key: Option<[u8; 32]>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            upstream_auth: "basic",
            signing_secret: None,
            extra: String::new(),
            upstream_address: None,
            read_timeout: 5,
            server_extra: String::new(),
            public_url: None,
            tls: None,
            no_users_file: false,
            users_toml: None,
            shutdown_grace_seconds: 0,
            signal_while_starting: None,
            master_key: None,
        }
    }
}

/// True when the gateway answering at `base` is the one configured with that issuer (not some
/// other process that took the port).
pub(crate) fn is_our_gateway(http: &Client, base: &str, issuer: &str) -> bool {
    http.get(format!("{base}/.well-known/oauth-authorization-server"))
        .timeout(Duration::from_secs(2))
        .send()
        .ok()
        .and_then(|r| r.json::<Value>().ok())
        .is_some_and(|v| v["issuer"] == issuer)
}

/// A free loopback port (bound, then released).
///
/// Every test runs in one process, so a process-wide counter hands each caller its own port.
/// The ports lie below the kernel's ephemeral range (32768+ on Linux), where the outgoing
/// connections of other tests and of the CI machine cannot take them between our check and the
/// gateway's bind.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        20_000 + (std::process::id() % 100) as u16 * 20,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 32_000, "ran out of test ports");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The first line `crmgate serve` logs (after its signal handlers are in place).
pub const STARTING: &str = "crmgate starting";

/// A CRM and a gateway in front of it.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub crm: DemoCrm,
    pub port: u16,
    pub base: String,
    pub http: Client,
    child: Option<Child>,
    issuer: String,
    signal_while_starting: Option<i32>,
    /// How many signals `Options::signal_while_starting` sent before the gateway answered.
    pub signals_sent: usize,
}

impl Harness {
    /// Starts a CRM and the gateway binary with `apps` as apps.toml.
    pub fn start(apps: &str) -> Self {
        Self::start_with(apps, Options::default())
    }

    /// Starts a CRM and the gateway with `apps` on the `backend` store.
    pub fn start_on(apps: &str, backend: Backend) -> Self {
        Self::start_with(apps, backend.options())
    }

    /// Starts with options.
    pub fn start_with(apps: &str, opts: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let crm_auth = if opts.upstream_auth == "headers" {
            CrmAuth::Headers
        } else {
            CrmAuth::Basic
        };
        let crm = DemoCrm::start(SocketAddr::from(([127, 0, 0, 1], 0)), users(), crm_auth).unwrap();
        if let Some(users) = &opts.users_toml {
            std::fs::write(dir.path().join("users.toml"), users).unwrap();
        } else if !opts.no_users_file {
            std::fs::write(dir.path().join("users.toml"), users_toml()).unwrap();
        }
        std::fs::write(dir.path().join("apps.toml"), apps).unwrap();
        if let Some(key) = &opts.master_key {
            std::fs::create_dir_all(dir.path().join("data")).unwrap();
            std::fs::write(dir.path().join("data/gateway.key"), key).unwrap();
        }
        let mut builder = Client::builder().timeout(Duration::from_secs(20));
        if let Some((cert, _)) = &opts.tls {
            let cert = reqwest::Certificate::from_pem(cert.as_bytes()).unwrap();
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().unwrap();
        let scheme = if opts.tls.is_some() { "https" } else { "http" };
        let mut h = Self {
            dir,
            crm,
            port: 0,
            base: String::new(),
            http,
            child: None,
            issuer: String::new(),
            signal_while_starting: opts.signal_while_starting,
            signals_sent: 0,
        };
        // A free port can be taken by another process before the gateway binds it: retry.
        for attempt in 0..5 {
            h.port = free_port();
            h.base = format!("{scheme}://127.0.0.1:{}", h.port);
            h.issuer = opts.public_url.clone().unwrap_or_else(|| h.base.clone());
            write_config(h.dir.path(), h.port, h.crm.addr(), &opts);
            match h.try_spawn() {
                Ok(()) => return h,
                Err(log) if attempt < 4 && log.contains("cannot listen") => continue,
                Err(log) => panic!("gateway did not start: {log}"),
            }
        }
        unreachable!()
    }

    /// Path of a file in the config folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn spawn(&mut self) {
        if let Err(log) = self.try_spawn() {
            panic!("gateway did not start: {log}");
        }
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("gateway.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_crmgate"))
            .args(["serve", "--config"])
            .arg(self.path("crmgate.toml"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return Err(format!("exited with {status}: {}", self.log()));
            }
            if is_our_gateway(&self.http, &self.base, &self.issuer) {
                return Ok(());
            }
            let pause = match self.signal_while_starting {
                Some(sig) if self.log().contains(STARTING) => {
                    self.signal(sig);
                    self.signals_sent += 1;
                    5
                }
                _ => 50,
            };
            std::thread::sleep(Duration::from_millis(pause));
        }
        Err(format!("not ready after 30 s: {}", self.log()))
    }

    /// Everything the gateway logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("gateway.log")).unwrap_or_default()
    }

    /// SIGKILLs the gateway process.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops (SIGKILL) and starts the gateway again on the same data dir.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Token endpoint URL.
    pub fn token_url(&self) -> String {
        self.url("/oauth2/v2.0/token.php")
    }

    /// Replaces apps.toml (atomically, as an editor would).
    pub fn write_apps(&self, apps: &str) {
        let tmp = self.path("apps.toml.tmp");
        std::fs::write(&tmp, apps).unwrap();
        std::fs::rename(tmp, self.path("apps.toml")).unwrap();
    }

    /// POSTs a form to the token endpoint with HTTP Basic credentials.
    pub fn token_basic(&self, id: &str, secret: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.token_url())
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .unwrap()
    }

    /// Revokes `token` as client `id` (RFC 7009).
    pub fn revoke(&self, id: &str, secret: &str, token: &str) -> Response {
        self.http
            .post(self.url("/oauth2/v2.0/revoke.php"))
            .basic_auth(id, Some(secret))
            .form(&[("token", token)])
            .send()
            .unwrap()
    }

    /// A client_credentials token (panics unless 200).
    pub fn token(&self, id: &str, secret: &str) -> String {
        let r = self.token_basic(id, secret, &[("grant_type", "client_credentials")]);
        assert_eq!(r.status(), 200, "token request failed");
        let v: Value = r.json().unwrap();
        v["access_token"].as_str().unwrap().to_string()
    }

    /// POSTs a JSON body to a REST path with a Bearer token.
    pub fn call(&self, path: &str, token: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .unwrap()
    }

    /// `SELECT * FROM Invoice;` with `token`.
    pub fn query_invoices(&self, token: &str) -> Response {
        self.call(
            "/restapi/v1/vtews/query",
            token,
            &serde_json::json!({"query": "SELECT * FROM Invoice;"}),
        )
    }

    /// The last request the CRM received.
    pub fn last_received(&self) -> Received {
        self.crm.received().pop().expect("the CRM received nothing")
    }

    /// Polls `f` until it returns true (at most 10 s): for effects of file edits.
    pub fn eventually(&self, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for: {what}\n{}", self.log());
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn write_config(dir: &Path, port: u16, crm: SocketAddr, opts: &Options) {
    let secret = opts
        .signing_secret
        .as_ref()
        .map(|s| format!("signing_secret = \"{s}\"\n"))
        .unwrap_or_default();
    let address = opts
        .upstream_address
        .clone()
        .unwrap_or_else(|| crm.to_string());
    let mut server = opts.server_extra.clone();
    if let Some((cert, key)) = &opts.tls {
        std::fs::write(dir.join("cert.pem"), cert).unwrap();
        std::fs::write(dir.join("key.pem"), key).unwrap();
        server.push_str("tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n");
    }
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let public_url = opts
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://127.0.0.1:{port}"));
    // Every test talks from 127.0.0.1: lift the client-authentication throttle unless the test
    // sets [limits] itself (the throttling tests do).
    let limits = if opts.extra.contains("[limits]") {
        ""
    } else {
        "[limits]\nclient_failures_per_client = 100000\nclient_failures_per_ip = 100000\n"
    };
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{public_url}\"\ndata_dir = \"data\"\nshutdown_grace_seconds = {}\n{server}\n\
         [upstream]\naddress = \"{address}\"\nauth = \"{}\"\nconnect_timeout_seconds = 2\nread_timeout_seconds = {}\n{secret}\n{limits}{}",
        opts.shutdown_grace_seconds, opts.upstream_auth, opts.read_timeout, opts.extra
    );
    std::fs::write(dir.join("crmgate.toml"), toml).unwrap();
}

/// Runs the crmgate binary with `args`; whether it succeeded, and its stdout and stderr.
pub fn crmgate(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crmgate"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs `commands` in one bash (`set -u`), as a reader pastes them; each one's output, in order.
pub fn run_steps(commands: &[&str]) -> Vec<String> {
    let mut script = String::from("set -u\n");
    for (i, c) in commands.iter().enumerate() {
        script.push_str(&format!("echo '=== {i}'\n{c}\necho\n"));
    }
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split("=== ").skip(1).map(str::to_string).collect()
}

/// The JSON body of a response.
pub fn json(r: Response) -> Value {
    r.json().unwrap()
}

impl Harness {
    /// Sends raw bytes over a fresh connection and returns the status code of the answer
    /// (0 if none came within 5 s), for requests an HTTP client library would normalise.
    pub fn raw_status(&self, request: &str) -> u16 {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]);
        head.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }
}
