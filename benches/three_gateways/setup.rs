//! Starting what the bench measures: the load bench's fake CRM (this executable as `--role
//! upstream`), three `crmgate` processes on one Redis with one master key, one on sled; and the
//! HTTP calls the bench makes itself (token, proxied query, revocation).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::Res;
use crate::procs::{self, Procs};
use crate::redis_server::TestRedis;

/// The service account every request uses (bound to a non-admin user).
pub const CLIENT_ID: &str = "vte_threegw0000000001";
const CLIENT_SECRET: &str = "three-gateways-secret-0123456789ab";
/// The proxied call, as the load bench sends it.
pub const QUERY_PATH: &str = "/restapi/v1/vtews/query";
const QUERY_BODY: &str = r#"{"query":"SELECT * FROM Invoice;"}"#;
const TOKEN_PATH: &str = "/oauth2/v2.0/token.php";
const REVOKE_PATH: &str = "/oauth2/v2.0/revoke.php";
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A server on loopback: its port and pid.
#[derive(Clone, Copy, Debug)]
pub struct Srv {
    pub port: u16,
    pub pid: u32,
}

/// Everything the bench started besides Redis.
pub struct Cluster {
    /// The fake CRM every gateway proxies to.
    pub upstream: Srv,
    /// One gateway on the embedded store (sled, the default).
    pub sled: Srv,
    /// Three gateways on the shared Redis; `nodes[0]` is node A.
    pub nodes: [Srv; 3],
}

/// True when `tool` is an executable file in a folder of PATH.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// Starts the fake CRM, the three Redis nodes (one after the other: the first records the
/// master key's hash in the store), the sled node; checks each with one proxied call.
pub fn start_all(procs: &mut Procs, dir: &Path, redis: &TestRedis) -> Res<Cluster> {
    let upstream = start_upstream(procs, dir)?;
    let key: [u8; 32] = rand::random();
    let store = format!(
        "[store]\nbackend = \"redis\"\n\n[store.redis]\nurl = \"{}\"\n",
        redis.url()
    );
    let mut nodes = Vec::with_capacity(3);
    for name in ["node-a", "node-b", "node-c"] {
        let node_dir = dir.join(name);
        std::fs::create_dir_all(node_dir.join("data"))?;
        std::fs::write(node_dir.join("data/gateway.key"), key)?;
        nodes.push(start_gateway(procs, &node_dir, upstream.port, &store)?);
    }
    let sled_dir = dir.join("sled");
    std::fs::create_dir_all(&sled_dir)?;
    let sled = start_gateway(procs, &sled_dir, upstream.port, "")?;
    let nodes: [Srv; 3] = nodes.try_into().map_err(|_| "three Redis nodes expected")?;
    let http = client()?;
    let token = fetch_token(&http, nodes[0].port)?;
    for srv in nodes {
        expect_status(query(&http, srv.port, &token)?, 200, "a node-A token", srv)?;
    }
    let own = fetch_token(&http, sled.port)?;
    expect_status(query(&http, sled.port, &own)?, 200, "its own token", sled)?;
    Ok(Cluster {
        upstream,
        sled,
        nodes,
    })
}

fn expect_status(got: u16, want: u16, what: &str, srv: Srv) -> Res<()> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "the query with {what} on :{} answered {got}, not {want}",
            srv.port
        )
        .into())
    }
}

/// The load bench's fake CRM: this executable as `--role upstream`.
fn start_upstream(procs: &mut Procs, dir: &Path) -> Res<Srv> {
    let port = procs::free_port()?;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(["--role", "upstream", "--port", &port.to_string()]);
    let pid = procs.spawn("upstream", &mut cmd, &dir.join("upstream.log"))?;
    procs.wait_http(pid, port, "/", false, START_TIMEOUT)?;
    Ok(Srv { port, pid })
}

/// The crmgate binary cargo built for this bench (`target/release/crmgate`).
fn crmgate_bin() -> Res<PathBuf> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_crmgate"));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{} is missing", bin.display()).into())
    }
}

/// Writes the config files into `dir` and starts `crmgate serve` on a free port; `store` is
/// appended to crmgate.toml (empty: sled).
fn start_gateway(procs: &mut Procs, dir: &Path, upstream: u16, store: &str) -> Res<Srv> {
    let port = procs::free_port()?;
    write_config(dir, port, upstream, store)?;
    let mut cmd = Command::new(crmgate_bin()?);
    cmd.arg("serve")
        .arg("--config")
        .arg(dir.join("crmgate.toml"));
    cmd.env_remove("RUST_LOG");
    let pid = procs.spawn("crmgate", &mut cmd, &dir.join("crmgate.log"))?;
    procs.wait_http(pid, port, "/gateway/healthz", true, START_TIMEOUT)?;
    Ok(Srv { port, pid })
}

/// crmgate.toml (as the load bench's: one thread, headers to the CRM), apps.toml, users.toml.
fn write_config(dir: &Path, port: u16, upstream: u16, store: &str) -> Res<()> {
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
         data_dir = \"data\"\nthreads = 1\nshutdown_grace_seconds = 0\n\n\
         [upstream]\naddress = \"127.0.0.1:{upstream}\"\nauth = \"headers\"\n\n\
         [logging]\nlevel = \"warn\"\naccess_log = false\n\n{store}"
    );
    let apps = format!(
        "[settings]\noauth_enabled = true\nallow_admin_users = false\n\n\
         [[apps]]\nclient_id = \"{CLIENT_ID}\"\nname = \"Three gateways bench\"\n\
         client_type = \"service_account\"\nsecret_type = \"client_secret\"\n\
         client_secret = \"{CLIENT_SECRET}\"\nscope = \"rest.all\"\nuser = \"bench\"\n"
    );
    let hash = crmgate::generate::hash_password(crate::disable::ADMIN_PASSWORD)?;
    let users = format!(
        "[[users]]\nusername = \"bench\"\nname = \"Bench\"\nadmin = false\n\
         groups = [\"sales\"]\n\n[[users]]\nusername = \"{}\"\npassword_hash = \"{hash}\"\nadmin = true\n",
        crate::disable::ADMIN
    );
    for (name, text) in [
        ("crmgate.toml", config.as_str()),
        ("apps.toml", apps.as_str()),
        ("users.toml", users.as_str()),
    ] {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

/// A keep-alive HTTP client for the bench's own requests (not for load).
pub fn client() -> Res<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?)
}

/// One client_credentials token from the gateway on `port`.
pub fn fetch_token(http: &reqwest::blocking::Client, port: u16) -> Res<String> {
    let r = http
        .post(format!("http://127.0.0.1:{port}{TOKEN_PATH}"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()?;
    let status = r.status();
    let v: serde_json::Value = r.json()?;
    let token = v["access_token"]
        .as_str()
        .ok_or_else(|| format!("token endpoint on :{port} answered {status}: {v}"))?;
    Ok(token.to_string())
}

/// The proxied query with `token` on `port`; its status.
pub fn query(http: &reqwest::blocking::Client, port: u16, token: &str) -> Res<u16> {
    let r = http
        .post(format!("http://127.0.0.1:{port}{QUERY_PATH}"))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(QUERY_BODY)
        .send()?;
    let status = r.status().as_u16();
    r.bytes()?;
    Ok(status)
}

/// Revokes `token` on `port` (RFC 7009); the status.
pub fn revoke(http: &reqwest::blocking::Client, port: u16, token: &str) -> Res<u16> {
    let r = http
        .post(format!("http://127.0.0.1:{port}{REVOKE_PATH}"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", token)])
        .send()?;
    let status = r.status().as_u16();
    r.bytes()?;
    Ok(status)
}
