//! kill -9 under load: client threads issue tokens (client secret and `private_key_jwt` with a
//! fresh `jti` each), revoke tokens they were issued, and rotate the refresh tokens of
//! authorization-code grants, while the gateway is SIGKILLed at a random moment. Each thread
//! records only what was acknowledged with a 200 (an answer lost to the kill makes that change
//! unknown, and the thread leaves it alone). After each restart every acknowledged change must
//! hold: issued tokens valid, revoked tokens refused, the latest refresh token of each grant
//! usable, rotated refresh tokens refused, redeemed codes refused, used assertions refused.
//!
//! Each runs once per embedded backend (`..._sled`, `..._redb`). `crash_kill_short_*` run in CI
//! (5 kills each). The long runs (100 kills each, a few minutes):
//! `cargo test --release --test gateway crash_kill -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::jwt::Key;
use common::*;
use rand::Rng;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::crash_durable::{
    SA, SA_SECRET, apps, assertion, assertion_token, basic, bearer_status, client, exchange_fields,
    form, refresh_fields, try_authorize, web_token,
};

/// Operations per thread and iteration, at most.
const MAX_OPS: usize = 2_000;
/// Load per iteration, at most (the kill comes earlier).
const MAX_LOAD: Duration = Duration::from_secs(5);

/// What the gateway acknowledged (and what a check must find).
#[derive(Default)]
struct Ledger {
    /// Client-credentials access tokens: valid.
    issued: Vec<String>,
    /// Access tokens of authorization-code grants: valid until the reuse checks.
    grant_access: Vec<String>,
    /// Revoked access tokens: refused.
    revoked: Vec<String>,
    /// The newest refresh token of a grant, not presented since: usable.
    live_refresh: Vec<String>,
    /// Refresh tokens rotated away: refused.
    rotated: Vec<String>,
    /// Redeemed codes: refused.
    codes: Vec<String>,
    /// Assertions whose jti was used: refused.
    assertions: Vec<String>,
    /// Requests whose answer the kill took (their effect is unknown).
    unknown: usize,
}

impl Ledger {
    fn merge(&mut self, o: Ledger) {
        self.issued.extend(o.issued);
        self.grant_access.extend(o.grant_access);
        self.revoked.extend(o.revoked);
        self.live_refresh.extend(o.live_refresh);
        self.rotated.extend(o.rotated);
        self.codes.extend(o.codes);
        self.assertions.extend(o.assertions);
        self.unknown += o.unknown;
    }
}

/// What a worker needs: its own client, the gateway's address, the stop flag.
struct Ctx<'a> {
    http: Client,
    base: String,
    stop: &'a AtomicBool,
    deadline: Instant,
}

impl Ctx<'_> {
    fn running(&self, ops: usize) -> bool {
        !self.stop.load(Ordering::SeqCst) && Instant::now() < self.deadline && ops < MAX_OPS
    }

    /// A client_credentials token of the service account (None: no 200).
    fn issue(&self) -> Option<String> {
        let r = self
            .http
            .post(format!("{}/oauth2/v2.0/token.php", self.base))
            .header("Authorization", basic(SA, SA_SECRET))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form(&[("grant_type", "client_credentials")]))
            .send()
            .ok()?;
        if r.status() != 200 {
            return None;
        }
        let v: Value = r.json().ok()?;
        v["access_token"].as_str().map(str::to_string)
    }

    /// True when the revocation was acknowledged with a 200.
    fn revoke(&self, token: &str) -> bool {
        self.http
            .post(format!("{}/oauth2/v2.0/revoke.php", self.base))
            .header("Authorization", basic(SA, SA_SECRET))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form(&[("token", token)]))
            .send()
            .is_ok_and(|r| r.status() == 200)
    }
}

fn issuer(cx: &Ctx<'_>) -> Ledger {
    let mut l = Ledger::default();
    let mut ops = 0;
    while cx.running(ops) {
        ops += 1;
        match cx.issue() {
            Some(t) => l.issued.push(t),
            None => l.unknown += 1,
        }
    }
    l
}

fn revoker(cx: &Ctx<'_>) -> Ledger {
    let mut l = Ledger::default();
    let mut ops = 0;
    while cx.running(ops) {
        ops += 1;
        let Some(t) = cx.issue() else {
            l.unknown += 1;
            continue;
        };
        if !cx.running(ops) {
            l.issued.push(t);
        } else if cx.revoke(&t) {
            l.revoked.push(t);
        } else {
            l.unknown += 1;
        }
    }
    l
}

fn jwt_user(cx: &Ctx<'_>, key: &Key) -> Ledger {
    let mut l = Ledger::default();
    let mut ops = 0;
    while cx.running(ops) {
        ops += 1;
        let jwt = assertion(key, &cx.base);
        match assertion_token(&cx.http, &cx.base, &jwt) {
            (200, v) => {
                l.issued
                    .push(v["access_token"].as_str().unwrap().to_string());
                l.assertions.push(jwt);
            }
            _ => l.unknown += 1,
        }
    }
    l
}

