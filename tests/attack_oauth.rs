//! Attacks on the OAuth endpoints, one test per attack, each named after it: input → the status
//! and error the gateway must answer, plus the proof that nothing was given away (no redirect to
//! the attacker, no token, no code). This file holds what the submodules share; they cover the
//! authorization endpoint (`authorize`), the token endpoint (`token_endpoint`), codes, refresh
//! tokens and revocation (`tokens`), brute force (`throttle`) and tokens and identity headers at
//! the proxy (`proxy`). Attacks already covered elsewhere are listed with their tests in
//! docs/security.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod authorize;
mod proxy;
mod throttle;
mod token_endpoint;
mod tokens;

use crate::common;

use common::browser::*;
use common::*;
use reqwest::blocking::Response;
use serde_json::Value;

/// A service account whose secret has every character Basic credentials must encode.
const SA: &str = "vte_aa00000000000000000a";
const SA_SECRET: &str = "s3cret-with:colon%and+plus";
const EVIL: &str = "https://evil.example/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// The web and native apps of the browser helpers, a service account and a disabled web app.
fn apps() -> String {
    let disabled = web_app(
        "vte_off",
        "off-secret",
        "rest.all.read",
        "https://off.example/cb",
        false,
    );
    format!(
        "{}{}{disabled}enabled = false\n\n",
        web_apps(),
        secret_app(SA, SA_SECRET, "rest.all", "aldo"),
    )
}

/// The authorize link with exactly this raw query.
fn auth_query(h: &Harness, query: &str) -> String {
    format!("{}?{query}", h.url("/oauth2/v2.0/auth.php"))
}

/// The authorize link with exactly these parameters.
fn auth_url(h: &Harness, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&h.url("/oauth2/v2.0/auth.php")).unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

/// An error page: 4xx, no redirect, no form, and no link to the attacker's address.
fn assert_page(page: &Page, case: &str) {
    assert!(
        matches!(page.status, 400 | 403 | 405),
        "{case}: {} {}",
        page.status,
        page.body
    );
    assert!(
        page.location.is_empty(),
        "{case}: redirected to {}",
        page.location
    );
    assert!(!page.body.contains("evil.example"), "{case}: {}", page.body);
    assert!(!page.body.contains("name=\"username\""), "{case}");
    assert!(!page.body.contains("name=\"decision\""), "{case}");
}

/// An OAuth error answer: the status and `error`, no token, `no-store`.
fn oauth_error(r: Response) -> (u16, String) {
    let status = r.status().as_u16();
    let cache = r
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = r.json().unwrap();
    assert!(body.get("access_token").is_none(), "{body}");
    assert_eq!(cache.as_deref(), Some("no-store"), "{body}");
    (status, body["error"].as_str().unwrap_or("").to_string())
}

/// POSTs `body` as a form to the token endpoint, with Basic credentials if given.
fn token_raw(h: &Harness, basic: Option<(&str, &str)>, body: &str) -> Response {
    let rb = h
        .http
        .post(h.token_url())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    match basic {
        Some((id, secret)) => rb.basic_auth(id, Some(secret)),
        None => rb,
    }
    .send()
    .unwrap()
}
