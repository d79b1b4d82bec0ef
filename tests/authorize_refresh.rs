//! Refresh tokens of the authorization code flow: rotation, reuse detection, the grace period,
//! scope narrowing, binding to the client and the app, token types, revocation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::{Arc, Barrier};

use common::browser::*;
use common::*;
use reqwest::blocking::Response;
use serde_json::Value;

const ALL: &str = "vte_d4d4d4d4d4d4d4d4d4d4";
const ALL_SECRET: &str = "all-web-secret";
const ALL_CB: &str = "https://all.example/cb";
const WEB2: &str = "vte_c3c3c3c3c3c3c3c3c3c3";
const WEB2_SECRET: &str = "other-web-secret";
const WEB2_CB: &str = "https://other.example/cb";

/// The usual apps (the web app disabled if asked), a `rest.all` offline web app and another
/// offline web app.
fn apps(web_enabled: bool) -> String {
    format!(
        "{}{}enabled = {web_enabled}\n\n{}{}{}",
        settings(true, false),
        web_app(WEB, WEB_SECRET, "rest.all.read", WEB_CB, true),
        native_app(NATIVE, "rest.all", NATIVE_CB),
        web_app(ALL, ALL_SECRET, "rest.all", ALL_CB, true),
        web_app(WEB2, WEB2_SECRET, "rest.all.read", WEB2_CB, true),
    )
}

/// Tokens for `client` authorized by bruna, asking for `scope` if given.
fn authorize(h: &Harness, client: &str, secret: &str, cb: &str, scope: Option<&str>) -> Value {
    let browser = Browser::new(h);
    let mut url = url::Url::parse(&authorize_url(h, client, cb, "st", None)).unwrap();
    if let Some(s) = scope {
        url.query_pairs_mut().append_pair("scope", s);
    }
    let page = browser.get(url.as_str());
    let consent = browser.login(&page, "bruna", "bruna-pw");
    assert_eq!(consent.status, 200, "{}", consent.body);
    let done = browser.decide(&consent, "allow");
    let (code, _) = code_and_state(&done.location, cb);
    let tokens = exchange(h, client, Some(secret), &code, cb, None);
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    tokens
}

/// A refresh request.
fn refresh_raw(
    h: &Harness,
    client: &str,
    secret: &str,
    token: &str,
    scope: Option<&str>,
) -> Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    form.extend(scope.map(|s| ("scope", s)));
    h.http
        .post(h.token_url())
        .basic_auth(client, Some(secret))
        .form(&form)
        .send()
        .unwrap()
}

