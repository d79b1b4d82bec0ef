//! Admin API access control: login (wrong password, throttling, the cookie's attributes),
//! logout, and for every route: no session 401, a non-admin on admin routes 403, a mutation
//! without or with a wrong `X-CSRF-Token` 403, each leaving `apps.toml` byte-for-byte unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::api::*;
use common::*;
use serde_json::{Value, json};

const SA: &str = "vte_e1000000000000000001";
const SA_SECRET: &str = "sa-secret";

// ---------------------------------------------------------------------------------------------
// A small API client: the session cookie and CSRF token kept by hand.

fn apps_bytes(h: &Harness) -> Vec<u8> {
    std::fs::read(h.path("apps.toml")).unwrap()
}

// ---------------------------------------------------------------------------------------------

fn harness() -> Harness {
    let apps = format!(
        "{}{}",
        settings(true, false).replace(
            "users_can_manage_secrets = false",
            "users_can_manage_secrets = true"
        ),
        secret_app(SA, SA_SECRET, "rest.all", "aldo"),
    );
    Harness::start(&apps)
}

fn new_app() -> Value {
    json!({"name": "New", "client_type": "service_account", "scope": "rest.all", "user": "aldo"})
}

/// Every route but `login`: (method, route, body, admin only).
fn routes() -> Vec<(&'static str, String, Value, bool)> {
    vec![
        ("GET", "session".into(), Value::Null, false),
        ("POST", "logout".into(), Value::Null, false),
        ("GET", "settings".into(), Value::Null, true),
        (
            "PUT",
            "settings".into(),
            json!({"oauth_enabled": false}),
            true,
        ),
        ("GET", "apps".into(), Value::Null, true),
        ("POST", "apps".into(), new_app(), true),
        ("GET", format!("apps/{SA}"), Value::Null, true),
        (
            "PATCH",
            format!("apps/{SA}"),
            json!({"name": "Renamed"}),
            true,
        ),
        ("DELETE", format!("apps/{SA}"), Value::Null, true),
        ("POST", format!("apps/{SA}/revoke"), Value::Null, true),
        ("POST", format!("apps/{SA}/secret"), Value::Null, true),
        ("GET", "me/apps".into(), Value::Null, false),
        ("POST", format!("me/apps/{SA}/revoke"), Value::Null, false),
        ("POST", format!("me/apps/{SA}/secret"), Value::Null, false),
    ]
}

/// The app's token still works and its secret still gets one: nothing was revoked or replaced.
fn assert_untouched(h: &Harness, token: &str, case: &str) {
    assert_eq!(
        h.query_invoices(token).status(),
        200,
        "{case}: token revoked"
    );
    let r = h.token_basic(SA, SA_SECRET, &[("grant_type", "client_credentials")]);
    assert_eq!(r.status(), 200, "{case}: secret replaced");
}

#[test]
fn login_answers_the_user_and_a_strict_http_only_cookie() {
    let h = harness();
    let a = login_raw(&h, "admin", "admin-pw");
    let body = a.ok(200, "login");
    assert!(
        body["csrf_token"].as_str().is_some_and(|t| t.len() >= 16),
        "{body}"
    );
    assert_eq!(body["user"]["username"], "admin");
    assert_eq!(body["user"]["admin"], true);
    let cookie = a.headers["set-cookie"].to_str().unwrap().to_string();
    let attrs: Vec<String> = cookie
        .split(';')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    assert!(cookie.starts_with("crmgate_admin="), "{cookie}");
    for want in ["httponly", "samesite=strict", "path=/gateway/"] {
        assert!(
            attrs.iter().any(|a| a == want),
            "{want} missing in {cookie}"
        );
    }
    assert!(
        !attrs.iter().any(|a| a == "secure"),
        "plain http: no Secure: {cookie}"
    );
    let api = Api::login(&h, "aldo");
    let s = api.get("session");
    assert_eq!(s.ok(200, "session")["user"]["username"], "aldo");
    assert_eq!(s.body["user"]["admin"], false);
    assert_eq!(s.body["csrf_token"], api.csrf.as_str());
}

#[test]
fn the_cookie_is_secure_with_an_https_public_url() {
    let opts = Options {
        public_url: Some("https://gateway.example".into()),
        ..Options::default()
    };
    let h = Harness::start_with(&settings(true, false), opts);
    let a = login_raw(&h, "admin", "admin-pw");
    a.ok(200, "login");
    let cookie = a.headers["set-cookie"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(cookie.split(';').any(|a| a.trim() == "secure"), "{cookie}");
}

#[test]
fn wrong_passwords_are_401_and_the_fourth_attempt_is_throttled() {
    let h = harness();
    login_raw(&h, "bruna", "bruna-pw").ok(200, "good password");
    login_raw(&h, "nobody", "x").err(401, "unauthorized", "unknown user");
    login_raw(&h, "bruna", "").err(400, "invalid", "empty password");
    for i in 0..3 {
        let a = login_raw(&h, "aldo", "wrong");
        a.err(401, "unauthorized", &format!("wrong password {i}"));
        assert!(
            a.headers.get("set-cookie").is_none(),
            "no session for a wrong password"
        );
    }
    let a = login_raw(&h, "aldo", "aldo-pw");
    a.err(429, "too_many_requests", "after 3 failures");
    let wait: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 0, "Retry-After {wait}");
    assert!(a.headers.get("set-cookie").is_none());
    login_raw(&h, "bruna", "bruna-pw").ok(200, "other users are not throttled");
}

