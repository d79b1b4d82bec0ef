//! Several gateways on one Redis (`[store] backend = "redis"`): each a real `crmgate` process
//! with its own data dir and the same master key, all on one throwaway `redis-server`. A token
//! from one works on the others, a revocation on one is refused on the others, a node with
//! another master key is refused at start, and a paused Redis gives 503s (never a false 200)
//! until it answers again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use crate::common;

use common::browser::{self, Browser, WEB, WEB_CB, WEB_SECRET};
use common::redis_server::TestRedis;
use common::*;

pub(crate) const APP: &str = "vte_c0000000000000000001";
pub(crate) const KEY: [u8; 32] = [7; 32];

pub(crate) fn apps() -> String {
    format!(
        "{}{}",
        settings(true, false),
        secret_app(APP, "s-a", "rest.all", "aldo")
    )
}

pub(crate) fn redis_section(redis: &TestRedis, stale_ms: u64) -> String {
    format!(
        "[store]\nbackend = \"redis\"\n[store.redis]\nurl = \"{}\"\nstale_ms = {stale_ms}\ntimeout_ms = 500\n",
        redis.url()
    )
}

fn node(redis: &TestRedis, key: [u8; 32], stale_ms: u64) -> Harness {
    Harness::start_with(
        &apps(),
        Options {
            extra: redis_section(redis, stale_ms),
            master_key: Some(key),
            ..Options::default()
        },
    )
}

/// Polls `f` every 5 ms until it holds; how long that took.
pub(crate) fn within(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{what}: not within {limit:?}");
}

#[test]
fn a_token_from_one_gateway_works_on_the_others_and_a_revocation_reaches_them_all() {
    let redis = TestRedis::start();
    let nodes: Vec<Harness> = (0..3).map(|_| node(&redis, KEY, 2000)).collect();
    let token = nodes[0].token(APP, "s-a");
    for (i, n) in nodes.iter().enumerate() {
        let r = n.query_invoices(&token);
        assert_eq!(r.status(), 200, "node {i}: {}", r.text().unwrap());
    }
    // Every node has it cached now; revoke on the second.
    assert_eq!(nodes[1].revoke(APP, "s-a", &token).status(), 200);
    for (i, n) in nodes.iter().enumerate() {
        let took = within("revocation seen", Duration::from_secs(5), || {
            n.query_invoices(&token).status() == 401
        });
        eprintln!("node {i} refused the revoked token after {took:?}");
    }
    // A token issued on the third node after all that works on the first.
    let fresh = nodes[2].token(APP, "s-a");
    assert_eq!(nodes[0].query_invoices(&fresh).status(), 200);
}

#[test]
fn a_gateway_with_another_master_key_is_refused_at_start() {
    let redis = TestRedis::start();
    let first = node(&redis, KEY, 2000);
    let token = first.token(APP, "s-a");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/gateway.key"), [8u8; 32]).unwrap();
    std::fs::write(dir.path().join("apps.toml"), apps()).unwrap();
    std::fs::write(dir.path().join("users.toml"), users_toml()).unwrap();
    let port = free_port();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\ndata_dir = \"data\"\n\
         [upstream]\naddress = \"{}\"\n{}",
        first.crm.addr(),
        redis_section(&redis, 2000)
    );
    std::fs::write(dir.path().join("crmgate.toml"), config).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crmgate"))
        .args(["serve", "--config"])
        .arg(dir.path().join("crmgate.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("gateway.key differs from the one the shared store was written with"),
        "{stderr}"
    );
    assert_eq!(first.query_invoices(&token).status(), 200);
}