/// A refresh that must succeed.
fn refresh(h: &Harness, client: &str, secret: &str, token: &str) -> Value {
    let r = refresh_raw(h, client, secret, token, None);
    let status = r.status();
    let v: Value = r.json().unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

/// The answer must be `400` with `error`.
fn assert_error(r: Response, error: &str, what: &str) {
    let status = r.status();
    let v: Value = r.json().unwrap();
    assert_eq!(status, 400, "{what}: {v}");
    assert_eq!(v["error"], error, "{what}: {v}");
    assert!(v.get("access_token").is_none(), "{what}: {v}");
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[test]
fn refresh_rotates_the_refresh_token() {
    let h = Harness::start(&apps(true));
    let t0 = authorize(&h, WEB, WEB_SECRET, WEB_CB, None);
    let t1 = refresh(&h, WEB, WEB_SECRET, s(&t0, "refresh_token"));
    assert_ne!(t1["refresh_token"], t0["refresh_token"]);
    assert_ne!(t1["access_token"], t0["access_token"]);
    assert_eq!(t1["token_type"], "Bearer");
    assert_eq!(t1["scope"], "rest.all.read");
    assert_eq!(h.query_invoices(s(&t1, "access_token")).status(), 200);
    assert_eq!(h.last_received().header_values("x-crm-user"), ["bruna"]);
    let t2 = refresh(&h, WEB, WEB_SECRET, s(&t1, "refresh_token"));
    assert_ne!(t2["refresh_token"], t1["refresh_token"]);
    assert_eq!(h.query_invoices(s(&t2, "access_token")).status(), 200);
}

#[test]
fn reusing_a_rotated_refresh_token_is_invalid_grant_and_kills_the_new_tokens() {
    let h = Harness::start(&apps(true));
    let t0 = authorize(&h, WEB, WEB_SECRET, WEB_CB, None);
    let t1 = refresh(&h, WEB, WEB_SECRET, s(&t0, "refresh_token"));
    let r = refresh_raw(&h, WEB, WEB_SECRET, s(&t0, "refresh_token"), None);
    assert_error(r, "invalid_grant", "reused refresh token");
    assert_eq!(h.query_invoices(s(&t1, "access_token")).status(), 401);
    assert_eq!(h.query_invoices(s(&t0, "access_token")).status(), 401);
    let r = refresh_raw(&h, WEB, WEB_SECRET, s(&t1, "refresh_token"), None);
    assert_error(r, "invalid_grant", "the new refresh token after a reuse");
}

#[test]
fn ten_parallel_refreshes_of_one_token_give_at_most_one_success() {
    let h = Harness::start(&apps(true));
    let t0 = authorize(&h, WEB, WEB_SECRET, WEB_CB, None);
    let token = s(&t0, "refresh_token");
    let barrier = Arc::new(Barrier::new(10));
    let h = &h;
    let results: Vec<(u16, Value)> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                let barrier = barrier.clone();
                sc.spawn(move || {
                    barrier.wait();
                    let r = refresh_raw(h, WEB, WEB_SECRET, token, None);
                    (r.status().as_u16(), r.json::<Value>().unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|(st, _)| *st == 200).count();
    assert!(ok <= 1, "{ok} refreshes succeeded: {results:?}");
    for (status, v) in results.iter().filter(|(st, _)| *st != 200) {
        assert_eq!(*status, 400, "{v}");
        assert_eq!(v["error"], "invalid_grant", "{v}");
    }
}

#[test]
fn a_retry_within_the_grace_period_succeeds_and_the_previous_tokens_stop_working() {
    let opts = Options {
        extra: "[tokens]\nrefresh_grace_seconds = 5\n".into(),
        ..Default::default()
    };
    let h = Harness::start_with(&apps(true), opts);
    let t0 = authorize(&h, WEB, WEB_SECRET, WEB_CB, None);
    let old = s(&t0, "refresh_token");
    let lost = refresh(&h, WEB, WEB_SECRET, old);
    let retried = refresh(&h, WEB, WEB_SECRET, old);
    assert_ne!(retried["refresh_token"], lost["refresh_token"]);
    assert_ne!(retried["access_token"], lost["access_token"]);
    assert_eq!(h.query_invoices(s(&lost, "access_token")).status(), 401);
    let r = refresh_raw(&h, WEB, WEB_SECRET, s(&lost, "refresh_token"), None);
    assert_error(
        r,
        "invalid_grant",
        "the refresh token replaced in the grace period",
    );
    assert_eq!(h.query_invoices(s(&retried, "access_token")).status(), 200);
    let next = refresh(&h, WEB, WEB_SECRET, s(&retried, "refresh_token"));
    assert_eq!(h.query_invoices(s(&next, "access_token")).status(), 200);
}

#[test]
fn ten_parallel_refreshes_within_the_grace_period_leave_one_live_token_set() {
    let opts = Options {
        extra: "[tokens]\nrefresh_grace_seconds = 5\n".into(),
        ..Default::default()
    };
    let h = Harness::start_with(&apps(true), opts);
    let t0 = authorize(&h, WEB, WEB_SECRET, WEB_CB, None);
    let token = s(&t0, "refresh_token");
    let barrier = Arc::new(Barrier::new(10));
    let h = &h;
    let issued: Vec<Value> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                let barrier = barrier.clone();
                sc.spawn(move || {
                    barrier.wait();
                    let r = refresh_raw(h, WEB, WEB_SECRET, token, None);
                    (r.status().as_u16(), r.json::<Value>().unwrap())
                })
            })
            .collect();
        let results: Vec<(u16, Value)> = handles.into_iter().map(|t| t.join().unwrap()).collect();
        results
            .into_iter()
            .filter_map(|(status, v)| {
                assert!(
                    status == 200 || v["error"] == "invalid_grant",
                    "{status}: {v}"
                );
                (status == 200).then_some(v)
            })
            .collect()
    });
    assert!(
        !issued.is_empty(),
        "retries within the grace period succeed"
    );
    let (live, dead): (Vec<&Value>, Vec<&Value>) = issued
        .iter()
        .partition(|t| h.query_invoices(s(t, "access_token")).status() == 200);
    assert_eq!(
        live.len(),
        1,
        "exactly one set of tokens stays alive: {issued:?}"
    );
    for t in dead {
        let r = refresh_raw(h, WEB, WEB_SECRET, s(t, "refresh_token"), None);
        assert_error(r, "invalid_grant", "a replaced refresh token");
    }
    refresh(h, WEB, WEB_SECRET, s(live[0], "refresh_token"));
}

#[test]
fn a_retry_within_the_grace_period_after_the_new_token_was_used_revokes_the_grant() {
    let opts = Options {
        extra: "[tokens]\nrefresh_grace_seconds = 5\n".into(),
        ..Default::default()
    };
    let h = Harness::start_with(&apps(true), opts);
    let t0 = authorize(&h, WEB, WEB_SECRET, WEB_CB, None);
    let t1 = refresh(&h, WEB, WEB_SECRET, s(&t0, "refresh_token"));
    // The client got the answer: it used the new refresh token.
    let t2 = refresh(&h, WEB, WEB_SECRET, s(&t1, "refresh_token"));
    // So the old token coming back is a replay, not a retry.
    let r = refresh_raw(&h, WEB, WEB_SECRET, s(&t0, "refresh_token"), None);
    let status = r.status();
    let v: Value = r.json().unwrap();
    let forked = v["refresh_token"].as_str().map(str::to_string);
    let alive = h.query_invoices(s(&t2, "access_token")).status();
    let r2 = refresh_raw(&h, WEB, WEB_SECRET, s(&t2, "refresh_token"), None);
    let chain2 = r2.status();
    assert_eq!(
        status, 400,
        "old token accepted after its successor was used: {v}; newest access token: {alive}, \
         newest refresh token: {chain2}"
    );
    assert_eq!(v["error"], "invalid_grant", "{v}");
    assert_eq!(
        alive, 401,
        "the newest access token must die with the grant"
    );
    assert_eq!(
        chain2, 400,
        "the newest refresh token must die with the grant"
    );
    assert_eq!(forked, None);
}

