//! Admin API happy paths, route by route: settings, the app list, create / read / change /
//! delete, revoke and new secret; each answer's shape, the `ETag` of every read and change, and
//! that secrets appear only in the answer that made them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::api::*;
use common::browser::{WEB, WEB_CB, WEB_SECRET, web_app};
use common::*;
use serde_json::{Value, json};

const SA: &str = "vte_e2000000000000000001";
const SA_SECRET: &str = "sa-secret";
const SA2: &str = "vte_e2000000000000000002";

// ---------------------------------------------------------------------------------------------
// A small API client: the session cookie and CSRF token kept by hand.

fn apps_text(h: &Harness) -> String {
    std::fs::read_to_string(h.path("apps.toml")).unwrap()
}

// ---------------------------------------------------------------------------------------------

fn harness() -> Harness {
    let apps = format!(
        "{}{}{}{}",
        settings(true, false),
        secret_app(SA, SA_SECRET, "rest.all", "aldo"),
        secret_app(SA2, "sa2-secret", "rest.all", "bruna"),
        web_app(WEB, WEB_SECRET, "rest.all.read", WEB_CB, true),
    );
    Harness::start(&apps)
}

/// No key of `v` (at any depth) is a secret or private key.
fn assert_no_secrets(v: &Value, case: &str) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                assert!(
                    !matches!(
                        k.as_str(),
                        "client_secret" | "private_key_pem" | "private_key_jwk"
                    ),
                    "{case}: {k} listed"
                );
                assert_no_secrets(v, case);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| assert_no_secrets(v, case)),
        Value::String(s) => assert!(s != SA_SECRET && s != WEB_SECRET, "{case}: secret {s}"),
        _ => {}
    }
}

