//! Who may authorize an app: `all_users = false` with listed users and groups, admin users, the
//! effect of removing a user on tokens already issued, and login throttling.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::browser::*;
use common::*;
use reqwest::blocking::Response;
use serde_json::Value;

fn quoted(names: &[&str]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    q.join(", ")
}

/// The web app (offline) restricted to `users` and `groups`, and the native app.
fn restricted(users: &[&str], groups: &[&str]) -> String {
    format!(
        "{}{}all_users = false\nauthorized_users = [{}]\nauthorized_groups = [{}]\n\n{}",
        settings(true, false),
        web_app(WEB, WEB_SECRET, "rest.all.read", WEB_CB, true),
        quoted(users),
        quoted(groups),
        native_app(NATIVE, "rest.all", NATIVE_CB),
    )
}

/// A parameter of a URL's query.
fn param(location: &str, name: &str) -> Option<String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The target of the page's link back to the app.
fn back_link(page: &Page) -> String {
    let start = page
        .body
        .find("<a href=\"")
        .unwrap_or_else(|| panic!("no link: {}", page.body));
    let rest = &page.body[start + 9..];
    let href = &rest[..rest.find('"').unwrap()];
    html_escape::decode_html_entities(href).into_owned()
}

/// Logs `user` in on a fresh authorize request of the web app; returns the browser's answer.
fn login_page(b: &Browser, h: &Harness, user: &str, state: &str) -> Page {
    let page = b.get(&authorize_url(h, WEB, WEB_CB, state, None));
    assert_eq!(page.status, 200, "{}", page.body);
    b.login(&page, user, &format!("{user}-pw"))
}

/// Tokens for `user` on the web app.
fn tokens_for(h: &Harness, user: &str) -> Value {
    let b = Browser::new(h);
    let consent = login_page(&b, h, user, "st");
    assert_eq!(consent.status, 200, "{user}: {}", consent.body);
    let done = b.decide(&consent, "allow");
    let (code, _) = code_and_state(&done.location, WEB_CB);
    exchange(h, WEB, Some(WEB_SECRET), &code, WEB_CB, None)
}

fn refresh_raw(h: &Harness, token: &str) -> Response {
    h.http
        .post(h.token_url())
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .unwrap()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// A refusal page: 403, `message`, no consent form, and a link back with `access_denied`.
fn assert_refusal(page: &Page, message: &str, state: &str) {
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.location.is_empty(), "{}", page.location);
    assert!(page.body.contains(message), "{}", page.body);
    assert!(!page.body.contains("name=\"decision\""), "{}", page.body);
    let back = back_link(page);
    assert_eq!(back.split('?').next().unwrap(), WEB_CB, "{back}");
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("access_denied"),
        "{back}"
    );
    assert_eq!(param(&back, "state").as_deref(), Some(state), "{back}");
    assert_eq!(param(&back, "code"), None, "{back}");
}

const NOT_AUTHORIZED: &str = "Your account is not allowed to use this application.";

#[test]
fn listed_users_and_members_of_listed_groups_get_the_consent_page() {
    let h = Harness::start(&restricted(&["aldo"], &["support"]));
    for user in ["aldo", "bruna", "carla"] {
        let b = Browser::new(&h);
        let consent = login_page(&b, &h, user, "st");
        assert_eq!(consent.status, 200, "{user}: {}", consent.body);
        assert!(
            consent.body.contains("value=\"allow\""),
            "{user}: {}",
            consent.body
        );
        let done = b.decide(&consent, "allow");
        let (code, _) = code_and_state(&done.location, WEB_CB);
        let tokens = exchange(&h, WEB, Some(WEB_SECRET), &code, WEB_CB, None);
        assert_eq!(
            h.query_invoices(s(&tokens, "access_token")).status(),
            200,
            "{user}"
        );
        assert_eq!(h.last_received().header_values("x-crm-user"), [user]);
    }
}

