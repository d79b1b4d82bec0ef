//! PKCE (RFC 7636) end to end: which challenges the authorization endpoint accepts, and which
//! verifiers the token endpoint accepts for them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::browser::*;
use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// `BASE64URL(SHA256(verifier))`, computed here independently of the gateway.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The authorize link with exactly these parameters.
fn auth_url(h: &Harness, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&h.url("/oauth2/v2.0/auth.php")).unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

/// A parameter of a redirect's query.
fn param(location: &str, name: &str) -> Option<String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A 302 back to `redirect_uri` with `invalid_request`, the state, and no code.
fn assert_invalid_request(page: &Page, redirect_uri: &str, state: &str, what: &str) {
    assert_eq!(page.status, 302, "{what}: {}", page.body);
    let target = page.location.split('?').next().unwrap();
    assert_eq!(target, redirect_uri, "{what}: {}", page.location);
    assert_eq!(
        param(&page.location, "error").as_deref(),
        Some("invalid_request"),
        "{what}"
    );
    assert_eq!(
        param(&page.location, "state").as_deref(),
        Some(state),
        "{what}"
    );
    assert_eq!(param(&page.location, "code"), None, "{what}");
}

/// A code for `client` with `challenge` (S256), authorized by a logged-in browser.
fn code(h: &Harness, b: &Browser, client: &str, cb: &str, challenge: Option<&str>) -> String {
    let page = b.get(&authorize_url(h, client, cb, "st", challenge));
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
fn a_native_app_without_a_challenge_gets_an_invalid_request_redirect() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let page = browser.get(&authorize_url(&h, NATIVE, NATIVE_CB, "st 1", None));
    assert_invalid_request(&page, NATIVE_CB, "st 1", "no challenge");
    // A method alone is no challenge either.
    let url = auth_url(
        &h,
        &[
            ("response_type", "code"),
            ("client_id", NATIVE),
            ("redirect_uri", NATIVE_CB),
            ("state", "st 2"),
            ("code_challenge_method", "S256"),
        ],
    );
    assert_invalid_request(&browser.get(&url), NATIVE_CB, "st 2", "method only");
}

#[test]
fn the_plain_method_or_a_missing_method_is_an_invalid_request() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let cases: [(&str, &str, Option<&str>); 4] = [
        (NATIVE, NATIVE_CB, Some("plain")),
        (NATIVE, NATIVE_CB, None),
        (NATIVE, NATIVE_CB, Some("s256")),
        (WEB, WEB_CB, Some("plain")),
    ];
    for (client, cb, method) in cases {
        for challenge in [CHALLENGE, VERIFIER] {
            let mut pairs = vec![
                ("response_type", "code"),
                ("client_id", client),
                ("redirect_uri", cb),
                ("state", "st"),
                ("code_challenge", challenge),
            ];
            pairs.extend(method.map(|m| ("code_challenge_method", m)));
            let page = browser.get(&auth_url(&h, &pairs));
            assert_invalid_request(&page, cb, "st", &format!("{client} {method:?}"));
        }
    }
    // The web app may also use PKCE, with S256.
    let c = code(&h, &browser, WEB, WEB_CB, Some(CHALLENGE));
    let r = exchange_raw(&h, WEB, Some(WEB_SECRET), &c, Some(WEB_CB), Some(VERIFIER));
    assert_eq!(r.status(), 200);
}

#[test]
fn a_malformed_challenge_is_an_invalid_request() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let malformed = [
        CHALLENGE[..42].to_string(),
        format!("{CHALLENGE}A"),
        format!("{}=", &CHALLENGE[..42]),
        format!("{}+", &CHALLENGE[..42]),
        format!("{}/", &CHALLENGE[..42]),
        format!("{} ", &CHALLENGE[..42]),
        format!("{}é", &CHALLENGE[..41]),
        "A".repeat(128),
    ];
    for challenge in &malformed {
        let page = browser.get(&authorize_url(&h, NATIVE, NATIVE_CB, "st", Some(challenge)));
        assert_invalid_request(&page, NATIVE_CB, "st", challenge);
    }
}

#[test]
fn a_wrong_verifier_is_invalid_grant() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let c = code(&h, &browser, NATIVE, NATIVE_CB, Some(CHALLENGE));
    let wrong = format!("{}j", &VERIFIER[..42]);
    let r = exchange_raw(&h, NATIVE, None, &c, Some(NATIVE_CB), Some(&wrong));
    assert_invalid_grant(r, "wrong verifier");
    // The challenge itself is no verifier.
    let c = code(&h, &browser, NATIVE, NATIVE_CB, Some(CHALLENGE));
    let r = exchange_raw(&h, NATIVE, None, &c, Some(NATIVE_CB), Some(CHALLENGE));
    assert_invalid_grant(r, "challenge as verifier");
    // The right one works.
    let c = code(&h, &browser, NATIVE, NATIVE_CB, Some(CHALLENGE));
    exchange(&h, NATIVE, None, &c, NATIVE_CB, Some(VERIFIER));
}

#[test]
fn a_missing_verifier_is_invalid_grant() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let c = code(&h, &browser, NATIVE, NATIVE_CB, Some(CHALLENGE));
    let r = exchange_raw(&h, NATIVE, None, &c, Some(NATIVE_CB), None);
    assert_invalid_grant(r, "native app, no verifier");
    let c = code(&h, &browser, WEB, WEB_CB, Some(CHALLENGE));
    let r = exchange_raw(&h, WEB, Some(WEB_SECRET), &c, Some(WEB_CB), None);
    assert_invalid_grant(r, "web app with a challenge, no verifier");
}

#[test]
fn a_verifier_without_a_challenge_is_invalid_grant() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let c = code(&h, &browser, WEB, WEB_CB, None);
    let r = exchange_raw(&h, WEB, Some(WEB_SECRET), &c, Some(WEB_CB), Some(VERIFIER));
    assert_invalid_grant(r, "verifier without challenge");
}

#[test]
fn verifiers_too_short_too_long_or_with_bad_characters_are_invalid_grant() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let bad = [
        "a".repeat(42),
        "a".repeat(129),
        format!("{}+", "a".repeat(42)),
        format!("{}/", "a".repeat(42)),
        format!("{}=", "a".repeat(42)),
        format!("{} ", "a".repeat(42)),
        format!("{}é", "a".repeat(42)),
    ];
    for verifier in &bad {
        // The challenge matches the verifier: only its shape is wrong.
        let challenge = s256(verifier);
        let c = code(&h, &browser, NATIVE, NATIVE_CB, Some(&challenge));
        let r = exchange_raw(&h, NATIVE, None, &c, Some(NATIVE_CB), Some(verifier));
        assert_invalid_grant(r, &format!("{} chars: {verifier:?}", verifier.len()));
    }
    // The limits themselves are fine.
    for verifier in [
        "a".repeat(43),
        "a".repeat(128),
        format!("{}-._~", "Zz9".repeat(14)),
    ] {
        let c = code(&h, &browser, NATIVE, NATIVE_CB, Some(&s256(&verifier)));
        exchange(&h, NATIVE, None, &c, NATIVE_CB, Some(&verifier));
    }
}