fn is_generated_id(id: &str) -> bool {
    id.strip_prefix("vte_").is_some_and(|hex| {
        hex.len() == 20
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[test]
fn settings_read_and_change() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let got = api.get("settings");
    let want = json!({"oauth_enabled": true, "users_can_manage_secrets": false,
                      "allow_admin_users": false});
    assert_eq!(got.ok(200, "GET settings"), &want);
    let v1 = got.etag();
    assert!(
        v1.starts_with('"') && v1.ends_with('"') && v1.len() > 2,
        "{v1}"
    );
    let body = json!({"users_can_manage_secrets": true, "allow_admin_users": true});
    let put = api.call("PUT", "settings", &body);
    let want = json!({"oauth_enabled": true, "users_can_manage_secrets": true,
                      "allow_admin_users": true});
    assert_eq!(put.ok(200, "PUT settings"), &want);
    let v2 = put.etag();
    assert_ne!(v1, v2, "a change makes a new version");
    let again = api.get("settings");
    assert_eq!(again.ok(200, "GET again"), &want);
    assert_eq!(
        again.etag(),
        v2,
        "the ETag of the change is the file's version"
    );
    let text = apps_text(&h);
    assert!(text.contains("users_can_manage_secrets = true"), "{text}");
    assert!(text.contains("allow_admin_users = true"), "{text}");
    let put = api.call("PUT", "settings", &json!({"oauth_enabled": false}));
    assert_eq!(put.ok(200, "oauth off")["oauth_enabled"], false);
    let r = h.token_basic(SA, SA_SECRET, &[("grant_type", "client_credentials")]);
    assert_eq!(r.status(), 400, "oauth_enabled = false applies at once");
}

#[test]
fn the_app_list_has_apps_users_groups_and_endpoints_but_no_secrets() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let got = api.get("apps");
    let body = got.ok(200, "GET apps");
    assert!(got.etag_value().is_some(), "GET apps has an ETag");
    assert_eq!(
        got.etag(),
        api.get("settings").etag(),
        "one version for the file"
    );
    let ids: Vec<&str> = body["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [SA, SA2, WEB], "in file order");
    let sa = &body["apps"][0];
    assert_eq!(sa["name"], format!("App {SA}"));
    assert_eq!(sa["client_type"], "service_account");
    assert_eq!(sa["secret_type"], "client_secret");
    assert_eq!(sa["scope"], "rest.all");
    assert_eq!(sa["user"], "aldo");
    assert_eq!(sa["enabled"], true);
    assert!(
        sa.get("active_tokens").is_some() && sa.get("expired_tokens").is_some(),
        "{sa}"
    );
    let web = &body["apps"][2];
    assert_eq!(web["client_type"], "web_app");
    assert_eq!(web["redirect_uris"], json!([WEB_CB]));
    assert_eq!(web["offline_access"], true);
    assert_eq!(body["users"], json!(["admin", "aldo", "bruna", "carla"]));
    assert_eq!(body["groups"], json!(["sales", "support"]));
    let e = &body["endpoints"];
    assert_eq!(e["auth"], h.url("/oauth2/v2.0/auth.php"));
    assert_eq!(e["token"], h.url("/oauth2/v2.0/token.php"));
    assert_eq!(e["revoke"], h.url("/oauth2/v2.0/revoke.php"));
    assert_no_secrets(body, "GET apps");
    let one = api.get(&format!("apps/{SA}"));
    assert_eq!(one.ok(200, "GET app"), sa);
    assert_eq!(one.etag(), got.etag());
    assert_no_secrets(&one.body, "GET app");
}

#[test]
fn create_read_change_and_delete_a_service_account() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let v0 = api.get("apps").etag();
    let body = json!({"name": "ERP sync", "description": "Nightly",
                      "client_type": "service_account", "scope": "rest.all.read",
                      "user": "bruna"});
    let created = api.call("POST", "apps", &body);
    let app = created.ok(201, "POST apps").clone();
    let id = app["client_id"].as_str().unwrap().to_string();
    assert!(is_generated_id(&id), "{id}");
    assert_eq!(app["name"], "ERP sync");
    assert_eq!(app["description"], "Nightly");
    assert_eq!(app["secret_type"], "client_secret");
    assert_eq!(app["scope"], "rest.all.read");
    assert_eq!(app["user"], "bruna");
    assert_eq!(app["enabled"], true);
    let secret = app["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 32, "{secret}");
    let v1 = created.etag();
    assert_ne!(v0, v1);
    let token = h.token(&id, &secret);
    assert_eq!(h.query_invoices(&token).status(), 200);

    let read = api.get(&format!("apps/{id}"));
    let shown = read.ok(200, "GET new app");
    assert_eq!(shown["name"], "ERP sync");
    assert!(
        shown.get("client_secret").is_none(),
        "the secret is shown once: {shown}"
    );
    assert_eq!(read.etag(), v1);

    let change = json!({"name": "ERP", "description": "Hourly", "scope": "rest.all",
                        "user": "carla", "authorized_groups": ["sales"]});
    let patched = api.call("PATCH", &format!("apps/{id}"), &change);
    let p = patched.ok(200, "PATCH").clone();
    assert_eq!(
        (p["name"].as_str(), p["description"].as_str()),
        (Some("ERP"), Some("Hourly"))
    );
    assert_eq!(
        (p["scope"].as_str(), p["user"].as_str()),
        (Some("rest.all"), Some("carla"))
    );
    assert_eq!(p["authorized_groups"], json!(["sales"]));
    assert!(p.get("client_secret").is_none());
    let v2 = patched.etag();
    assert_ne!(v1, v2);
    assert_eq!(api.get(&format!("apps/{id}")).etag(), v2);
    h.token(&id, &secret); // the secret did not change

    let deleted = api.call("DELETE", &format!("apps/{id}"), &Value::Null);
    let d = deleted.ok(200, "DELETE");
    assert_eq!(d["deleted"], id.as_str());
    assert_eq!(d["revoked"], 2, "{d}");
    let v3 = deleted.etag();
    assert_ne!(v2, v3);
    api.get(&format!("apps/{id}"))
        .err(404, "not_found", "deleted app");
    assert!(!apps_text(&h).contains(&id));
    assert_eq!(
        h.query_invoices(&token).status(),
        401,
        "its tokens went with it"
    );
}

#[test]
fn create_web_and_native_apps_with_given_ids() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let web = json!({"client_id": "portal-2", "name": "Portal 2", "client_type": "web_app",
                     "scope": "rest.all.read", "redirect_uris": ["https://p2.example/cb"],
                     "offline_access": true, "all_users": false, "authorized_users": ["aldo"]});
    let w = api.call("POST", "apps", &web);
    let w = w.ok(201, "web app");
    assert_eq!(w["client_id"], "portal-2");
    assert_eq!(w["secret_type"], "client_secret");
    assert_eq!(w["redirect_uris"], json!(["https://p2.example/cb"]));
    assert_eq!(w["authorized_users"], json!(["aldo"]));
    assert!(
        w["client_secret"].as_str().is_some_and(|s| !s.is_empty()),
        "{w}"
    );
    let native = json!({"client_id": "mobile-2", "name": "Mobile 2", "client_type": "native_app",
                        "scope": "rest.all", "redirect_uris": ["http://127.0.0.1:9999/cb"]});
    let n = api.call("POST", "apps", &native);
    let n = n.ok(201, "native app");
    assert_eq!(n["client_type"], "native_app");
    assert!(n["secret_type"].is_null(), "a public client: {n}");
    assert!(
        n.get("client_secret").is_none() && n.get("private_key_pem").is_none(),
        "{n}"
    );
    let text = apps_text(&h);
    assert!(text.contains("client_id = \"portal-2\"") && text.contains("\"mobile-2\""));
    let list = api.get("apps");
    let ids: Vec<&str> = list.body["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [SA, SA2, WEB, "portal-2", "mobile-2"],
        "appended in order"
    );
    // A given client secret is taken as is (and still stored hashed).
    let given = json!({"client_id": "given", "name": "Given", "client_type": "service_account",
                       "scope": "rest.all", "user": "aldo", "client_secret": "my-own-secret-42"});
    let g = api.call("POST", "apps", &given);
    assert_eq!(
        g.ok(201, "given secret")["client_secret"],
        "my-own-secret-42"
    );
    assert!(
        !apps_text(&h).contains("my-own-secret-42"),
        "plaintext written"
    );
    h.token("given", "my-own-secret-42");
}

#[test]
fn creating_an_existing_client_id_is_a_conflict() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let before = apps_text(&h);
    let body = json!({"client_id": SA, "name": "Dup", "client_type": "service_account",
                      "scope": "rest.all", "user": "aldo"});
    api.call("POST", "apps", &body)
        .err(409, "conflict", "duplicate id");
    assert_eq!(apps_text(&h), before);
    h.token(SA, SA_SECRET);
}

