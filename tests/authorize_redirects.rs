//! The authorization endpoint's request checks: which redirect URIs are trusted, which clients may
//! start the flow, and how later errors and a denial go back to the app with `state`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::browser::*;
use common::*;

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

/// An error page: the status, the message, no redirect and no login form.
fn assert_error_page(page: &Page, status: u16, message: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(page.location.is_empty(), "redirected to {}", page.location);
    assert!(page.body.contains(message), "{}", page.body);
    assert!(!page.body.contains("name=\"username\""), "{}", page.body);
    assert!(!page.body.contains("name=\"decision\""), "{}", page.body);
}

/// A 302 back to `redirect_uri` carrying `error` and exactly `state`, and no code.
fn assert_error_redirect(h: &Harness, page: &Page, redirect_uri: &str, error: &str, state: &str) {
    assert_eq!(page.status, 302, "{}", page.body);
    let target = page.location.split('?').next().unwrap();
    assert_eq!(target, redirect_uri, "redirected to {}", page.location);
    assert_eq!(param(&page.location, "error").as_deref(), Some(error));
    assert_eq!(param(&page.location, "state").as_deref(), Some(state));
    assert_eq!(
        param(&page.location, "iss").as_deref(),
        Some(h.base.as_str())
    );
    assert_eq!(param(&page.location, "code"), None, "{}", page.location);
}

const BAD_REDIRECT: &str = "return address that is not registered";

#[test]
fn redirect_uri_variants_are_never_redirected_to() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let variants = [
        "https://portal.example/cb/",
        "https://PORTAL.example/cb",
        "https://portal.example/CB",
        "HTTPS://portal.example/cb",
        "https://portal.example/cb?x=1",
        "https://portal.example/cb?",
        "https://portal.example/cb#frag",
        "https://portal.example/cb#",
        "https://portal.example@evil.example/cb",
        "https://user@portal.example/cb",
        "https://portal.example%2Fcb",
        "https://portal.example/cb%2F..%2Fevil",
        "https://portal.example/%63b",
        "https://portal.example/x/../cb",
        "https://portal.example/./cb",
        "https://portal.example/cb/.",
        "https://portal.example:8443/cb",
        "https://portal.example:443/cb",
        "http://portal.example/cb",
        "https://portal.example.evil.example/cb",
        " https://portal.example/cb",
    ];
    for variant in variants {
        let page = browser.get(&authorize_url(&h, WEB, variant, "s", None));
        assert_eq!(page.status, 400, "{variant}: {}", page.body);
        assert!(
            page.location.is_empty(),
            "{variant} redirected to {}",
            page.location
        );
        assert!(page.body.contains(BAD_REDIRECT), "{variant}: {}", page.body);
        assert!(!page.body.contains("name=\"username\""), "{variant}");
    }
    // The registered URI itself is fine.
    let page = browser.get(&authorize_url(&h, WEB, WEB_CB, "s", None));
    assert_eq!(page.status, 200, "{}", page.body);
}

#[test]
fn a_missing_redirect_uri_is_fine_with_exactly_one_registered_uri() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let url = auth_url(
        &h,
        &[
            ("response_type", "code"),
            ("client_id", WEB),
            ("state", "st"),
        ],
    );
    let page = browser.get(&url);
    assert_eq!(page.status, 200, "{}", page.body);
    let consent = browser.login(&page, "aldo", "aldo-pw");
    let done = browser.decide(&consent, "allow");
    assert_eq!(done.status, 303);
    let (code, state) = code_and_state(&done.location, WEB_CB);
    assert_eq!(state, "st");
    let r = exchange_raw(&h, WEB, Some(WEB_SECRET), &code, None, None);
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
}

#[test]
fn a_missing_redirect_uri_is_an_error_page_with_two_registered_uris() {
    let two = "[[apps]]\nclient_id = \"two_uris\"\nname = \"Two\"\nclient_type = \"web_app\"\n\
               client_secret = \"two-secret\"\nscope = \"rest.all.read\"\n\
               redirect_uris = [\"https://a.example/cb\", \"https://b.example/cb\"]\n\n";
    let h = Harness::start(&format!("{}{two}", web_apps()));
    let browser = Browser::new(&h);
    let url = auth_url(
        &h,
        &[
            ("response_type", "code"),
            ("client_id", "two_uris"),
            ("state", "st"),
        ],
    );
    assert_error_page(&browser.get(&url), 400, BAD_REDIRECT);
    // Either registered URI, named, is fine.
    for cb in ["https://a.example/cb", "https://b.example/cb"] {
        let page = browser.get(&authorize_url(&h, "two_uris", cb, "st", None));
        assert_eq!(page.status, 200, "{cb}: {}", page.body);
    }
}

