//! "Connected applications" routes for every signed-in user: the service accounts bound to
//! them (with their secret only when `users_can_manage_secrets` is on), the apps they
//! authorized, revoking either, and a new secret for a bound service account.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::api::*;
use common::browser::*;
use common::*;
use serde_json::{Value, json};

const SA: &str = "vte_e8000000000000000001";
const SA_SECRET: &str = "sa-secret";
const SA_BRUNA: &str = "vte_e8000000000000000002";
const SA_ADMIN: &str = "vte_e8000000000000000003";

// ---------------------------------------------------------------------------------------------
// A small API client: the session cookie and CSRF token kept by hand.

// ---------------------------------------------------------------------------------------------

fn apps(manage_secrets: bool) -> String {
    let on = format!("users_can_manage_secrets = {manage_secrets}");
    format!(
        "{}{}{}{}{}",
        web_apps().replace("users_can_manage_secrets = false", &on),
        secret_app(SA, SA_SECRET, "rest.all", "aldo"),
        secret_app(SA_BRUNA, "bruna-secret", "rest.all", "bruna"),
        secret_app(SA_ADMIN, "admin-secret", "rest.all", "admin"),
        secret_app("vte_e8000000000000000004", "other", "rest.all.read", "aldo"),
    )
}

/// `user` authorizes the web app; the app trades the code for tokens.
fn authorize(h: &Harness, user: &str) -> Value {
    let browser = Browser::new(h);
    let page = browser.get(&authorize_url(h, WEB, WEB_CB, "st", None));
    let consent = browser.login(&page, user, &format!("{user}-pw"));
    let done = browser.decide(&consent, "allow");
    assert_eq!(done.status, 303, "{}", done.body);
    let (code, _) = code_and_state(&done.location, WEB_CB);
    exchange(h, WEB, Some(WEB_SECRET), &code, WEB_CB, None)
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["client_id"].as_str().unwrap())
        .collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn bound_service_accounts_come_with_their_secret_when_users_may_manage_them() {
    let h = Harness::start(&apps(true));
    let aldo = Api::login(&h, "aldo");
    let me = aldo.get("me/apps");
    let me = me.ok(200, "me/apps").clone();
    assert_eq!(
        me["user"],
        json!({"username": "aldo", "name": me["user"]["name"], "admin": false})
    );
    assert_eq!(me["settings"]["users_can_manage_secrets"], true);
    assert_eq!(
        ids(&me["bound"]),
        [SA, "vte_e8000000000000000004"],
        "only aldo's"
    );
    assert_eq!(me["bound"][0]["client_secret"], SA_SECRET);
    assert_eq!(me["bound"][0]["user"], "aldo");
    assert_eq!(ids(&me["authorized"]), Vec::<&str>::new());
    // A secret the API wrote (hashed and sealed) is shown too.
    let admin = Api::login(&h, "admin");
    let body = json!({"name": "Made", "client_type": "service_account", "scope": "rest.all",
                      "user": "aldo"});
    let made = admin.call("POST", "apps", &body);
    let made = made.ok(201, "create").clone();
    let me = aldo.get("me/apps");
    let bound = me.body["bound"].as_array().unwrap();
    let shown = bound
        .iter()
        .find(|a| a["client_id"] == made["client_id"])
        .unwrap();
    assert_eq!(
        shown["client_secret"], made["client_secret"],
        "the sealed copy, opened"
    );
    // bruna sees hers, not aldo's.
    let bruna = Api::login(&h, "bruna").get("me/apps");
    assert_eq!(ids(&bruna.body["bound"]), [SA_BRUNA]);
    assert!(!bruna.body.to_string().contains(SA_SECRET));
}

#[test]
fn bound_service_accounts_come_without_secrets_when_users_may_not_manage_them() {
    let h = Harness::start(&apps(false));
    let aldo = Api::login(&h, "aldo");
    let me = aldo.get("me/apps");
    let me = me.ok(200, "me/apps");
    assert_eq!(me["settings"]["users_can_manage_secrets"], false);
    assert_eq!(ids(&me["bound"])[0], SA);
    for app in me["bound"].as_array().unwrap() {
        assert!(app.get("client_secret").is_none(), "{app}");
    }
    assert!(!me.to_string().contains(SA_SECRET));
}