#[test]
fn refresh_may_narrow_the_scope_but_not_widen_it() {
    let h = Harness::start(&apps(true));
    let t0 = authorize(&h, ALL, ALL_SECRET, ALL_CB, None);
    assert_eq!(t0["scope"], "rest.all");
    let r = refresh_raw(
        &h,
        ALL,
        ALL_SECRET,
        s(&t0, "refresh_token"),
        Some("rest.all.read"),
    );
    assert_eq!(r.status(), 200);
    let narrow: Value = r.json().unwrap();
    assert_eq!(narrow["scope"], "rest.all.read");
    let access = s(&narrow, "access_token");
    assert_eq!(h.query_invoices(access).status(), 200);
    let create = serde_json::json!({"elementType": "Accounts", "element": {"accountname": "X"}});
    let r = h.call("/restapi/v1/vtews/create", access, &create);
    assert_eq!(r.status(), 403, "the narrowed token must not write");
    // A grant of rest.all.read cannot be widened by a refresh.
    let t1 = authorize(&h, ALL, ALL_SECRET, ALL_CB, Some("rest.all.read"));
    assert_eq!(t1["scope"], "rest.all.read");
    for wider in ["rest.all", "rest.all.write", "rest.all.read rest.all.write"] {
        let r = refresh_raw(&h, ALL, ALL_SECRET, s(&t1, "refresh_token"), Some(wider));
        assert_error(r, "invalid_scope", wider);
    }
    let r = refresh_raw(&h, ALL, ALL_SECRET, s(&t1, "refresh_token"), Some("openid"));
    assert_error(r, "invalid_scope", "unknown scope");
}

#[test]
fn another_clients_refresh_token_is_invalid_grant() {
    let h = Harness::start(&apps(true));
    let t0 = authorize(&h, WEB, WEB_SECRET, WEB_CB, None);
    let r = refresh_raw(&h, WEB2, WEB2_SECRET, s(&t0, "refresh_token"), None);
    assert_error(r, "invalid_grant", "another client's refresh token");
    let r = refresh_raw(&h, ALL, ALL_SECRET, s(&t0, "refresh_token"), None);
    assert_error(r, "invalid_grant", "another client's refresh token");
}

#[test]
fn refresh_after_the_app_is_disabled_is_invalid_grant() {
    let h = Harness::start(&apps(true));
    let t0 = authorize(&h, WEB, WEB_SECRET, WEB_CB, None);
    h.write_apps(&apps(false));
    h.eventually("the disabled app's access token is refused", || {
        h.query_invoices(s(&t0, "access_token")).status() == 401
    });
    let r = refresh_raw(&h, WEB, WEB_SECRET, s(&t0, "refresh_token"), None);
    assert_error(r, "invalid_grant", "refresh of a disabled app");
}

#[test]
fn token_types_are_not_interchangeable() {
    let h = Harness::start(&apps(true));
    let t0 = authorize(&h, WEB, WEB_SECRET, WEB_CB, None);
    let r = refresh_raw(&h, WEB, WEB_SECRET, s(&t0, "access_token"), None);
    assert_error(r, "invalid_grant", "access token as refresh_token");
    let r = h.query_invoices(s(&t0, "refresh_token"));
    assert_eq!(r.status(), 401, "refresh token as Bearer");
    // Neither misuse harmed the real tokens.
    assert_eq!(h.query_invoices(s(&t0, "access_token")).status(), 200);
    refresh(&h, WEB, WEB_SECRET, s(&t0, "refresh_token"));
}

#[test]
fn revoking_a_refresh_token_kills_its_access_tokens() {
    let h = Harness::start(&apps(true));
    let t0 = authorize(&h, WEB, WEB_SECRET, WEB_CB, None);
    let t1 = refresh(&h, WEB, WEB_SECRET, s(&t0, "refresh_token"));
    assert_eq!(h.query_invoices(s(&t0, "access_token")).status(), 200);
    assert_eq!(h.query_invoices(s(&t1, "access_token")).status(), 200);
    let r = h
        .http
        .post(h.url("/oauth2/v2.0/revoke.php"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[
            ("token", s(&t1, "refresh_token")),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(h.query_invoices(s(&t0, "access_token")).status(), 401);
    assert_eq!(h.query_invoices(s(&t1, "access_token")).status(), 401);
    let r = refresh_raw(&h, WEB, WEB_SECRET, s(&t1, "refresh_token"), None);
    assert_error(r, "invalid_grant", "revoked refresh token");
}
