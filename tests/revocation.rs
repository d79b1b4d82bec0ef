//! Revocation (RFC 7009) and introspection (RFC 7662) over HTTP: a revoked token is refused on
//! the next request and after a restart; another client's token is never revoked or described.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::*;
use serde_json::json;

const A: &str = "vte_c0000000000000000001";
const B: &str = "vte_c0000000000000000002";

fn harness() -> Harness {
    let apps = format!(
        "{}{}{}",
        settings(true, false),
        secret_app(A, "s-a", "rest.all", "aldo"),
        secret_app(B, "s-b", "rest.all.read", "bruna"),
    );
    Harness::start(&apps)
}

fn revoke(
    h: &Harness,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> reqwest::blocking::Response {
    h.http
        .post(h.url("/oauth2/v2.0/revoke.php"))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .unwrap()
}

fn introspect(h: &Harness, id: &str, secret: &str, token: &str) -> serde_json::Value {
    let r = h
        .http
        .post(h.url("/oauth2/v2.0/introspect.php"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().unwrap()
}

#[test]
fn revocation_acts_on_the_next_request_and_survives_a_restart() {
    let mut h = harness();
    let revoked = h.token(A, "s-a");
    let kept = h.token(A, "s-a");
    assert_eq!(h.query_invoices(&revoked).status(), 200, "warm the cache");
    let r = revoke(
        &h,
        A,
        "s-a",
        &[("token", &revoked), ("token_type_hint", "access_token")],
    );
    assert_eq!(r.status(), 200);
    assert_eq!(h.query_invoices(&revoked).status(), 401);
    assert_eq!(h.query_invoices(&kept).status(), 200);
    h.restart();
    assert_eq!(
        h.query_invoices(&revoked).status(),
        401,
        "revocation lost in a restart"
    );
    assert_eq!(
        h.query_invoices(&kept).status(),
        200,
        "issued token lost in a restart"
    );
}

#[test]
fn unknown_or_repeated_revocations_answer_200() {
    let h = harness();
    let t = h.token(A, "s-a");
    assert_eq!(revoke(&h, A, "s-a", &[("token", &t)]).status(), 200);
    assert_eq!(revoke(&h, A, "s-a", &[("token", &t)]).status(), 200);
    assert_eq!(revoke(&h, A, "s-a", &[("token", "nonsense")]).status(), 200);
    let hinted = h.token(A, "s-a");
    let r = revoke(
        &h,
        A,
        "s-a",
        &[("token", &hinted), ("token_type_hint", "refresh_token")],
    );
    assert_eq!(r.status(), 200);
    assert_eq!(
        h.query_invoices(&hinted).status(),
        401,
        "a wrong hint must not stop revocation"
    );
    let r = revoke(&h, A, "s-a", &[("token_type_hint", "access_token")]);
    assert_eq!(
        (r.status().as_u16(), json(r)["error"].clone()),
        (400, json!("invalid_request"))
    );
}

#[test]
fn revocation_needs_client_authentication_and_ownership() {
    let h = harness();
    let t = h.token(A, "s-a");
    let r = h
        .http
        .post(h.url("/oauth2/v2.0/revoke.php"))
        .form(&[("token", t.as_str())])
        .send()
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), json(r)["error"].clone()),
        (401, json!("invalid_client"))
    );
    let r = revoke(&h, A, "wrong", &[("token", &t)]);
    assert_eq!(r.status(), 401);
    let r = revoke(&h, B, "s-b", &[("token", &t)]);
    assert_eq!(
        (r.status().as_u16(), json(r)["error"].clone()),
        (400, json!("unauthorized_client"))
    );
    assert_eq!(
        h.query_invoices(&t).status(),
        200,
        "another client revoked the token"
    );
}

#[test]
fn introspection_describes_only_the_callers_live_tokens() {
    let h = harness();
    let t = h.token(A, "s-a");
    let v = introspect(&h, A, "s-a", &t);
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], A);
    assert_eq!(v["username"], "aldo");
    assert_eq!(v["scope"], "rest.all");
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["exp"].as_u64().unwrap() > v["iat"].as_u64().unwrap());
    assert_eq!(introspect(&h, B, "s-b", &t), json!({"active": false}));
    assert_eq!(
        introspect(&h, A, "s-a", "garbage"),
        json!({"active": false})
    );
    revoke(&h, A, "s-a", &[("token", &t)]);
    assert_eq!(introspect(&h, A, "s-a", &t), json!({"active": false}));
    let r = h
        .http
        .post(h.url("/oauth2/v2.0/introspect.php"))
        .form(&[("token", t.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn tokens_and_secrets_never_appear_in_logs_or_store_files() {
    let mut h = harness();
    let t = h.token(A, "s-a");
    h.query_invoices(&t);
    revoke(&h, A, "s-a", &[("token", "crm_at_unknown")]);
    h.token_basic(A, "wrong-secret", &[("grant_type", "client_credentials")]);
    h.kill();
    let log = h.log();
    assert!(log.contains(A), "the log should name the client");
    for secret in [t.as_str(), "s-a", "wrong-secret", &t[7..]] {
        assert!(!log.contains(secret), "log leaks {secret}");
    }
    let mut files = vec![h.path("data")];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        let hay = String::from_utf8_lossy(&bytes);
        assert!(
            !hay.contains(&t[7..]),
            "{} holds a plaintext token",
            p.display()
        );
    }
}
