//! The real CRM as the tests reach it: its `crm.env` (URL, users, passwords, access keys, a
//! MariaDB command line), direct calls that bypass the gateway, and gateways in front of it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::common::browser::{self, Page};
use crate::common::wire::{Answer, Wire};
use crate::common::{Harness, Options, secret_app, settings};

pub const SECRET: &str = "real-crm-app-secret";
pub const QUERY: &str = "/restapi/v1/vtews/query";

/// The real CRM of `crm.env`.
pub struct Crm {
    env: HashMap<String, String>,
    pub port: u16,
}

fn env_path() -> String {
    std::env::var("CRMGATE_REAL_CRM_ENV")
        .unwrap_or_else(|_| "/tmp/vtenext-crm/run/crm.env".to_string())
}

impl Crm {
    /// The running CRM; panics with how to start it when there is none.
    pub fn get() -> Self {
        let path = env_path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            panic!("{} ({path} is missing)", super::NEEDS);
        };
        let env: HashMap<String, String> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.trim_matches(|c| c == '\'' || c == '"').to_string(),
                )
            })
            .collect();
        let port: u16 = env
            .get("CRM_PORT")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
            panic!("{} (nothing listens on {addr})", super::NEEDS);
        }
        Self { env, port }
    }

    fn var(&self, name: &str) -> &str {
        self.env.get(name).map_or("", String::as_str)
    }

    /// The access key of `user`.
    pub fn key(&self, user: &str) -> String {
        self.var(&format!("CRM_{}_KEY", user.to_uppercase()))
            .to_string()
    }

    /// The password of `user`.
    pub fn password(&self, user: &str) -> String {
        self.var(&format!("CRM_{}_PASSWORD", user.to_uppercase()))
            .to_string()
    }

    /// base64 of `user:key`, what the gateway injects for `user`.
    pub fn basic(&self, user: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", self.key(user)))
    }

    /// A vtews call straight to the CRM as `user`.
    pub fn direct(&self, user: &str, op: &str, body: &Value) -> Value {
        let r = reqwest::blocking::Client::new()
            .post(format!(
                "http://127.0.0.1:{}/restapi/v1/vtews/{op}",
                self.port
            ))
            .basic_auth(user, Some(self.key(user)))
            .json(body)
            .send()
            .unwrap();
        r.json().unwrap()
    }

    /// Raw bytes straight to the CRM.
    pub fn raw(&self, request: &str) -> Answer {
        Wire::connect(self.port)
            .exchange(request)
            .expect("the CRM answers")
    }

    /// Runs SQL on the CRM's database; the rows, tab-separated.
    pub fn sql(&self, query: &str) -> String {
        let cmd: Vec<&str> = self.var("CRM_MYSQL").split_whitespace().collect();
        let out = std::process::Command::new(cmd[0])
            .args(&cmd[1..])
            .args(["-N", "-e", query])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// users.toml with the CRM's users and their real access keys.
    fn users(&self) -> String {
        ["admin", "aldo", "bruna"]
            .iter()
            .map(|u| {
                format!(
                    "[[users]]\nusername = \"{u}\"\nadmin = {}\ncrm_access_key = \"{}\"\n\n",
                    *u == "admin",
                    self.key(u)
                )
            })
            .collect()
    }

    /// A gateway in front of the CRM (`auth` = "basic", "headers" or "" for the default).
    pub fn gateway(&self, apps: &str, auth: &'static str) -> Harness {
        self.gateway_with_users(apps, auth, &self.users())
    }

    /// The same with another users.toml.
    pub fn gateway_with_users(&self, apps: &str, auth: &'static str, users: &str) -> Harness {
        let opts = Options {
            upstream_address: Some(format!("127.0.0.1:{}", self.port)),
            upstream_auth: if auth.is_empty() { "basic" } else { auth },
            users_toml: Some(users.to_string()),
            read_timeout: 30,
            ..Options::default()
        };
        Harness::start_with(apps, opts)
    }

    /// A gateway whose users backend is the CRM (no users file), serving the web app of
    /// tests/common/browser.rs.
    pub fn upstream_gateway(&self, extra: &str) -> Harness {
        let opts = Options {
            upstream_address: Some(format!("127.0.0.1:{}", self.port)),
            extra: format!("[users]\nbackend = \"upstream\"\n{extra}"),
            no_users_file: true,
            read_timeout: 30,
            ..Options::default()
        };
        Harness::start_with(&browser::web_apps(), opts)
    }
}

/// The client id of the `i`-th app of [`apps_for`].
pub fn app_id(i: usize) -> String {
    format!("vte_real{i:016}")
}

/// A service account per `(user, scope)`, all with [`SECRET`].
pub fn apps_for(apps: &[(&str, &str)]) -> String {
    let mut out = settings(true, false);
    for (i, (user, scope)) in apps.iter().enumerate() {
        out.push_str(&secret_app(&app_id(i), SECRET, scope, user));
    }
    out
}

/// The sorted record ids of a vtews answer.
pub fn ids(v: &Value) -> Vec<String> {
    let rows = v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows: {v}"));
    let mut ids: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The values of `field` in the rows of a vtews answer.
pub fn labels(v: &Value, field: &str) -> Vec<String> {
    v["data"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r[field].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A fresh random suffix for records the tests create.
pub fn nonce() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// Creates an Account through the gateway (vtenext wants `element` as a JSON string).
pub fn create_account(h: &Harness, token: &str, name: &str) -> (u16, Value) {
    let element = json!({ "accountname": name }).to_string();
    let r = h.call(
        "/restapi/v1/vtews/create",
        token,
        &json!({"elementType": "Accounts", "element": element}),
    );
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

/// An HTTP client whose connections come from `ip` (any 127.0.0.0/8 address is local).
pub fn client_from(ip: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Opens the web app's authorize link from `ip` and submits the login form; the status and
/// body of the answer. Keeps every cookie the gateway sets, as a browser would.
pub fn login_from(h: &Harness, ip: &str, user: &str, password: &str) -> (u16, String) {
    let http = client_from(ip);
    let url = browser::authorize_url(h, browser::WEB, browser::WEB_CB, "st", None);
    let r = http.get(url).send().unwrap();
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .collect();
    let page = Page {
        status: r.status().as_u16(),
        location: String::new(),
        body: r.text().unwrap(),
    };
    let form = [
        ("req", page.hidden("req")),
        ("csrf", page.hidden("csrf")),
        ("username", user.to_string()),
        ("password", password.to_string()),
    ];
    let r = http
        .post(h.url("/oauth2/v2.0/auth.php"))
        .header("Cookie", cookies.join("; "))
        .form(&form)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}
