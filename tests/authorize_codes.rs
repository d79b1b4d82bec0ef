//! Authorization codes at the token endpoint: single use (a replay revokes what the code gave),
//! bound to the client and the redirect URI, safe under parallel redemption, short-lived.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::{Arc, Barrier};

use common::browser::*;
use common::*;
use serde_json::Value;

const WEB2: &str = "vte_c3c3c3c3c3c3c3c3c3c3";
const WEB2_SECRET: &str = "other-web-secret";
const WEB2_CB: &str = "https://other.example/cb";

/// The usual apps plus a second web app.
fn apps() -> String {
    format!(
        "{}{}",
        web_apps(),
        web_app(WEB2, WEB2_SECRET, "rest.all.read", WEB2_CB, true)
    )
}

/// A code for `client`, authorized by aldo in `b`; `redirect` names the redirect URI or not.
fn code(h: &Harness, b: &Browser, client: &str, cb: &str, redirect: bool) -> String {
    let url = if redirect {
        authorize_url(h, client, cb, "st", None)
    } else {
        let mut url = url::Url::parse(&h.url("/oauth2/v2.0/auth.php")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client)
            .append_pair("state", "st");
        url.to_string()
    };
    let page = b.get(&url);
    let consent = if page.body.contains("name=\"username\"") {
        b.login(&page, "aldo", "aldo-pw")
    } else {
        page
    };
    assert_eq!(consent.status, 200, "{}", consent.body);
    let done = b.decide(&consent, "allow");
    assert_eq!(done.status, 303, "{}", done.body);
    code_and_state(&done.location, cb).0
}

/// The answer must be `400 invalid_grant`.
fn assert_invalid_grant(r: reqwest::blocking::Response, what: &str) {
    let status = r.status();
    let v: Value = r.json().unwrap();
    assert_eq!(status, 400, "{what}: {v}");
    assert_eq!(v["error"], "invalid_grant", "{what}: {v}");
    assert!(v.get("access_token").is_none(), "{what}: {v}");
}

#[test]
fn a_code_redeemed_twice_is_refused_and_the_first_access_token_dies() {
    let h = Harness::start(&apps());
    let browser = Browser::new(&h);
    let c = code(&h, &browser, WEB, WEB_CB, true);
    let tokens = exchange(&h, WEB, Some(WEB_SECRET), &c, WEB_CB, None);
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(h.query_invoices(access).status(), 200);
    let r = exchange_raw(&h, WEB, Some(WEB_SECRET), &c, Some(WEB_CB), None);
    assert_invalid_grant(r, "second redemption");
    assert_eq!(
        h.query_invoices(access).status(),
        401,
        "the replay must revoke"
    );
    let r = h
        .http
        .post(h.token_url())
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .unwrap();
    assert_invalid_grant(r, "refresh token of a replayed code");
    // A third try is refused the same way.
    let r = exchange_raw(&h, WEB, Some(WEB_SECRET), &c, Some(WEB_CB), None);
    assert_invalid_grant(r, "third redemption");
}

#[test]
fn another_clients_code_is_invalid_grant() {
    let h = Harness::start(&apps());
    let browser = Browser::new(&h);
    let c = code(&h, &browser, WEB, WEB_CB, true);
    let r = exchange_raw(&h, WEB2, Some(WEB2_SECRET), &c, Some(WEB_CB), None);
    assert_invalid_grant(r, "another web app, the code's redirect URI");
    let r = exchange_raw(&h, WEB2, Some(WEB2_SECRET), &c, Some(WEB2_CB), None);
    assert_invalid_grant(r, "another web app, its own redirect URI");
    let r = exchange_raw(&h, NATIVE, None, &c, Some(WEB_CB), None);
    assert_invalid_grant(r, "a public client");
    // A native app's code is no good to a web app either.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let page = browser.get(&authorize_url(&h, NATIVE, NATIVE_CB, "st", Some(challenge)));
    let done = browser.decide(&page, "allow");
    let (native_code, _) = code_and_state(&done.location, NATIVE_CB);
    let r = exchange_raw(
        &h,
        WEB,
        Some(WEB_SECRET),
        &native_code,
        Some(NATIVE_CB),
        Some(verifier),
    );
    assert_invalid_grant(r, "a native app's code at a web app");
}

#[test]
fn a_redirect_uri_at_the_token_endpoint_must_repeat_the_one_given_at_authorize() {
    let h = Harness::start(&apps());
    let browser = Browser::new(&h);
    let c = code(&h, &browser, WEB, WEB_CB, true);
    for other in [
        "https://portal.example/cb/",
        "https://portal.example/other",
        WEB2_CB,
    ] {
        let r = exchange_raw(&h, WEB, Some(WEB_SECRET), &c, Some(other), None);
        assert_invalid_grant(r, other);
    }
    let c = code(&h, &browser, WEB, WEB_CB, true);
    let r = exchange_raw(&h, WEB, Some(WEB_SECRET), &c, None, None);
    assert_invalid_grant(r, "missing although given at authorize");
    // Repeated exactly, it works.
    let c = code(&h, &browser, WEB, WEB_CB, true);
    exchange(&h, WEB, Some(WEB_SECRET), &c, WEB_CB, None);
    // Not given at authorize: an unregistered one at the token endpoint is still refused.
    let c = code(&h, &browser, WEB, WEB_CB, false);
    let r = exchange_raw(&h, WEB, Some(WEB_SECRET), &c, Some(WEB2_CB), None);
    assert_invalid_grant(r, "unregistered, not given at authorize");
}

#[test]
fn twenty_parallel_redemptions_of_one_code_give_exactly_one_token() {
    let h = Harness::start(&apps());
    let browser = Browser::new(&h);
    let c = code(&h, &browser, WEB, WEB_CB, true);
    let barrier = Barrier::new(20);
    let (h, c, barrier) = (&h, c.as_str(), Arc::new(barrier));
    let statuses: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    barrier.wait();
                    let r = exchange_raw(h, WEB, Some(WEB_SECRET), c, Some(WEB_CB), None);
                    let status = r.status().as_u16();
                    (status, r.json::<Value>().unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 1, "{statuses:?}");
    for (status, v) in statuses.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 400, "{v}");
        assert_eq!(v["error"], "invalid_grant", "{v}");
    }
}

#[test]
fn an_expired_code_is_invalid_grant() {
    let opts = Options {
        extra: "[tokens]\nauthorization_code_ttl = 1\n".into(),
        ..Default::default()
    };
    let h = Harness::start_with(&apps(), opts);
    let browser = Browser::new(&h);
    let c = code(&h, &browser, WEB, WEB_CB, true);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let r = exchange_raw(&h, WEB, Some(WEB_SECRET), &c, Some(WEB_CB), None);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"], "invalid_grant", "{v}");
    assert_eq!(
        v["error_description"], "the authorization code expired",
        "{v}"
    );
}
