//! Editing apps.toml acts on tokens already issued, without a restart: the global switches, the
//! enabled flag, scope and bound-user changes, deletion; an invalid edit keeps the last good one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::*;
use serde_json::json;

const ID: &str = "vte_d0000000000000000001";
const ADMIN_APP: &str = "vte_d0000000000000000002";

fn apps(oauth: bool, allow_admin: bool, enabled: bool, scope: &str, user: &str) -> String {
    let app = secret_app(ID, "s", scope, user)
        .replace("user = ", &format!("enabled = {enabled}\nuser = "));
    format!(
        "{}{app}{}",
        settings(oauth, allow_admin),
        secret_app(ADMIN_APP, "s-admin", "rest.all", "admin")
    )
}

fn token_status(h: &Harness, id: &str, secret: &str) -> (u16, String) {
    let r = h.token_basic(id, secret, &[("grant_type", "client_credentials")]);
    let status = r.status().as_u16();
    let v = json(r);
    (status, v["error"].as_str().unwrap_or("").to_string())
}

#[test]
fn disabling_the_app_refuses_its_tokens_at_once() {
    let h = Harness::start(&apps(true, false, true, "rest.all", "aldo"));
    let t = h.token(ID, "s");
    assert_eq!(h.query_invoices(&t).status(), 200);
    h.write_apps(&apps(true, false, false, "rest.all", "aldo"));
    h.eventually("disabled app refused", || {
        h.query_invoices(&t).status() == 401
    });
    assert_eq!(token_status(&h, ID, "s"), (401, "invalid_client".into()));
    h.write_apps(&apps(true, false, true, "rest.all", "aldo"));
    h.eventually("re-enabled app accepted", || {
        h.query_invoices(&t).status() == 200
    });
}

#[test]
fn oauth_disabled_refuses_issuance_and_every_bearer() {
    let h = Harness::start(&apps(true, false, true, "rest.all", "aldo"));
    let t = h.token(ID, "s");
    h.write_apps(&apps(false, false, true, "rest.all", "aldo"));
    h.eventually("bearer refused", || h.query_invoices(&t).status() == 401);
    assert_eq!(
        token_status(&h, ID, "s"),
        (400, "unauthorized_client".into())
    );
}

#[test]
fn admin_bound_accounts_follow_allow_admin_users() {
    let h = Harness::start(&apps(true, false, true, "rest.all", "aldo"));
    assert_eq!(
        token_status(&h, ADMIN_APP, "s-admin"),
        (400, "unauthorized_client".into())
    );
    h.write_apps(&apps(true, true, true, "rest.all", "aldo"));
    h.eventually("admin allowed", || {
        token_status(&h, ADMIN_APP, "s-admin").0 == 200
    });
    let t = h.token(ADMIN_APP, "s-admin");
    let rows = json(h.query_invoices(&t))["data"].as_array().unwrap().len();
    assert_eq!(rows, 5, "the admin sees every invoice");
    h.write_apps(&apps(true, false, true, "rest.all", "aldo"));
    h.eventually("admin token refused", || {
        h.query_invoices(&t).status() == 401
    });
}

#[test]
fn scope_and_bound_user_changes_apply_to_issued_tokens() {
    let h = Harness::start(&apps(true, false, true, "rest.all", "aldo"));
    let t = h.token(ID, "s");
    let create = json!({"elementType": "Invoice", "element": {"subject": "x"}});
    assert_eq!(
        h.call("/restapi/v1/vtews/create", &t, &create).status(),
        200
    );
    h.write_apps(&apps(true, false, true, "rest.all.read", "aldo"));
    h.eventually("narrowed scope", || {
        h.call("/restapi/v1/vtews/create", &t, &create).status() == 403
    });
    h.write_apps(&apps(true, false, true, "rest.all.read", "bruna"));
    h.eventually("rebound user", || {
        let v = json(h.query_invoices(&t));
        v["data"][0]["assigned_user_id"] == "bruna"
    });
    assert_eq!(h.last_received().header_values("x-crm-user"), ["bruna"]);
}

#[test]
fn deleting_the_app_refuses_its_tokens() {
    let h = Harness::start(&apps(true, false, true, "rest.all", "aldo"));
    let t = h.token(ID, "s");
    h.write_apps(&format!(
        "{}{}",
        settings(true, false),
        secret_app(ADMIN_APP, "s-admin", "rest.all", "admin")
    ));
    h.eventually("deleted app refused", || {
        h.query_invoices(&t).status() == 401
    });
}

#[test]
fn an_invalid_edit_is_refused_and_the_last_good_registry_stays() {
    let h = Harness::start(&apps(true, false, true, "rest.all", "aldo"));
    let t = h.token(ID, "s");
    let broken = apps(false, false, false, "rest.everything", "aldo");
    h.write_apps(&broken);
    h.eventually("refusal logged", || h.log().contains("apps.toml:"));
    assert!(h.log().contains("scope"), "{}", h.log());
    assert_eq!(
        h.query_invoices(&t).status(),
        200,
        "the broken edit was applied"
    );
    assert_eq!(token_status(&h, ID, "s").0, 200);
    h.write_apps("this is = = not toml");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(h.query_invoices(&t).status(), 200);
}

#[test]
fn users_file_edits_apply_too() {
    let h = Harness::start(&apps(true, false, true, "rest.all", "aldo"));
    let t = h.token(ID, "s");
    let users = std::fs::read_to_string(h.path("users.toml")).unwrap();
    let at = users.find("username = \"aldo\"").unwrap();
    let admin = at + users[at..].find("admin = false").unwrap();
    let promoted = format!(
        "{}admin = true{}",
        &users[..admin],
        &users[admin + "admin = false".len()..]
    );
    assert_ne!(users, promoted);
    std::fs::write(h.path("users.toml"), promoted).unwrap();
    h.eventually("aldo is now an admin", || {
        h.query_invoices(&t).status() == 401
    });
    assert_eq!(
        token_status(&h, ID, "s"),
        (400, "unauthorized_client".into())
    );
    std::fs::write(h.path("users.toml"), users).unwrap();
    h.eventually("aldo is a plain user again", || {
        h.query_invoices(&t).status() == 200
    });
}