#[test]
fn a_paused_redis_gives_503s_after_the_staleness_budget_and_service_resumes_with_it() {
    let redis = TestRedis::start();
    let a = node(&redis, KEY, 600);
    let token = a.token(APP, "s-a");
    assert_eq!(a.query_invoices(&token).status(), 200, "cached now");
    redis.signal("STOP");
    let mut statuses = Vec::new();
    let took = within("503 for the cached token", Duration::from_secs(10), || {
        let r = a.query_invoices(&token);
        let status = r.status().as_u16();
        statuses.push(status);
        if status == 503 {
            assert_eq!(r.headers()["retry-after"], "1");
            let body: serde_json::Value = r.json().unwrap();
            assert_eq!(body["error"], "temporarily_unavailable");
        }
        status == 503
    });
    eprintln!("cached token refused {took:?} after Redis stopped answering");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    // Issuance cannot be durable: 503 with Retry-After, never a token.
    let r = a.token_basic(APP, "s-a", &[("grant_type", "client_credentials")]);
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    // Not ready (the store takes no write), but alive: a probe must not restart the node.
    let ready = a.http.get(a.url("/gateway/readyz")).send().unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().unwrap();
    assert_eq!(body["status"], "store_unavailable", "{body}");
    assert!(body["reason"].as_str().unwrap().contains("redis"), "{body}");
    let live = a.http.get(a.url("/gateway/healthz")).send().unwrap();
    assert_eq!(live.status(), 200);
    redis.signal("CONT");
    within("service resumes", Duration::from_secs(10), || {
        a.query_invoices(&token).status() == 200
    });
    let ready = a.http.get(a.url("/gateway/readyz")).send().unwrap();
    assert_eq!(ready.status(), 200);
    let again = a.token(APP, "s-a");
    assert_eq!(a.query_invoices(&again).status(), 200);
}

/// Three nodes behind one public URL, as behind a load balancer.
pub(crate) fn cluster(redis: &TestRedis, apps: &str, limits: &str) -> Vec<Harness> {
    (0..3)
        .map(|_| {
            Harness::start_with(
                apps,
                Options {
                    extra: format!("{limits}{}", redis_section(redis, 2000)),
                    master_key: Some(KEY),
                    public_url: Some("https://gateway.example".into()),
                    ..Options::default()
                },
            )
        })
        .collect()
}

#[test]
fn a_user_signs_in_on_one_gateway_consents_on_another_and_a_third_redeems_the_code() {
    let redis = TestRedis::start();
    let nodes = cluster(&redis, &browser::web_apps(), "");
    let mut b = Browser::new(&nodes[0]);
    let form = b.get(&browser::authorize_url(
        &nodes[0], WEB, WEB_CB, "st-1", None,
    ));
    assert_eq!(form.status, 200, "{}", form.body);
    b.switch(&nodes[1]);
    let consent = b.login(&form, "aldo", "aldo-pw");
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(
        consent.body.contains("name=\"decision\""),
        "{}",
        consent.body
    );
    b.switch(&nodes[2]);
    let done = b.decide(&consent, "allow");
    assert_eq!(done.status, 303, "{}", done.body);
    let (code, state) = browser::code_and_state(&done.location, WEB_CB);
    assert_eq!(state, "st-1");
    let tokens = browser::exchange(&nodes[0], WEB, Some(WEB_SECRET), &code, WEB_CB, None);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(nodes[1].query_invoices(access).status(), 200);
    // The code is spent everywhere.
    let again = browser::exchange_raw(&nodes[1], WEB, Some(WEB_SECRET), &code, Some(WEB_CB), None);
    assert_eq!(again.status(), 400);
}

#[test]
fn failed_client_authentications_on_every_gateway_count_towards_one_throttle() {
    let redis = TestRedis::start();
    let limits = "[limits]\nclient_failures_per_client = 4\nclient_failures_per_ip = 1000\n";
    let nodes = cluster(&redis, &apps(), limits);
    let statuses: Vec<u16> = (0..6)
        .map(|i| {
            let n = &nodes[i % 3];
            n.token_basic(APP, "wrong", &[("grant_type", "client_credentials")])
                .status()
                .as_u16()
        })
        .collect();
    assert_eq!(statuses, [401, 401, 401, 429, 429, 429]);
    // The right secret still gets a token, on any node.
    for n in &nodes {
        assert!(!n.token(APP, "s-a").is_empty());
    }
}