#[test]
fn logout_ends_the_session() {
    let h = harness();
    let api = Api::login(&h, "admin");
    api.get("session").ok(200, "before logout");
    let out = api.call("POST", "logout", &Value::Null);
    out.ok(200, "logout");
    let cleared = out.headers["set-cookie"].to_str().unwrap();
    assert!(
        cleared.contains("Max-Age=0"),
        "the cookie is cleared: {cleared}"
    );
    api.get("session")
        .err(401, "unauthorized", "session after logout");
    api.get("apps")
        .err(401, "unauthorized", "apps after logout");
    let before = apps_bytes(&h);
    api.call("PATCH", &format!("apps/{SA}"), &json!({"name": "X"}))
        .err(401, "unauthorized", "mutation after logout");
    assert_eq!(apps_bytes(&h), before);
}

#[test]
fn every_route_needs_a_session() {
    let h = harness();
    let token = h.token(SA, SA_SECRET);
    let before = apps_bytes(&h);
    let bogus = "crmgate_admin=not-a-session";
    for (method, route, body, _) in routes() {
        let case = format!("{method} {route}");
        send(&h, method, &route, &[], &body).err(401, "unauthorized", &format!("{case}: none"));
        let headers = [("Cookie", bogus), ("X-CSRF-Token", "x")];
        send(&h, method, &route, &headers, &body).err(
            401,
            "unauthorized",
            &format!("{case}: bogus cookie"),
        );
        assert_eq!(apps_bytes(&h), before, "{case} changed apps.toml");
    }
    assert_untouched(&h, &token, "no session");
}

#[test]
fn non_admins_get_403_on_settings_and_apps_routes() {
    let h = harness();
    let token = h.token(SA, SA_SECRET);
    let before = apps_bytes(&h);
    for user in ["aldo", "carla"] {
        let api = Api::login(&h, user);
        for (method, route, body, admin_only) in routes() {
            if !admin_only {
                continue;
            }
            let case = format!("{user}: {method} {route}");
            api.call(method, &route, &body).err(403, "forbidden", &case);
            assert_eq!(apps_bytes(&h), before, "{case} changed apps.toml");
        }
        api.get("session").ok(200, "the session survives");
    }
    assert_untouched(&h, &token, "non-admin");
    let audit = std::fs::read_to_string(h.path("data/audit.log")).unwrap_or_default();
    assert!(
        audit.trim().is_empty(),
        "refused calls are not changes: {audit}"
    );
}

#[test]
fn every_mutation_needs_the_csrf_token() {
    let h = harness();
    let token = h.token(SA, SA_SECRET);
    let admin = Api::login(&h, "admin");
    let aldo = Api::login(&h, "aldo");
    let before = apps_bytes(&h);
    for (method, route, body, admin_only) in routes() {
        if method == "GET" {
            continue;
        }
        let api = if admin_only { &admin } else { &aldo };
        let case = format!("{method} {route}");
        let missing = [("Cookie", api.cookie.as_str())];
        send(&h, method, &route, &missing, &body).err(
            403,
            "forbidden",
            &format!("{case}: no X-CSRF-Token"),
        );
        let wrong_token = format!("{}x", api.csrf);
        for wrong in [wrong_token.as_str(), "", &admin.csrf, &aldo.csrf] {
            if wrong == api.csrf {
                continue;
            }
            let headers = [("Cookie", api.cookie.as_str()), ("X-CSRF-Token", wrong)];
            send(&h, method, &route, &headers, &body).err(
                403,
                "forbidden",
                &format!("{case}: X-CSRF-Token {wrong:?}"),
            );
        }
        assert_eq!(apps_bytes(&h), before, "{case} changed apps.toml");
        api.get("session")
            .ok(200, &format!("{case}: the session survives"));
    }
    assert_untouched(&h, &token, "no CSRF token");
    // The same requests with the token do work (the refusals above were the token's doing).
    let a = admin.call("PATCH", &format!("apps/{SA}"), &json!({"name": "Renamed"}));
    assert_eq!(a.ok(200, "with the token")["name"], "Renamed");
    assert_ne!(apps_bytes(&h), before);
}

#[test]
fn csrf_token_of_another_session_is_refused_even_for_the_same_user() {
    let h = harness();
    let first = Api::login(&h, "admin");
    let second = Api::login(&h, "admin");
    assert_ne!(first.csrf, second.csrf, "each session has its own token");
    let before = apps_bytes(&h);
    let headers = [
        ("Cookie", first.cookie.as_str()),
        ("X-CSRF-Token", second.csrf.as_str()),
    ];
    send(
        &h,
        "PUT",
        "settings",
        &headers,
        &json!({"oauth_enabled": false}),
    )
    .err(403, "forbidden", "the other session's token");
    assert_eq!(apps_bytes(&h), before);
    first
        .call("PUT", "settings", &json!({"oauth_enabled": false}))
        .ok(200, "own token");
}

