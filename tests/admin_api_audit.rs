//! The audit log of the admin API: every change, by an admin or by a user on their own apps,
//! appends one JSON line to `data_dir/audit.log` with who, what, which app and when; no line
//! (and no line of the gateway's log) ever holds a secret or a private key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::api::*;
use common::*;
use serde_json::{Value, json};

const SA: &str = "vte_e9000000000000000001";
const SA_SECRET: &str = "sa-secret-that-was-in-the-file";

// ---------------------------------------------------------------------------------------------
// A small API client: the session cookie and CSRF token kept by hand.

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Every secret-looking string of an answer: client secrets, private keys (PEM body lines and
/// JWK private members), the example assertion.
fn secrets_of(answer: &Value, into: &mut Vec<String>) {
    if let Some(s) = answer["client_secret"].as_str() {
        into.push(s.to_string());
    }
    if let Some(pem) = answer["private_key_pem"].as_str() {
        into.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_string),
        );
    }
    let jwk = &answer["private_key_jwk"];
    for k in ["d", "p", "q", "dp", "dq", "qi"] {
        if let Some(s) = jwk[k].as_str() {
            into.push(s.to_string());
        }
    }
    if let Some(a) = answer["assertion_example"]["assertion"].as_str() {
        into.push(a.rsplit('.').next().unwrap().to_string());
    }
}

#[test]
fn every_change_is_one_json_line_without_secrets() {
    let apps = format!(
        "{}{}",
        settings(true, false).replace(
            "users_can_manage_secrets = false",
            "users_can_manage_secrets = true"
        ),
        secret_app(SA, SA_SECRET, "rest.all", "aldo"),
    );
    let h = Harness::start(&apps);
    let start = unix_now();
    let admin = Api::login(&h, "admin");
    let aldo = Api::login(&h, "aldo");
    let mut secrets = vec![SA_SECRET.to_string()];
    let mut expected: Vec<(&str, &str, Option<String>)> = Vec::new();

    admin
        .call("PUT", "settings", &json!({"allow_admin_users": true}))
        .ok(200, "settings");
    expected.push(("admin", "settings", None));
    let body = json!({"name": "Plain", "client_type": "service_account", "scope": "rest.all",
                      "user": "aldo"});
    let plain = admin.call("POST", "apps", &body).ok(201, "create").clone();
    secrets_of(&plain, &mut secrets);
    let plain_id = plain["client_id"].as_str().unwrap().to_string();
    expected.push(("admin", "create", Some(plain_id.clone())));
    let body = json!({"client_id": "given", "name": "Given", "client_type": "service_account",
                      "scope": "rest.all", "user": "aldo", "client_secret": "chosen-secret-77"});
    admin
        .call("POST", "apps", &body)
        .ok(201, "create with a given secret");
    secrets.push("chosen-secret-77".into());
    expected.push(("admin", "create", Some("given".into())));
    let body = json!({"name": "Signed", "client_type": "service_account",
                      "secret_type": "signed_jwt", "key_algorithm": "RS256", "scope": "rest.all",
                      "user": "aldo"});
    let signed = admin
        .call("POST", "apps", &body)
        .ok(201, "create signed")
        .clone();
    secrets_of(&signed, &mut secrets);
    let signed_id = signed["client_id"].as_str().unwrap().to_string();
    expected.push(("admin", "create", Some(signed_id.clone())));
    let route = format!("apps/{plain_id}");
    admin
        .call("PATCH", &route, &json!({"name": "P2", "enabled": false}))
        .ok(200, "patch");
    expected.push(("admin", "update", Some(plain_id.clone())));
    let a = admin.call("POST", &format!("{route}/secret"), &Value::Null);
    secrets_of(a.ok(200, "new secret"), &mut secrets);
    expected.push(("admin", "new_secret", Some(plain_id.clone())));
    let a = admin.call("POST", &format!("apps/{signed_id}/secret"), &Value::Null);
    secrets_of(a.ok(200, "new key"), &mut secrets);
    expected.push(("admin", "new_secret", Some(signed_id.clone())));
    admin
        .call("POST", &format!("{route}/revoke"), &Value::Null)
        .ok(200, "revoke");
    expected.push(("admin", "revoke", Some(plain_id.clone())));
    admin.call("DELETE", &route, &Value::Null).ok(200, "delete");
    expected.push(("admin", "delete", Some(plain_id.clone())));
    let a = aldo.call("POST", &format!("me/apps/{SA}/secret"), &Value::Null);
    secrets_of(a.ok(200, "own secret"), &mut secrets);
    expected.push(("aldo", "new_secret", Some(SA.into())));
    h.token(SA, a.body["client_secret"].as_str().unwrap());
    aldo.call("POST", &format!("me/apps/{SA}/revoke"), &Value::Null)
        .ok(200, "own revoke");
    expected.push(("aldo", "revoke_own", Some(SA.into())));
    // Reads and refused calls are not changes.
    aldo.call("GET", "me/apps", &Value::Null).ok(200, "read");
    admin.call("GET", "apps", &Value::Null).ok(200, "read");
    let refused = admin.call("PATCH", "apps/given", &json!({"scope": "rest.everything"}));
    assert_eq!(refused.status, 400);

    let log = std::fs::read_to_string(h.path("data/audit.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l}")))
        .collect();
    let got: Vec<(&str, &str, Option<String>)> = lines
        .iter()
        .map(|l| {
            let client = l["client_id"].as_str().map(str::to_string);
            (
                l["user"].as_str().unwrap(),
                l["action"].as_str().unwrap(),
                client,
            )
        })
        .collect();
    assert_eq!(got, expected, "{log}");
    for l in &lines {
        assert!(
            l.get("client_id").is_some(),
            "client_id key (null for settings): {l}"
        );
        let at = l["at"].as_u64().unwrap_or_else(|| panic!("no at: {l}"));
        assert!(at + 5 >= start && at <= unix_now() + 5, "at {at}: {l}");
    }
    assert_eq!(
        lines[0]["keys"],
        json!(["allow_admin_users"]),
        "the changed keys"
    );
    let mut keys: Vec<&str> = lines[4]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["enabled", "name"], "{}", lines[4]);

    assert!(secrets.len() > 20, "collected {} secrets", secrets.len());
    let gateway_log = h.log();
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "a secret in audit.log: {s}");
        assert!(
            !gateway_log.contains(s.as_str()),
            "a secret in the gateway log: {s}"
        );
    }
    assert!(
        !log.contains("PRIVATE KEY") && !log.contains("hmac-sha256"),
        "{log}"
    );
}
