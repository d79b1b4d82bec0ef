//! The gateway in front of the real vtenext CE 20.04.3 (`bash tests/vtenext/start.sh`, which runs
//! ../shared/vtenext/setup.sh): what each user sees through the gateway is what the CRM shows
//! them directly, scopes hold against real operations, writes really change the CRM, the CRM's
//! lock-out counter sees the real client, and the `upstream` users backend logs in with the CRM's
//! own passwords.
//!
//! These tests need that CRM: a plain `cargo test` lists them as ignored ("needs the real CRM"),
//! and `cargo test --test gateway real_crm -- --ignored` runs them (CI does, after starting it).
//! Run without the CRM they fail and say how to start it. `CRMGATE_REAL_CRM_ENV` names its
//! `crm.env` (default `/tmp/vtenext-crm/run/crm.env`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use crate::common;

use common::browser::{self, Browser};
use common::wire::{Wire, post};
use common::*;
use serde_json::{Value, json};
use support::*;

const NEEDS: &str = "needs the real CRM: bash tests/vtenext/start.sh (see tests/real_crm.rs)";

#[test]
#[ignore = "needs the real CRM: bash tests/vtenext/start.sh, then cargo test --test gateway real_crm -- --ignored"]
fn visibility_through_the_gateway_is_what_each_user_sees_directly() {
    let crm = Crm::get();
    let h = crm.gateway(
        &apps_for(&[("aldo", "rest.all.read"), ("bruna", "rest.all.read")]),
        "",
    );
    let mut names = Vec::new();
    for (i, user) in ["aldo", "bruna"].into_iter().enumerate() {
        let token = h.token(&app_id(i), SECRET);
        for q in [
            "SELECT accountname FROM Accounts;",
            "SELECT lastname, company FROM Leads;",
        ] {
            let direct = ids(&crm.direct(user, "query", &json!({ "query": q })));
            let through = ids(&json(h.call(QUERY, &token, &json!({ "query": q }))));
            assert_eq!(through, direct, "{user}: {q}");
            assert!(!direct.is_empty(), "{user} owns records: {q}");
        }
        let accounts = crm.direct(
            user,
            "query",
            &json!({"query": "SELECT accountname FROM Accounts;"}),
        );
        names.push(labels(&accounts, "accountname"));
    }
    assert!(
        names[0].contains(&"Aldo Alpha SpA".to_string()),
        "{names:?}"
    );
    assert!(
        !names[0].contains(&"Bruna Gamma SpA".to_string()),
        "{names:?}"
    );
    assert!(
        names[1].contains(&"Bruna Gamma SpA".to_string()),
        "{names:?}"
    );
}

#[test]
#[ignore = "needs the real CRM: bash tests/vtenext/start.sh, then cargo test --test gateway real_crm -- --ignored"]
fn every_scope_against_read_write_and_denied_operations() {
    let crm = Crm::get();
    let scopes = [
        ("aldo", "rest.all.read"),
        ("aldo", "rest.all.write"),
        ("aldo", "rest.all"),
    ];
    let h = crm.gateway(&apps_for(&scopes), "");
    let reads = [
        (
            "query",
            json!({"query": "SELECT accountname FROM Accounts;"}),
        ),
        ("describe", json!({"elementType": "Accounts"})),
        ("listtypes", json!({})),
        (
            "getlabels",
            json!({"module": "Accounts", "language": "en_us"}),
        ),
    ];
    for (i, (_, scope)) in scopes.iter().enumerate() {
        let token = h.token(&app_id(i), SECRET);
        let may_read = *scope != "rest.all.write";
        for (op, body) in &reads {
            let r = h.call(&format!("/restapi/v1/vtews/{op}"), &token, body);
            let status = r.status().as_u16();
            if may_read {
                assert_eq!(status, 200, "{scope} {op}");
                let v: Value = r.json().unwrap();
                assert_eq!(v["status"], 200, "{scope} {op}: the CRM answered {v}");
            } else {
                assert_eq!(status, 403, "{scope} {op}");
                assert_eq!(json(r)["error"], "insufficient_scope");
            }
        }
        for op in ["loginpwd", "processhandler", "olgetfilters", "nosuchop"] {
            let r = h.call(&format!("/restapi/v1/vtews/{op}"), &token, &json!({}));
            assert_eq!(r.status(), 403, "{scope} {op} is never forwarded");
        }
        let created = create_account(&h, &token, &format!("crmgate scope {scope} {}", nonce()));
        if *scope == "rest.all.read" {
            assert_eq!(created.0, 403, "{scope} create");
            continue;
        }
        assert_eq!(created.0, 200, "{scope} create: {:?}", created.1);
        let id = created.1["data"]["id"].as_str().unwrap().to_string();
        let r = h.call("/restapi/v1/vtews/delete", &token, &json!({ "id": id }));
        assert_eq!(r.status(), 200, "{scope} delete");
    }
}

