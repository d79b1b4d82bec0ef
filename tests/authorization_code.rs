//! The authorization code flow over real HTTP, the way a browser and an app drive it: authorize
//! link, login form, consent form, redirect with code and state, code exchange, API call as the
//! user, refresh.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::browser::*;
use common::*;
use serde_json::Value;

#[test]
fn a_web_app_is_authorized_by_a_user_and_acts_as_that_user() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let state = "xyz/+ =&state";
    let page = browser.get(&authorize_url(&h, WEB, WEB_CB, state, None));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"username\""), "{}", page.body);
    let consent = browser.login(&page, "bruna", "bruna-pw");
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(
        consent.body.contains("read your CRM data"),
        "{}",
        consent.body
    );
    assert!(consent.body.contains("value=\"allow\""));
    let done = browser.decide(&consent, "allow");
    assert_eq!(done.status, 303);
    let (code, got_state) = code_and_state(&done.location, WEB_CB);
    assert_eq!(got_state, state);
    let tokens = exchange(&h, WEB, Some(WEB_SECRET), &code, WEB_CB, None);
    assert_eq!(tokens["scope"], "rest.all.read");
    let access = tokens["access_token"].as_str().unwrap();
    let ids: Vec<String> = json(h.query_invoices(access))["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["7x3", "7x4"], "the app must see bruna's rows");
    assert_eq!(h.last_received().header_values("x-crm-user"), ["bruna"]);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let r = h
        .http
        .post(h.token_url())
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_ne!(v["refresh_token"], tokens["refresh_token"]);
    assert_eq!(
        h.query_invoices(v["access_token"].as_str().unwrap())
            .status(),
        200
    );
}

#[test]
fn a_native_app_uses_pkce_and_no_secret() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let page = browser.get(&authorize_url(&h, NATIVE, NATIVE_CB, "s1", Some(challenge)));
    let consent = browser.login(&page, "aldo", "aldo-pw");
    let done = browser.decide(&consent, "allow");
    let (code, _) = code_and_state(&done.location, NATIVE_CB);
    let tokens = exchange(&h, NATIVE, None, &code, NATIVE_CB, Some(verifier));
    assert_eq!(tokens["scope"], "rest.all");
    assert!(
        tokens.get("refresh_token").is_none(),
        "no offline access registered"
    );
    assert_eq!(
        h.query_invoices(tokens["access_token"].as_str().unwrap())
            .status(),
        200
    );
    assert_eq!(h.last_received().header_values("x-crm-user"), ["aldo"]);
}