#[test]
fn an_unknown_client_gets_an_error_page_and_no_redirect() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let unknown = "This application is not registered.";
    let page = browser.get(&authorize_url(&h, "vte_unknown", WEB_CB, "s", None));
    assert_error_page(&page, 400, unknown);
    let url = auth_url(&h, &[("response_type", "code"), ("redirect_uri", WEB_CB)]);
    assert_error_page(&browser.get(&url), 400, unknown);
}

#[test]
fn a_disabled_app_gets_a_403_page_without_a_login_form() {
    let disabled = format!(
        "{}enabled = false\n\n",
        web_app(
            "vte_off",
            "off-secret",
            "rest.all.read",
            "https://off.example/cb",
            false
        )
    );
    let h = Harness::start(&format!("{}{disabled}", web_apps()));
    let browser = Browser::new(&h);
    let page = browser.get(&authorize_url(
        &h,
        "vte_off",
        "https://off.example/cb",
        "s",
        None,
    ));
    assert_error_page(&page, 403, "This application is disabled.");
}

#[test]
fn oauth_enabled_false_gets_a_403_page_without_a_login_form() {
    let apps = web_apps().replace("oauth_enabled = true", "oauth_enabled = false");
    assert!(apps.contains("oauth_enabled = false"));
    let h = Harness::start(&apps);
    let browser = Browser::new(&h);
    let disabled = "Access through OAuth2 is disabled on this CRM.";
    let page = browser.get(&authorize_url(&h, WEB, WEB_CB, "s", None));
    assert_error_page(&page, 403, disabled);
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let page = browser.get(&authorize_url(&h, NATIVE, NATIVE_CB, "s", Some(challenge)));
    assert_error_page(&page, 403, disabled);
}

/// A state with every character that is awkward in a query.
const STATE: &str = "a b&c=d+e/f?g#h%20i;j ü€日本 🚀";

#[test]
fn response_type_token_and_id_token_are_unsupported_response_type_with_the_state_echoed() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    for response_type in ["token", "id_token", "code token"] {
        let url = auth_url(
            &h,
            &[
                ("response_type", response_type),
                ("client_id", WEB),
                ("redirect_uri", WEB_CB),
                ("state", STATE),
            ],
        );
        let page = browser.get(&url);
        assert_error_redirect(&h, &page, WEB_CB, "unsupported_response_type", STATE);
    }
}

#[test]
fn a_missing_response_type_is_an_invalid_request_redirect() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let url = auth_url(
        &h,
        &[
            ("client_id", WEB),
            ("redirect_uri", WEB_CB),
            ("state", STATE),
        ],
    );
    assert_error_redirect(&h, &browser.get(&url), WEB_CB, "invalid_request", STATE);
}

#[test]
fn a_scope_outside_the_apps_is_an_invalid_scope_redirect() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    for scope in [
        "rest.all",
        "rest.all.write",
        "rest.all.read rest.all.write",
        "openid",
        "admin",
    ] {
        let url = auth_url(
            &h,
            &[
                ("response_type", "code"),
                ("client_id", WEB),
                ("redirect_uri", WEB_CB),
                ("scope", scope),
                ("state", STATE),
            ],
        );
        let page = browser.get(&url);
        assert_error_redirect(&h, &page, WEB_CB, "invalid_scope", STATE);
    }
}

#[test]
fn no_scope_grants_the_apps_scope() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let page = browser.get(&authorize_url(&h, WEB, WEB_CB, "s", None));
    let consent = browser.login(&page, "carla", "carla-pw");
    let done = browser.decide(&consent, "allow");
    let (code, _) = code_and_state(&done.location, WEB_CB);
    let tokens = exchange(&h, WEB, Some(WEB_SECRET), &code, WEB_CB, None);
    assert_eq!(tokens["scope"], "rest.all.read");
    // A narrower scope than the app's, asked for, is what is granted.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let url = auth_url(
        &h,
        &[
            ("response_type", "code"),
            ("client_id", NATIVE),
            ("redirect_uri", NATIVE_CB),
            ("scope", "rest.all.read"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ],
    );
    let done = browser.decide(&browser.get(&url), "allow");
    let (code, _) = code_and_state(&done.location, NATIVE_CB);
    let tokens = exchange(&h, NATIVE, None, &code, NATIVE_CB, Some(verifier));
    assert_eq!(tokens["scope"], "rest.all.read");
}