#[test]
fn an_authorized_web_app_is_listed_and_can_be_revoked() {
    let h = Harness::start(&apps(false));
    let before = unix_now();
    let aldo_tokens = authorize(&h, "aldo");
    let bruna_tokens = authorize(&h, "bruna");
    let aldo = Api::login(&h, "aldo");
    let me = aldo.get("me/apps");
    let me = me.ok(200, "me/apps");
    assert_eq!(ids(&me["authorized"]), [WEB]);
    let app = &me["authorized"][0];
    assert_eq!(app["grants"], 1);
    assert_eq!(app["scope"], "rest.all.read");
    assert_eq!(app["name"], format!("Portal {WEB}"));
    let at = app["authorized_at"].as_u64().unwrap();
    assert!(
        at >= before - 5 && at <= unix_now() + 5,
        "authorized_at {at}"
    );
    assert!(app.get("client_secret").is_none(), "{app}");
    let a = aldo.call("POST", &format!("me/apps/{WEB}/revoke"), &Value::Null);
    assert_eq!(a.ok(200, "revoke")["revoked"], 2, "access + refresh token");
    assert_eq!(
        h.query_invoices(aldo_tokens["access_token"].as_str().unwrap())
            .status(),
        401
    );
    let rt = aldo_tokens["refresh_token"].as_str().unwrap();
    let r = h.token_basic(
        WEB,
        WEB_SECRET,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    );
    assert_eq!(r.status(), 400);
    assert_eq!(json(r)["error"], "invalid_grant");
    assert!(ids(&aldo.get("me/apps").body["authorized"]).is_empty());
    // bruna's authorization of the same app is hers.
    assert_eq!(
        h.query_invoices(bruna_tokens["access_token"].as_str().unwrap())
            .status(),
        200
    );
    let bruna = Api::login(&h, "bruna");
    assert_eq!(ids(&bruna.get("me/apps").body["authorized"]), [WEB]);
    // Nothing left to revoke for aldo: the app is neither authorized nor bound.
    aldo.call("POST", &format!("me/apps/{WEB}/revoke"), &Value::Null)
        .err(404, "not_found", "revoked already");
}

#[test]
fn revoking_a_bound_service_account_kills_its_tokens() {
    let h = Harness::start(&apps(false));
    let tokens: Vec<String> = (0..2).map(|_| h.token(SA, SA_SECRET)).collect();
    let other = h.token(SA_BRUNA, "bruna-secret");
    let aldo = Api::login(&h, "aldo");
    let a = aldo.call("POST", &format!("me/apps/{SA}/revoke"), &Value::Null);
    assert_eq!(a.ok(200, "revoke bound")["revoked"], 2);
    for t in &tokens {
        assert_eq!(h.query_invoices(t).status(), 401);
    }
    assert_eq!(h.query_invoices(&other).status(), 200);
    let before = std::fs::read(h.path("apps.toml")).unwrap();
    for (id, case) in [
        (SA_BRUNA, "bruna's account"),
        ("nope", "unknown app"),
        (NATIVE, "native"),
    ] {
        aldo.call("POST", &format!("me/apps/{id}/revoke"), &Value::Null)
            .err(404, "not_found", case);
    }
    assert_eq!(h.query_invoices(&other).status(), 200, "bruna's token");
    assert_eq!(std::fs::read(h.path("apps.toml")).unwrap(), before);
}

#[test]
fn a_user_may_replace_a_bound_secret_when_allowed() {
    let h = Harness::start(&apps(true));
    let aldo = Api::login(&h, "aldo");
    let a = aldo.call("POST", &format!("me/apps/{SA}/secret"), &Value::Null);
    let a = a.ok(200, "own secret");
    let secret = a["client_secret"].as_str().unwrap().to_string();
    assert_ne!(secret, SA_SECRET);
    assert_eq!(a["client_id"], SA);
    let r = h.token_basic(SA, SA_SECRET, &[("grant_type", "client_credentials")]);
    assert_eq!(r.status(), 401);
    assert_eq!(json(r)["error"], "invalid_client");
    h.token(SA, &secret);
    let me = aldo.get("me/apps");
    assert_eq!(
        me.body["bound"][0]["client_secret"],
        secret.as_str(),
        "shown again later"
    );
    let text = std::fs::read_to_string(h.path("apps.toml")).unwrap();
    assert!(!text.contains(&secret), "{text}");
    // Not for apps bound to someone else, an authorized web app, or an unknown app.
    authorize(&h, "aldo");
    let before = std::fs::read(h.path("apps.toml")).unwrap();
    for (id, case) in [(SA_BRUNA, "bruna's"), (WEB, "web app"), ("nope", "unknown")] {
        aldo.call("POST", &format!("me/apps/{id}/secret"), &Value::Null)
            .err(404, "not_found", case);
    }
    assert_eq!(std::fs::read(h.path("apps.toml")).unwrap(), before);
    h.token(SA_BRUNA, "bruna-secret");
}

#[test]
fn a_user_may_not_replace_a_secret_when_not_allowed() {
    let h = Harness::start(&apps(false));
    let aldo = Api::login(&h, "aldo");
    let before = std::fs::read(h.path("apps.toml")).unwrap();
    aldo.call("POST", &format!("me/apps/{SA}/secret"), &Value::Null)
        .err(403, "forbidden", "users_can_manage_secrets = false");
    aldo.call("POST", &format!("me/apps/{SA_BRUNA}/secret"), &Value::Null)
        .err(404, "not_found", "not bound to aldo");
    assert_eq!(std::fs::read(h.path("apps.toml")).unwrap(), before);
    h.token(SA, SA_SECRET);
    // Admins manage secrets regardless, here for the account bound to them.
    let admin = Api::login(&h, "admin");
    let me = admin.get("me/apps");
    assert_eq!(ids(&me.body["bound"]), [SA_ADMIN]);
    assert_eq!(me.body["bound"][0]["client_secret"], "admin-secret");
    let a = admin.call("POST", &format!("me/apps/{SA_ADMIN}/secret"), &Value::Null);
    assert!(a.ok(200, "admin's own")["client_secret"].is_string());
    admin
        .call("POST", &format!("me/apps/{SA}/secret"), &Value::Null)
        .err(404, "not_found", "admin: not bound to admin");
}