#[test]
fn an_unlisted_user_gets_a_403_page_with_a_link_back_carrying_access_denied() {
    let h = Harness::start(&restricted(&["aldo"], &[]));
    let b = Browser::new(&h);
    let state = "s t&1";
    let page = b.get(&authorize_url(&h, WEB, WEB_CB, state, None));
    let refused = b.login(&page, "bruna", "bruna-pw");
    assert_refusal(&refused, NOT_AUTHORIZED, state);
    // Already signed in, the next request is refused the same way.
    let again = b.get(&authorize_url(&h, WEB, WEB_CB, "second", None));
    assert_refusal(&again, NOT_AUTHORIZED, "second");
    // A forged allow with the pending request's own ids gets no code either.
    let forged = b.post(&[
        ("req", &page.hidden("req")),
        ("csrf", &page.hidden("csrf")),
        ("decision", "allow"),
    ]);
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(param(&back_link(&forged), "code"), None);
    assert!(!forged.location.contains("code="), "{}", forged.location);
}

#[test]
fn removing_a_user_from_the_list_kills_their_refresh_and_access_tokens() {
    let h = Harness::start(&restricted(&["aldo", "bruna"], &[]));
    let bruna = tokens_for(&h, "bruna");
    let aldo = tokens_for(&h, "aldo");
    assert_eq!(h.query_invoices(s(&bruna, "access_token")).status(), 200);
    h.write_apps(&restricted(&["aldo"], &[]));
    h.eventually("bruna's access token is refused", || {
        h.query_invoices(s(&bruna, "access_token")).status() == 401
    });
    let r = refresh_raw(&h, s(&bruna, "refresh_token"));
    let status = r.status();
    let v: Value = r.json().unwrap();
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"], "invalid_grant", "{v}");
    // aldo, still listed, keeps working.
    assert_eq!(h.query_invoices(s(&aldo, "access_token")).status(), 200);
    assert_eq!(refresh_raw(&h, s(&aldo, "refresh_token")).status(), 200);
}

#[test]
fn admin_is_refused_when_admin_users_are_not_allowed() {
    let h = Harness::start(&web_apps());
    let b = Browser::new(&h);
    let refused = login_page(&b, &h, "admin", "adm");
    assert_refusal(
        &refused,
        "Administrator accounts cannot authorize applications.",
        "adm",
    );
}

#[test]
fn admin_can_authorize_when_admin_users_are_allowed() {
    let apps = web_apps().replace("allow_admin_users = false", "allow_admin_users = true");
    assert!(apps.contains("allow_admin_users = true"));
    let h = Harness::start(&apps);
    let tokens = tokens_for(&h, "admin");
    assert_eq!(h.query_invoices(s(&tokens, "access_token")).status(), 200);
    assert_eq!(h.last_received().header_values("x-crm-user"), ["admin"]);
}

#[test]
fn three_wrong_passwords_throttle_the_user_but_not_others_from_the_same_address() {
    let h = Harness::start(&web_apps());
    let b = Browser::new(&h);
    let mut page = b.get(&authorize_url(&h, WEB, WEB_CB, "st", None));
    for attempt in 1..=3 {
        page = b.login(&page, "bruna", "wrong-pw");
        assert_eq!(page.status, 401, "attempt {attempt}: {}", page.body);
        assert!(
            page.body.contains("Wrong username or password."),
            "{}",
            page.body
        );
    }
    // The fourth attempt, even with the right password.
    let r = b.post_raw(
        &[
            ("req", page.hidden("req").as_str()),
            ("csrf", page.hidden("csrf").as_str()),
            ("username", "bruna"),
            ("password", "bruna-pw"),
        ],
        &[],
    );
    assert_eq!(r.status(), 429);
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no session when throttled"
    );
    let body = r.text().unwrap();
    assert!(body.contains("Too many failed attempts"), "{body}");
    assert!(!body.contains("name=\"decision\""), "{body}");
    // Another user from the same address can still log in.
    let other = Browser::new(&h);
    let consent = login_page(&other, &h, "aldo", "st");
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains("value=\"allow\""), "{}", consent.body);
    // bruna stays throttled on a fresh request too.
    let again = login_page(&Browser::new(&h), &h, "bruna", "st");
    assert_eq!(again.status, 429, "{}", again.body);
}