/// One grant: authorize, redeem, then rotate until stopped. An answer lost to the kill ends
/// the grant (presenting a token that may have been rotated would revoke it).
fn refresher(cx: &Ctx<'_>) -> Ledger {
    let mut l = Ledger::default();
    let Some(code) = try_authorize(&cx.http, &cx.base, "bruna") else {
        l.unknown += 1;
        return l;
    };
    let (status, t) = web_token(&cx.http, &cx.base, &exchange_fields(&code));
    if status != 200 {
        l.unknown += 1;
        return l;
    }
    l.codes.push(code);
    l.grant_access
        .push(t["access_token"].as_str().unwrap().into());
    let mut current = t["refresh_token"].as_str().unwrap().to_string();
    let mut ops = 0;
    while cx.running(ops) {
        ops += 1;
        let (status, t) = web_token(&cx.http, &cx.base, &refresh_fields(&current));
        if status != 200 {
            l.unknown += 1;
            return l;
        }
        l.grant_access
            .push(t["access_token"].as_str().unwrap().into());
        l.rotated.push(std::mem::replace(
            &mut current,
            t["refresh_token"].as_str().unwrap().into(),
        ));
    }
    l.live_refresh.push(current);
    l
}

/// Every acknowledged change must hold; the checks that revoke grants (reused refresh tokens,
/// spent codes) come after those that need the grants alive.
fn check(http: &Client, base: &str, l: &Ledger, when: &str) {
    for t in l.issued.iter().chain(&l.grant_access) {
        assert_eq!(
            bearer_status(http, base, t),
            200,
            "{when}: acknowledged token lost"
        );
    }
    for t in &l.revoked {
        assert_eq!(
            bearer_status(http, base, t),
            401,
            "{when}: revoked token valid again"
        );
    }
    for t in &l.live_refresh {
        let (status, v) = web_token(http, base, &refresh_fields(t));
        assert_eq!(status, 200, "{when}: latest refresh token lost: {v}");
    }
    for jwt in &l.assertions {
        let (status, v) = assertion_token(http, base, jwt);
        assert_eq!(status, 401, "{when}: used jti accepted again: {v}");
    }
    let refused = |status: u16, v: &Value, what: &str| {
        assert_eq!(
            (status, &v["error"]),
            (400, &json!("invalid_grant")),
            "{when}: {what} accepted again: {v}"
        );
    };
    for t in &l.rotated {
        let (status, v) = web_token(http, base, &refresh_fields(t));
        refused(status, &v, "rotated refresh token");
    }
    for c in &l.codes {
        let (status, v) = web_token(http, base, &exchange_fields(c));
        refused(status, &v, "redeemed code");
    }
}

/// Runs the load on `h`, SIGKILLs it after `delay`, and returns what was acknowledged.
fn load_and_kill(h: &mut Harness, key: &Key, delay: Duration) -> Ledger {
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + MAX_LOAD;
    let cx = |_: usize| Ctx {
        http: client(),
        base: h.base.clone(),
        stop: &stop,
        deadline,
    };
    let contexts: Vec<Ctx<'_>> = (0..5).map(cx).collect();
    std::thread::scope(|s| {
        let [a, b, c, d, e] = &contexts[..] else {
            unreachable!()
        };
        let workers = vec![
            s.spawn(|| issuer(a)),
            s.spawn(|| revoker(b)),
            s.spawn(|| refresher(c)),
            s.spawn(|| refresher(d)),
            s.spawn(|| jwt_user(e, key)),
        ];
        std::thread::sleep(delay);
        h.kill();
        stop.store(true, Ordering::SeqCst);
        let mut ledger = Ledger::default();
        for w in workers {
            ledger.merge(w.join().unwrap());
        }
        ledger
    })
}

fn kill_loop(backend: Backend, iterations: usize, budget: Duration) {
    let key = Key::es256();
    let mut h = Harness::start_on(&apps(&key), backend);
    let http = client();
    let started = Instant::now();
    let mut total = Ledger::default();
    let mut rng = rand::thread_rng();
    for i in 0..iterations {
        assert!(started.elapsed() < budget, "{i} iterations took {budget:?}");
        let delay = Duration::from_millis(rng.gen_range(150..900));
        let ledger = load_and_kill(&mut h, &key, delay);
        h.restart();
        check(
            &http,
            &h.base,
            &ledger,
            &format!("kill {i} after {delay:?}"),
        );
        total.merge(ledger);
    }
    // Earlier kills' client-credentials tokens and revocations still hold after later ones.
    let earlier = Ledger {
        issued: total.issued.iter().rev().take(300).cloned().collect(),
        revoked: total.revoked.iter().rev().take(300).cloned().collect(),
        ..Ledger::default()
    };
    check(&http, &h.base, &earlier, "after every kill");
    eprintln!(
        "crash_kill ({}): {iterations} kills in {:?}: {} tokens, {} revocations, {} rotations, {} codes, \
         {} assertions acknowledged; {} answers lost to kills",
        backend.name(),
        started.elapsed(),
        total.issued.len() + total.grant_access.len(),
        total.revoked.len(),
        total.rotated.len(),
        total.codes.len(),
        total.assertions.len(),
        total.unknown
    );
    for (what, n) in [
        ("issued", total.issued.len()),
        ("revoked", total.revoked.len()),
        ("rotated", total.rotated.len()),
        ("codes", total.codes.len()),
        ("assertions", total.assertions.len()),
    ] {
        assert!(n > 0, "no {what} acknowledged in {iterations} iterations");
    }
}

#[test]
fn crash_kill_short_sled() {
    kill_loop(Backend::Sled, 5, Duration::from_secs(120));
}

#[test]
fn crash_kill_short_redb() {
    kill_loop(Backend::Redb, 5, Duration::from_secs(120));
}

#[test]
#[ignore = "long: cargo test --release --test gateway crash_kill -- --ignored"]
fn crash_kill_long_sled() {
    kill_loop(Backend::Sled, 100, Duration::from_secs(600));
}

#[test]
#[ignore = "long: cargo test --release --test gateway crash_kill -- --ignored"]
fn crash_kill_long_redb() {
    kill_loop(Backend::Redb, 100, Duration::from_secs(600));
}
