//! Registry propagation through HTTP across three nodes: an admin signed in on node A disables
//! the app through the admin API (`PATCH /gateway/api/apps/{id}`); B and C, whose token caches
//! hold a token of the app, are polled with it until each answers 401, timed from A's 200; then
//! A enables the app again and the next round waits until B and C accept tokens again.

use std::time::{Duration, Instant};

use reqwest::blocking::Client;

use crate::revocation::{ms, poll};
use crate::setup::{self, CLIENT_ID, Cluster};
use crate::{Options, Res};

/// The admin the bench signs in as (written into users.toml by `setup`).
pub const ADMIN: &str = "admin";
/// Its password.
pub const ADMIN_PASSWORD: &str = "bench-admin";
/// Rounds at most, and the time they may take.
const ROUNDS: usize = 100;
const LIMIT: Duration = Duration::from_secs(30);

/// What the disabling loop saw.
#[derive(Default)]
pub struct Disables {
    /// Milliseconds from A's 200 to B's 401, sorted.
    pub b_ms: Vec<f64>,
    /// The same for C.
    pub c_ms: Vec<f64>,
    /// Round trip of the PATCH on A, sorted.
    pub patch_ms: Vec<f64>,
}

/// A signed-in admin on one node.
struct Admin {
    http: Client,
    port: u16,
    cookie: String,
    csrf: String,
}

impl Admin {
    fn login(port: u16) -> Res<Self> {
        let http = setup::client()?;
        let body = serde_json::json!({"username": ADMIN, "password": ADMIN_PASSWORD});
        let r = http
            .post(format!("http://127.0.0.1:{port}/gateway/api/login"))
            .json(&body)
            .send()?;
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .ok_or("admin login: no session cookie")?
            .to_string();
        let v: serde_json::Value = r.json()?;
        let csrf = v["csrf_token"]
            .as_str()
            .ok_or("admin login: no csrf_token")?
            .to_string();
        Ok(Self {
            http,
            port,
            cookie,
            csrf,
        })
    }

    fn set_enabled(&self, enabled: bool) -> Res<u16> {
        let r = self
            .http
            .patch(format!(
                "http://127.0.0.1:{}/gateway/api/apps/{CLIENT_ID}",
                self.port
            ))
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf)
            .json(&serde_json::json!({"enabled": enabled}))
            .send()?;
        let status = r.status().as_u16();
        r.bytes()?;
        Ok(status)
    }
}

/// Runs up to [`ROUNDS`] rounds within [`LIMIT`].
pub fn measure(cluster: &Cluster, _opts: &Options) -> Res<Disables> {
    let [a, b, c] = cluster.nodes.map(|n| n.port);
    let admin = Admin::login(a)?;
    let http = [setup::client()?, setup::client()?];
    let mut out = Disables::default();
    let start = Instant::now();
    for _ in 0..ROUNDS {
        if start.elapsed() > LIMIT {
            break;
        }
        let token = fresh_token(&http[0], a, start)?;
        for (h, port) in http.iter().zip([b, c]) {
            if setup::query(h, port, &token)? != 200 {
                return Err(format!("a fresh token was refused on :{port}").into());
            }
        }
        let sent = Instant::now();
        let status = admin.set_enabled(false)?;
        let acked = Instant::now();
        if status != 200 {
            return Err(format!("disabling on A answered {status}").into());
        }
        out.patch_ms.push(ms(acked - sent));
        let (rb, rc) = std::thread::scope(|s| {
            let tb = s.spawn(|| poll(&http[0], b, &token, acked));
            let tc = s.spawn(|| poll(&http[1], c, &token, acked));
            (tb.join(), tc.join())
        });
        out.b_ms
            .push(rb.map_err(|_| "a polling thread panicked")??.ms);
        out.c_ms
            .push(rc.map_err(|_| "a polling thread panicked")??.ms);
        if admin.set_enabled(true)? != 200 {
            return Err("enabling on A failed".into());
        }
    }
    for v in [&mut out.b_ms, &mut out.c_ms, &mut out.patch_ms] {
        v.sort_by(f64::total_cmp);
    }
    Ok(out)
}

/// A token from `port` once the app is enabled again there (bounded by [`LIMIT`] from `start`).
fn fresh_token(http: &Client, port: u16, start: Instant) -> Res<String> {
    loop {
        match setup::fetch_token(http, port) {
            Ok(t) => return Ok(t),
            Err(e) if start.elapsed() > LIMIT * 2 => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}