#[test]
fn unknown_routes_and_methods_are_json_errors() {
    let h = harness();
    let api = Api::login(&h, "admin");
    api.get("nothing-here")
        .err(404, "not_found", "unknown route");
    api.get(&format!("apps/{SA}/secret"))
        .err(405, "method_not_allowed", "GET secret");
    api.get("apps/vte_ffffffffffffffffffff")
        .err(404, "not_found", "unknown app");
    send(&h, "GET", "login", &[], &Value::Null).err(405, "method_not_allowed", "GET login");
    let before = apps_bytes(&h);
    api.call(
        "PATCH",
        "apps/vte_ffffffffffffffffffff",
        &json!({"name": "x"}),
    )
    .err(404, "not_found", "PATCH unknown app");
    api.call("DELETE", "apps/vte_ffffffffffffffffffff", &Value::Null)
        .err(404, "not_found", "DELETE unknown app");
    api.call("POST", "apps/vte_ffffffffffffffffffff/revoke", &Value::Null)
        .err(404, "not_found", "revoke unknown app");
    api.call("POST", "apps/vte_ffffffffffffffffffff/secret", &Value::Null)
        .err(404, "not_found", "secret of unknown app");
    assert_eq!(apps_bytes(&h), before);
}

#[test]
fn sessions_follow_the_users_file() {
    let h = harness();
    let admin = Api::login(&h, "admin");
    let aldo = Api::login(&h, "aldo");
    admin.get("apps").ok(200, "admin before");
    let users = std::fs::read_to_string(h.path("users.toml")).unwrap();
    assert_eq!(users.matches("admin = true").count(), 1, "{users}");
    // admin loses the admin flag; aldo is removed.
    let mut edited = users.replace("admin = true", "admin = false");
    let start = edited.find("[[users]]\nusername = \"aldo\"").unwrap();
    let end = edited[start + 1..].find("[[users]]").unwrap() + start + 1;
    edited.replace_range(start..end, "");
    let tmp = h.path("users.toml.tmp");
    std::fs::write(&tmp, &edited).unwrap();
    std::fs::rename(&tmp, h.path("users.toml")).unwrap();
    h.eventually("admin is no longer an admin", || {
        admin.get("apps").status == 403
    });
    admin.get("apps").err(403, "forbidden", "former admin");
    assert_eq!(
        admin.get("session").ok(200, "session")["user"]["admin"],
        false
    );
    aldo.get("session").err(401, "unauthorized", "removed user");
    aldo.get("me/apps").err(401, "unauthorized", "removed user");
}

#[test]
fn the_session_cookie_is_found_among_other_cookies() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let cookie = format!("theme=dark; {}; crmgate_admin=stale-value", api.cookie);
    let a = send(&h, "GET", "session", &[("Cookie", &cookie)], &Value::Null);
    assert_eq!(a.ok(200, "among others")["user"]["username"], "admin");
}

#[test]
fn with_the_upstream_backend_the_crm_checks_passwords_and_says_who_is_admin() {
    let opts = Options {
        extra: "[users]\nbackend = \"upstream\"\n".into(),
        no_users_file: true,
        ..Options::default()
    };
    let h = Harness::start_with(&settings(true, false), opts);
    login_raw(&h, "aldo", "wrong").err(401, "unauthorized", "wrong CRM password");
    let aldo = Api::login(&h, "aldo");
    aldo.get("me/apps").ok(200, "a CRM user");
    aldo.get("apps")
        .err(403, "forbidden", "a CRM user who is no admin");
    let admin = Api::login(&h, "admin");
    assert_eq!(
        admin.get("session").ok(200, "session")["user"]["admin"],
        true
    );
    admin.get("apps").ok(200, "a CRM admin");
}

#[test]
fn answers_with_secrets_are_not_cached() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let login = json!({"username": "admin", "password": "admin-pw"});
    let plain = json!({"name": "C", "client_type": "service_account", "scope": "rest.all",
                       "user": "aldo"});
    let jwt = json!({"name": "J", "client_type": "service_account", "secret_type": "signed_jwt",
                     "scope": "rest.all", "user": "aldo"});
    let secret = format!("apps/{SA}/secret");
    let headers = [("Cookie", api.cookie.as_str()), ("X-CSRF-Token", &api.csrf)];
    for (route, body, what) in [
        ("login", login, "csrf_token"),
        ("apps", plain, "client_secret"),
        ("apps", jwt, "private_key_pem"),
        (secret.as_str(), Value::Null, "client_secret"),
    ] {
        let a = send(&h, "POST", route, &headers, &body);
        assert!(a.body[what].is_string(), "{route}: {}", a.body);
        assert_eq!(a.headers["cache-control"], "no-store", "{route}");
    }
    let me = send(&h, "GET", "me/apps", &headers, &Value::Null);
    assert_eq!(me.headers["cache-control"], "no-store", "me/apps");
}