#[test]
fn deny_redirects_303_with_access_denied_and_the_state() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let page = browser.get(&authorize_url(&h, WEB, WEB_CB, STATE, None));
    let consent = browser.login(&page, "bruna", "bruna-pw");
    assert_eq!(consent.status, 200, "{}", consent.body);
    let done = browser.decide(&consent, "deny");
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.split('?').next().unwrap(),
        WEB_CB,
        "{}",
        done.location
    );
    assert_eq!(
        param(&done.location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(param(&done.location, "state").as_deref(), Some(STATE));
    assert_eq!(
        param(&done.location, "iss").as_deref(),
        Some(h.base.as_str())
    );
    assert_eq!(param(&done.location, "code"), None);
    // The answered request cannot be turned into an allow afterwards.
    let again = browser.decide(&consent, "allow");
    assert_ne!(again.status, 303, "{}", again.location);
    assert!(again.location.is_empty(), "{}", again.location);
}

// RFC 8252 §7.3: a native app's loopback IP redirect URI matches any port.

const LOOPBACK_APP: &str = "vte_c3c3c3c3c3c3c3c3c3c3";
const V4_CB: &str = "http://127.0.0.1/callback";
const V6_CB: &str = "http://[::1]:7777/cb";
const LOCALHOST_CB: &str = "http://localhost:7777/cb";
const WEB_LOOPBACK: &str = "vte_d4d4d4d4d4d4d4d4d4d4";
const WEB_LOOPBACK_CB: &str = "http://127.0.0.1:8000/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// The usual apps plus a native app with IPv4, IPv6 and `localhost` loopback redirect URIs and a
/// web app with a loopback one.
fn loopback_apps() -> String {
    let native = native_app(LOOPBACK_APP, "rest.all", V4_CB).replace(
        &format!("[\"{V4_CB}\"]"),
        &format!("[\"{V4_CB}\", \"{V6_CB}\", \"{LOCALHOST_CB}\"]"),
    );
    let web = web_app(
        WEB_LOOPBACK,
        "loop-secret",
        "rest.all.read",
        WEB_LOOPBACK_CB,
        false,
    );
    format!("{}{native}{web}", web_apps())
}

/// The authorize link of `client` for `redirect_uri`, with PKCE for the native apps.
fn loopback_link(h: &Harness, client: &str, redirect_uri: &str) -> String {
    let pkce = (client != WEB_LOOPBACK).then_some(CHALLENGE);
    authorize_url(h, client, redirect_uri, "st", pkce)
}

/// Signs in (if needed) and allows; returns where the gateway redirected.
fn allow_via(browser: &Browser<'_>, h: &Harness, client: &str, redirect_uri: &str) -> String {
    let mut page = browser.get(&loopback_link(h, client, redirect_uri));
    if page.body.contains("name=\"username\"") {
        page = browser.login(&page, "aldo", "aldo-pw");
    }
    assert_eq!(page.status, 200, "{redirect_uri}: {}", page.body);
    let done = browser.decide(&page, "allow");
    assert_eq!(done.status, 303, "{redirect_uri}: {}", done.body);
    done.location
}

#[test]
fn a_native_apps_loopback_ip_redirect_matches_any_port_and_the_code_goes_to_that_port() {
    let h = Harness::start(&loopback_apps());
    let browser = Browser::new(&h);
    for (client, redirect_uri) in [
        (LOOPBACK_APP, "http://127.0.0.1:49152/callback"),
        (LOOPBACK_APP, "http://127.0.0.1:1/callback"),
        (LOOPBACK_APP, "http://127.0.0.1:65535/callback"),
        (LOOPBACK_APP, V4_CB),
        (LOOPBACK_APP, "http://[::1]:50123/cb"),
        (LOOPBACK_APP, "http://[::1]/cb"),
        (LOOPBACK_APP, V6_CB),
        (NATIVE, "http://127.0.0.1:5000/callback"),
        (NATIVE, "http://127.0.0.1/callback"),
    ] {
        let location = allow_via(&browser, &h, client, redirect_uri);
        let (code, state) = code_and_state(&location, redirect_uri);
        assert_eq!(state, "st");
        // The token request must repeat exactly that URI, port included.
        let registered = if client == NATIVE { NATIVE_CB } else { V4_CB };
        let mut other_port = url::Url::parse(redirect_uri).unwrap();
        other_port.set_port(Some(4444)).unwrap();
        let other_port = other_port.to_string();
        for wrong in [registered, other_port.as_str()] {
            if wrong == redirect_uri {
                continue;
            }
            let r = exchange_raw(&h, client, None, &code, Some(wrong), Some(VERIFIER));
            assert_eq!(r.status(), 400, "{redirect_uri} traded with {wrong}");
            let v: serde_json::Value = r.json().unwrap();
            assert_eq!(v["error"], "invalid_grant", "{v}");
        }
        let code = code_and_state(&allow_via(&browser, &h, client, redirect_uri), redirect_uri).0;
        let tokens = exchange(&h, client, None, &code, redirect_uri, Some(VERIFIER));
        assert!(tokens["access_token"].is_string(), "{tokens}");
    }
}

#[test]
fn only_the_port_of_a_native_apps_loopback_ip_redirect_may_differ() {
    let h = Harness::start(&loopback_apps());
    let browser = Browser::new(&h);
    let refused = [
        (LOOPBACK_APP, "http://127.0.0.1:5000/callback/"),
        (LOOPBACK_APP, "http://127.0.0.1:5000/Callback"),
        (LOOPBACK_APP, "http://127.0.0.1:5000/callback?x=1"),
        (LOOPBACK_APP, "http://127.0.0.1:5000/callback#x"),
        (LOOPBACK_APP, "http://127.0.0.1:5000/other"),
        (LOOPBACK_APP, "https://127.0.0.1:5000/callback"),
        (LOOPBACK_APP, "HTTP://127.0.0.1:5000/callback"),
        (LOOPBACK_APP, "http://127.0.0.2:5000/callback"),
        (LOOPBACK_APP, "http://127.1:5000/callback"),
        (LOOPBACK_APP, "http://0x7f000001:5000/callback"),
        (LOOPBACK_APP, "http://[::ffff:127.0.0.1]:5000/callback"),
        (LOOPBACK_APP, "http://[::1]:5000/callback"),
        (LOOPBACK_APP, "http://[0:0:0:0:0:0:0:1]:5000/cb"),
        (LOOPBACK_APP, "http://127.0.0.1:/callback"),
        (LOOPBACK_APP, "http://127.0.0.1:0/callback"),
        (LOOPBACK_APP, "http://127.0.0.1:05000/callback"),
        (LOOPBACK_APP, "http://127.0.0.1:65536/callback"),
        (LOOPBACK_APP, "http://127.0.0.1:+5000/callback"),
        (LOOPBACK_APP, "http://127.0.0.1:5000@evil.example/callback"),
        (LOOPBACK_APP, "http://127.0.0.1:5000.evil.example/callback"),
        (LOOPBACK_APP, "http://127.0.0.1.evil.example/callback"),
        (LOOPBACK_APP, "http://user@127.0.0.1:5000/callback"),
        // `localhost` is a name, not a loopback IP literal (RFC 8252 §8.3): exact match only.
        (LOOPBACK_APP, "http://localhost:5000/cb"),
        (LOOPBACK_APP, "http://localhost/cb"),
        (LOOPBACK_APP, "http://localhost:5000/callback"),
        // A web app's loopback URI is matched exactly like any other.
        (WEB_LOOPBACK, "http://127.0.0.1:9000/cb"),
        (WEB_LOOPBACK, "http://127.0.0.1/cb"),
    ];
    for (client, variant) in refused {
        let page = browser.get(&loopback_link(&h, client, variant));
        assert_eq!(page.status, 400, "{variant}: {}", page.body);
        assert!(page.location.is_empty(), "{variant}: {}", page.location);
        assert!(page.body.contains(BAD_REDIRECT), "{variant}: {}", page.body);
    }
    // Control: the port alone may change for the native app's IP literals, and the registered
    // `localhost` and web app URIs work as written.
    for (client, ok) in [
        (LOOPBACK_APP, "http://127.0.0.1:5000/callback"),
        (LOOPBACK_APP, "http://[::1]:5000/cb"),
        (LOOPBACK_APP, LOCALHOST_CB),
        (WEB_LOOPBACK, WEB_LOOPBACK_CB),
    ] {
        let page = browser.get(&loopback_link(&h, client, ok));
        assert_eq!(page.status, 200, "{ok}: {}", page.body);
    }
    let location = allow_via(&browser, &h, WEB_LOOPBACK, WEB_LOOPBACK_CB);
    let code = code_and_state(&location, WEB_LOOPBACK_CB).0;
    let tokens = exchange(
        &h,
        WEB_LOOPBACK,
        Some("loop-secret"),
        &code,
        WEB_LOOPBACK_CB,
        None,
    );
    assert!(tokens["access_token"].is_string(), "{tokens}");
}