#[test]
#[ignore = "needs the real CRM: bash tests/vtenext/start.sh, then cargo test --test gateway real_crm -- --ignored"]
fn create_and_delete_with_rest_all_really_change_the_crm() {
    let crm = Crm::get();
    let h = crm.gateway(&apps_for(&[("aldo", "rest.all")]), "");
    let token = h.token(&app_id(0), SECRET);
    let name = format!("crmgate real {}", nonce());
    let (status, v) = create_account(&h, &token, &name);
    assert_eq!(status, 200, "{v}");
    let id = v["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["data"]["assigned_user_id"], "19x4", "owned by aldo: {v}");
    let q =
        json!({"query": format!("SELECT accountname FROM Accounts WHERE accountname = '{name}';")});
    assert_eq!(ids(&crm.direct("aldo", "query", &q)), vec![id.clone()]);
    assert!(
        ids(&crm.direct("bruna", "query", &q)).is_empty(),
        "private to aldo"
    );
    let r = h.call("/restapi/v1/vtews/delete", &token, &json!({ "id": id }));
    assert_eq!(r.status(), 200);
    assert!(
        ids(&crm.direct("aldo", "query", &q)).is_empty(),
        "deleted in the CRM"
    );
}

#[test]
#[ignore = "needs the real CRM: bash tests/vtenext/start.sh, then cargo test --test gateway real_crm -- --ignored"]
fn the_crms_lock_out_counter_records_the_real_client_address() {
    let crm = Crm::get();
    // Proxied calls: a stale access key for bruna, from 127.0.0.2, spoofing another address.
    crm.sql("DELETE FROM vte_check_logins WHERE ip IN ('127.0.0.2', '127.0.0.3', '203.0.113.66');");
    let stale = format!(
        "[[users]]\nusername = \"bruna\"\ncrm_access_key = \"{}\"\n",
        "Stale0000000000"
    );
    let h = crm.gateway_with_users(&apps_for(&[("bruna", "rest.all")]), "", &stale);
    let token = h.token(&app_id(0), SECRET);
    let from = client_from("127.0.0.2");
    let r = from
        .post(h.url(QUERY))
        .bearer_auth(&token)
        .header("Client-IP", "203.0.113.66")
        .header("X-Forwarded-For", "203.0.113.66")
        .json(&json!({"query": "SELECT accountname FROM Accounts;"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 502, "the CRM refused the stale key");
    let v: Value = r.json().unwrap();
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("gateway's credentials"),
        "{v}"
    );
    let rows = crm.sql("SELECT ip FROM vte_check_logins WHERE userid = 5;");
    assert!(rows.contains("127.0.0.2"), "{rows}");
    assert!(!rows.contains("203.0.113.66"), "{rows}");
    // Logins of the upstream users backend: a wrong password typed at 127.0.0.3.
    let h = crm.upstream_gateway("");
    let page = login_from(&h, "127.0.0.3", "aldo", "not-the-password");
    assert_eq!(page.0, 401, "the login page again: {}", page.1);
    assert!(page.1.contains("Wrong username or password"), "{}", page.1);
    let rows = crm.sql("SELECT ip FROM vte_check_logins WHERE userid = 4;");
    assert!(rows.contains("127.0.0.3"), "{rows}");
    crm.sql("DELETE FROM vte_check_logins WHERE ip IN ('127.0.0.2', '127.0.0.3', '203.0.113.66');");
}

/// A browser at the web app's sign-in page.
fn sign_in_page(h: &Harness) -> (Browser<'_>, browser::Page) {
    let b = Browser::new(h);
    let url = browser::authorize_url(h, browser::WEB, browser::WEB_CB, "st", None);
    let page = b.get(&url);
    (b, page)
}

#[test]
#[ignore = "needs the real CRM: bash tests/vtenext/start.sh, then cargo test --test gateway real_crm -- --ignored"]
fn the_upstream_users_backend_logs_in_with_the_crms_passwords() {
    let crm = Crm::get();
    let h = crm.upstream_gateway("");
    let (b, page) = sign_in_page(&h);
    let consent = b.login(&page, "aldo", &crm.password("aldo"));
    assert!(consent.body.contains("value=\"allow\""), "{}", consent.body);
    let done = b.decide(&consent, "allow");
    assert_eq!(done.status, 303, "{}", done.body);
    let (code, _) = browser::code_and_state(&done.location, browser::WEB_CB);
    let tokens = browser::exchange(
        &h,
        browser::WEB,
        Some(browser::WEB_SECRET),
        &code,
        browser::WEB_CB,
        None,
    );
    let access = tokens["access_token"].as_str().unwrap();
    let q = json!({"query": "SELECT accountname FROM Accounts;"});
    let through = ids(&json(h.call(QUERY, access, &q)));
    assert_eq!(through, ids(&crm.direct("aldo", "query", &q)));
    assert!(!through.is_empty());
    // The CRM says admin is an administrator: refused while allow_admin_users is off.
    let (b, page) = sign_in_page(&h);
    let refused = b.login(&page, "admin", &crm.password("admin"));
    assert_eq!(refused.status, 403, "{}", refused.body);
    // A wrong password is a failed login, not an error.
    let (b, page) = sign_in_page(&h);
    let again = b.login(&page, "bruna", "wrong-password");
    assert_eq!(again.status, 401, "{}", again.body);
    assert!(again.body.contains("name=\"password\""), "{}", again.body);
    crm.sql("DELETE FROM vte_check_logins WHERE userid = 5 AND ip = '127.0.0.1';");
}

#[test]
#[ignore = "needs the real CRM: bash tests/vtenext/start.sh, then cargo test --test gateway real_crm -- --ignored"]
fn the_real_crms_answers_are_cleaned_and_made_http11() {
    let crm = Crm::get();
    let h = crm.gateway(&apps_for(&[("aldo", "rest.all.read")]), "");
    let token = h.token(&app_id(0), SECRET);
    let body = r#"{"query":"SELECT accountname FROM Accounts;"}"#;
    let direct = crm.raw(&format!(
        "POST {QUERY} HTTP/1.1\r\nHost: crm\r\nAuthorization: Basic {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        crm.basic("aldo"),
        body.len()
    ));
    assert!(direct.status_line.starts_with("HTTP/1.0 200"), "{direct:?}");
    assert_eq!(direct.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        direct.header("access-control-allow-credentials"),
        Some("true")
    );
    let mut w = Wire::connect(h.port);
    for i in 0..5 {
        let a = w.exchange(&post(QUERY, &token, body)).unwrap();
        assert_eq!(a.status_line, "HTTP/1.1 200 OK", "call {i}: {a:?}");
        assert!(!a.closes(), "call {i} keeps the connection: {a:?}");
        assert!(a.header("access-control-allow-origin").is_none(), "{a:?}");
        assert!(
            a.header("access-control-allow-credentials").is_none(),
            "{a:?}"
        );
        assert!(a.body.contains("Aldo Alpha SpA"), "{a:?}");
    }
}

#[test]
#[ignore = "needs the real CRM: bash tests/vtenext/start.sh, then cargo test --test gateway real_crm -- --ignored"]
fn legacy_api_and_trace_never_reach_the_real_crm() {
    let crm = Crm::get();
    let h = crm.gateway(&apps_for(&[("aldo", "rest.all")]), "");
    let token = h.token(&app_id(0), SECRET);
    let challenge = "GET /webservice.php?operation=getchallenge&username=aldo HTTP/1.1\r\nHost: crm\r\nConnection: close\r\n\r\n";
    let direct = crm.raw(challenge);
    assert!(direct.body.contains("\"success\":true"), "{direct:?}");
    let mut w = Wire::connect(h.port);
    let a = w.exchange(challenge).unwrap();
    assert_eq!(a.status(), 403, "{a:?}");
    // Apache echoes TRACE, with the credentials the gateway would have injected.
    let trace = format!(
        "TRACE {QUERY} HTTP/1.1\r\nHost: crm\r\nAuthorization: Basic {}\r\nConnection: close\r\n\r\n",
        crm.basic("aldo")
    );
    assert!(
        crm.raw(&trace).body.contains(&crm.basic("aldo")),
        "Apache echoes TRACE"
    );
    let mut w = Wire::connect(h.port);
    let a = w
        .exchange(&format!(
            "TRACE {QUERY} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ))
        .unwrap();
    assert_eq!(a.status(), 405, "{a:?}");
    assert!(!a.body.contains(&crm.basic("aldo")));
}

#[test]
#[ignore = "needs the real CRM: bash tests/vtenext/start.sh, then cargo test --test gateway real_crm -- --ignored"]
fn upstream_auth_headers_is_refused_by_the_unmodified_crm() {
    // vtenext trusts only Basic access keys: `headers` mode needs a CRM-side plugin. Against the
    // unmodified CRM the client gets the gateway's 502, not the CRM's 401.
    let crm = Crm::get();
    let h = crm.gateway(&apps_for(&[("aldo", "rest.all")]), "headers");
    let token = h.token(&app_id(0), SECRET);
    let r = h.call(
        QUERY,
        &token,
        &json!({"query": "SELECT accountname FROM Accounts;"}),
    );
    assert_eq!(r.status(), 502);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"], "bad_gateway", "{v}");
    let h = crm.gateway(&apps_for(&[("aldo", "rest.all")]), "basic");
    let token = h.token(&app_id(0), SECRET);
    let r = h.call(
        QUERY,
        &token,
        &json!({"query": "SELECT accountname FROM Accounts;"}),
    );
    assert_eq!(r.status(), 200, "{NEEDS}");
}
