//! The `upstream` users backend: the CRM checks passwords (`loginpwd`) and says who is an admin
//! and in which groups; the access key it returns is kept sealed in the store, so the gateway
//! can act as the user with Basic auth, also after a restart, without ever storing it in clear.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::browser::*;
use common::*;
use serde_json::Value;

fn harness() -> Harness {
    let opts = Options {
        extra: "[users]\nbackend = \"upstream\"\n".into(),
        no_users_file: true,
        ..Options::default()
    };
    Harness::start_with(&web_apps(), opts)
}

fn authorize(h: &Harness, user: &str, password: &str) -> Page {
    let b = Browser::new(h);
    let page = b.get(&authorize_url(h, WEB, WEB_CB, "st", None));
    let consent = b.login(&page, user, password);
    if consent.status != 200 || !consent.body.contains("value=\"allow\"") {
        return consent;
    }
    b.decide(&consent, "allow")
}

fn ids(r: reqwest::blocking::Response) -> Vec<String> {
    let v: Value = r.json().unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_crm_user_authorizes_and_the_gateway_acts_as_them_with_their_sealed_key() {
    let mut h = harness();
    let done = authorize(&h, "bruna", "bruna-pw");
    assert_eq!(done.status, 303, "{}", done.body);
    let logins: Vec<_> = h
        .crm
        .received()
        .into_iter()
        .filter(|r| r.uri.ends_with("/loginpwd"))
        .collect();
    assert_eq!(logins.len(), 1, "the CRM checked the password");
    let (code, _) = code_and_state(&done.location, WEB_CB);
    let tokens = exchange(&h, WEB, Some(WEB_SECRET), &code, WEB_CB, None);
    let access = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(ids(h.query_invoices(&access)), ["7x3", "7x4"]);
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("bruna:ak-bruna");
    assert_eq!(
        h.last_received().header_values("authorization"),
        [format!("Basic {basic}").as_str()]
    );
    h.restart();
    assert_eq!(
        ids(h.query_invoices(&access)),
        ["7x3", "7x4"],
        "the key survives a restart"
    );
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let r = h
        .http
        .post(h.token_url())
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let asked = h
        .crm
        .received()
        .iter()
        .filter(|r| {
            r.uri.ends_with("/describe") && String::from_utf8_lossy(&r.body).contains("Users")
        })
        .count();
    assert!(
        asked >= 2,
        "the refresh must ask the CRM about the user again"
    );
    h.kill();
    let mut files = vec![h.path("data")];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains("ak-bruna"),
                "{} holds the key in clear",
                p.display()
            );
        }
    }
}

#[test]
fn wrong_passwords_and_admins_are_refused_by_what_the_crm_says() {
    let h = harness();
    let wrong = authorize(&h, "bruna", "nope");
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong username or password"));
    let admin = authorize(&h, "admin", "admin-pw");
    assert_eq!(admin.status, 403, "{}", admin.body);
    assert!(
        admin
            .body
            .contains("Administrator accounts cannot authorize")
    );
    let unknown = authorize(&h, "nobody", "x");
    assert_eq!(unknown.status, 401);
}

#[test]
fn failed_crm_logins_are_throttled_before_the_crm_would_lock_the_user() {
    let h = harness();
    for _ in 0..3 {
        assert_eq!(authorize(&h, "carla", "wrong").status, 401);
    }
    let throttled = authorize(&h, "carla", "carla-pw");
    assert_eq!(throttled.status, 429);
    let logins = h
        .crm
        .received()
        .iter()
        .filter(|r| r.uri.ends_with("/loginpwd"))
        .count();
    assert_eq!(logins, 3, "the CRM must not see a fourth attempt");
}