#[test]
fn revoke_kills_every_token_of_the_app_and_only_those() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let tokens: Vec<String> = (0..3).map(|_| h.token(SA, SA_SECRET)).collect();
    let other = h.token(SA2, "sa2-secret");
    let before = apps_text(&h);
    let r = api.call("POST", &format!("apps/{SA}/revoke"), &Value::Null);
    assert_eq!(r.ok(200, "revoke")["revoked"], 3);
    for t in &tokens {
        assert_eq!(
            h.query_invoices(t).status(),
            401,
            "revoked token still works"
        );
    }
    assert_eq!(
        h.query_invoices(&other).status(),
        200,
        "another app's token was revoked"
    );
    assert_eq!(apps_text(&h), before, "revoking does not touch the file");
    let again = api.call("POST", &format!("apps/{SA}/revoke"), &Value::Null);
    assert_eq!(again.ok(200, "revoke again")["revoked"], 0);
    h.token(SA, SA_SECRET); // the app itself still works
}

#[test]
fn a_new_secret_replaces_the_old_one() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let v0 = api.get("apps").etag();
    let old_token = h.token(SA, SA_SECRET);
    let r = api.call("POST", &format!("apps/{SA}/secret"), &Value::Null);
    let body = r.ok(200, "new secret").clone();
    let secret = body["client_secret"].as_str().unwrap().to_string();
    assert_ne!(secret, SA_SECRET);
    assert_eq!(body["client_id"], SA);
    assert_ne!(r.etag(), v0);
    let refused = h.token_basic(SA, SA_SECRET, &[("grant_type", "client_credentials")]);
    assert_eq!(refused.status(), 401);
    assert_eq!(json(refused)["error"], "invalid_client");
    h.token(SA, &secret);
    assert_eq!(
        h.query_invoices(&old_token).status(),
        200,
        "issued tokens are not revoked"
    );
    assert!(
        api.get(&format!("apps/{SA}"))
            .body
            .get("client_secret")
            .is_none()
    );
    let text = apps_text(&h);
    assert!(
        !text.contains(&secret) && !text.contains(SA_SECRET),
        "{text}"
    );
    // A web app gets a new secret the same way.
    let w = api.call("POST", &format!("apps/{WEB}/secret"), &Value::Null);
    let web_secret = w.ok(200, "web secret")["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(web_secret, WEB_SECRET);
}

#[test]
fn every_change_answers_the_version_it_wrote() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let mut previous = api.get("apps").etag();
    let body = json!({"client_id": "etag-app", "name": "E", "client_type": "service_account",
                      "scope": "rest.all", "user": "aldo"});
    let changes = [
        ("PUT", "settings", json!({"allow_admin_users": true})),
        ("POST", "apps", body),
        ("PATCH", "apps/etag-app", json!({"name": "E2"})),
        ("POST", "apps/etag-app/secret", Value::Null),
        ("DELETE", "apps/etag-app", Value::Null),
        ("PUT", "settings", json!({"allow_admin_users": false})),
    ];
    for (method, route, body) in changes {
        // Each change sends the version the previous one answered: it is the current one.
        let a = api.send(method, route, &body, Some(&previous));
        assert!(a.status < 300, "{method} {route}: {}", a.body);
        let etag = a.etag();
        assert_ne!(
            etag, previous,
            "{method} {route}: the version did not change"
        );
        assert_eq!(api.get("settings").etag(), etag, "{method} {route}");
        previous = etag;
    }
}

#[test]
fn revoking_answers_the_current_version_too() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let version = api.get("apps").etag();
    h.token(SA, SA_SECRET);
    let r = api.call("POST", &format!("apps/{SA}/revoke"), &Value::Null);
    assert_eq!(r.ok(200, "revoke")["revoked"], 1);
    assert_eq!(
        r.etag_value().as_deref(),
        Some(version.as_str()),
        "revoke answered no ETag"
    );
}