fn check(dir: &std::path::Path) -> (bool, String) {
    let config = dir.join("crmgate.toml");
    common::crmgate(&["check".as_ref(), "--config".as_ref(), config.as_os_str()])
}

#[test]
fn check_says_whether_the_redis_server_makes_every_write_durable() {
    let redis = TestRedis::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("apps.toml"), apps()).unwrap();
    std::fs::write(dir.path().join("users.toml"), users_toml()).unwrap();
    let write = |extra: &str| {
        let config = format!(
            "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"https://gateway.example\"\n\
             [upstream]\naddress = \"127.0.0.1:2\"\n{}{extra}",
            redis_section(&redis, 2000)
        );
        std::fs::write(dir.path().join("crmgate.toml"), config).unwrap();
    };
    write("");
    let (ok, text) = check(dir.path());
    assert!(ok, "{text}");
    assert!(
        text.contains("appendfsync always: every acknowledged write is on its disk"),
        "{text}"
    );
    let lax = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "CONFIG",
            "SET",
            "appendfsync",
            "everysec",
        ])
        .output()
        .unwrap();
    assert!(lax.status.success());
    let (ok, text) = check(dir.path());
    assert!(!ok, "{text}");
    assert!(
        text.contains("appendfsync everysec") && text.contains("require_fsync"),
        "{text}"
    );
    write("require_fsync = false\n");
    let (ok, text) = check(dir.path());
    assert!(ok, "{text}");
    assert!(
        text.contains("warning: store: redis answers; appendonly yes, appendfsync everysec"),
        "{text}"
    );
}

/// A refresh token of a fresh grant, through a browser sign-in on `node`.
fn refresh_token(node: &Harness) -> String {
    let b = Browser::new(node);
    let form = b.get(&browser::authorize_url(node, WEB, WEB_CB, "st", None));
    let consent = b.login(&form, "bruna", "bruna-pw");
    let done = b.decide(&consent, "allow");
    let (code, _) = browser::code_and_state(&done.location, WEB_CB);
    let tokens = browser::exchange(node, WEB, Some(WEB_SECRET), &code, WEB_CB, None);
    tokens["refresh_token"].as_str().unwrap().to_string()
}

fn refresh(node: &Harness, token: &str) -> (u16, serde_json::Value) {
    let r = node.token_basic(
        WEB,
        WEB_SECRET,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    );
    (r.status().as_u16(), r.json().unwrap())
}

#[test]
fn a_refresh_token_raced_on_two_gateways_has_one_winner_every_time() {
    let redis = TestRedis::start();
    let nodes = cluster(&redis, &browser::web_apps(), "");
    for round in 0..100 {
        let token = refresh_token(&nodes[round % 3]);
        let barrier = std::sync::Barrier::new(2);
        let (a, b) = std::thread::scope(|s| {
            let (barrier, token) = (&barrier, &token);
            let race = move |n: &Harness| {
                barrier.wait();
                refresh(n, token)
            };
            let (first, second) = (&nodes[0], &nodes[1]);
            let a = s.spawn(move || race(first));
            let b = s.spawn(move || race(second));
            (a.join().unwrap(), b.join().unwrap())
        });
        let winners: Vec<&(u16, serde_json::Value)> =
            [&a, &b].into_iter().filter(|(s, _)| *s == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {a:?} {b:?}");
        let loser = if a.0 == 200 { &b } else { &a };
        assert_eq!(loser.0, 400, "round {round}: {loser:?}");
        assert_eq!(loser.1["error"], "invalid_grant");
        // Presenting the rotated token once more is reuse: the grant ends, the winner's new
        // refresh token with it.
        let (status, _) = refresh(&nodes[2], &token);
        assert_eq!(status, 400);
        let next = winners[0].1["refresh_token"].as_str().unwrap();
        let (status, body) = refresh(&nodes[2], next);
        assert_eq!(
            status, 400,
            "round {round}: the grant outlived a reuse: {body}"
        );
    }
}

#[test]
fn a_redis_killed_under_load_loses_no_token_it_acknowledged() {
    let mut redis = TestRedis::start();
    let a = node(&redis, KEY, 2000);
    let (tokens, statuses) = std::thread::scope(|s| {
        let issuing = s.spawn(|| {
            let (mut tokens, mut statuses) = (Vec::new(), Vec::new());
            let start = Instant::now();
            while tokens.len() < 300 && start.elapsed() < Duration::from_secs(8) {
                let r = a.token_basic(APP, "s-a", &[("grant_type", "client_credentials")]);
                statuses.push(r.status().as_u16());
                if r.status() == 200 {
                    let v: serde_json::Value = r.json().unwrap();
                    tokens.push(v["access_token"].as_str().unwrap().to_string());
                }
            }
            (tokens, statuses)
        });
        std::thread::sleep(Duration::from_millis(300));
        redis.crash_and_restart();
        issuing.join().unwrap()
    });
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    let refused = statuses.iter().filter(|s| **s == 503).count();
    eprintln!(
        "{} tokens acknowledged, {refused} requests refused around the crash",
        tokens.len()
    );
    assert!(
        tokens.len() >= 10,
        "too few tokens issued to judge: {statuses:?}"
    );
    // A node started afterwards has nothing cached: every answer comes from what Redis kept.
    let b = node(&redis, KEY, 2000);
    for (i, t) in tokens.iter().enumerate() {
        assert_eq!(
            b.query_invoices(t).status(),
            200,
            "acknowledged token {i} was lost"
        );
    }
}

#[test]
fn a_node_cut_off_while_a_revocation_happens_catches_up_when_it_reconnects() {
    let redis = TestRedis::start();
    let (a, b) = (node(&redis, KEY, 5000), node(&redis, KEY, 5000));
    let token = a.token(APP, "s-a");
    assert_eq!(b.query_invoices(&token).status(), 200, "cached on b now");
    // b stands still, and Redis drops every client connection, b's among them.
    b.signal(libc::SIGSTOP);
    let killed = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "CLIENT",
            "KILL",
            "TYPE",
            "normal",
        ])
        .output()
        .unwrap();
    assert!(killed.status.success());
    // a's own connection was dropped too: the request that finds out answers 503 with
    // Retry-After, as a client would, it tries again.
    within("a revokes", Duration::from_secs(5), || {
        let status = a.revoke(APP, "s-a", &token).status();
        assert!(status == 200 || status == 503, "{status}");
        status == 200
    });
    b.signal(libc::SIGCONT);
    let took = within(
        "b refuses the revoked token",
        Duration::from_secs(5),
        || b.query_invoices(&token).status() == 401,
    );
    eprintln!("b refused the token revoked while it was cut off {took:?} after it resumed");
}

#[test]
fn an_admin_session_from_one_gateway_works_on_another_and_both_write_one_audit_log() {
    let redis = TestRedis::start();
    let nodes = cluster(&redis, &apps(), "");
    let on_a = common::api::Api::login(&nodes[0], "admin");
    let body = serde_json::json!({"users_can_manage_secrets": true});
    on_a.call("PUT", "settings", &body).ok(200, "settings on a");
    let on_b = common::api::Api {
        h: &nodes[1],
        cookie: on_a.cookie.clone(),
        csrf: on_a.csrf.clone(),
    };
    on_b.get("session").ok(200, "a's session on b");
    let route = format!("apps/{APP}/revoke");
    on_b.call("POST", &route, &serde_json::Value::Null)
        .ok(200, "revoke on b");
    let out = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "XRANGE",
            "crmgate:audit",
            "-",
            "+",
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains(r#""action":"settings""#), "{log}");
    assert!(log.contains(r#""action":"revoke""#), "{log}");
    assert!(!log.contains("s-a"), "no secret in the audit log: {log}");
    for n in &nodes {
        assert!(
            !n.path("data/audit.log").exists(),
            "the shared log is the only one"
        );
    }
}
