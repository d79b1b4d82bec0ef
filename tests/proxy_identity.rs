//! What the CRM receives: the user the token acts as (two apps, two users, different rows), the
//! gateway's identity headers and nothing a client tried to inject, the signature, and
//! pass-through of unprotected paths.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::*;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const ALDO_APP: &str = "vte_b0000000000000000001";
const BRUNA_APP: &str = "vte_b0000000000000000002";

fn apps() -> String {
    format!(
        "{}{}{}",
        settings(true, false),
        secret_app(ALDO_APP, "s-aldo", "rest.all", "aldo"),
        secret_app(BRUNA_APP, "s-bruna", "rest.all.read", "bruna"),
    )
}

fn invoice_ids(r: reqwest::blocking::Response) -> Vec<String> {
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn two_apps_bound_to_two_users_see_different_rows() {
    let h = Harness::start(&apps());
    let aldo = h.token(ALDO_APP, "s-aldo");
    let bruna = h.token(BRUNA_APP, "s-bruna");
    assert_eq!(invoice_ids(h.query_invoices(&aldo)), ["7x1", "7x2"]);
    assert_eq!(invoice_ids(h.query_invoices(&bruna)), ["7x3", "7x4"]);
    let got = h.last_received();
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("bruna:ak-bruna");
    assert_eq!(
        got.header_values("authorization"),
        [format!("Basic {basic}").as_str()]
    );
}

#[test]
fn injected_identity_headers_never_reach_the_crm() {
    let h = Harness::start(&apps());
    let token = h.token(ALDO_APP, "s-aldo");
    let r = h
        .http
        .post(h.url("/restapi/v1/vtews/query"))
        .bearer_auth(&token)
        .header("X-Crm-User", "admin")
        .header("x-crm-user", "bruna")
        .header("X-CRM-Scope", "rest.all")
        .header("X-Crm-Client-Id", BRUNA_APP)
        .header("X_Crm_User", "admin")
        .header("Client-IP", "6.6.6.6")
        .header("X-Forwarded-For", "6.6.6.6")
        .header("Forwarded", "for=6.6.6.6")
        .header("X-Request-Id", "forged")
        .header("Connection", "keep-alive, X-Hop")
        .header("X-Hop", "1")
        .json(&json!({"query": "SELECT * FROM Invoice;"}))
        .send()
        .unwrap();
    assert_eq!(
        invoice_ids(r),
        ["7x1", "7x2"],
        "the CRM acted as someone else"
    );
    let got = h.last_received();
    assert_eq!(got.header_values("x-crm-user"), ["aldo"]);
    assert_eq!(got.header_values("x-crm-client-id"), [ALDO_APP]);
    assert_eq!(got.header_values("x-crm-scope"), ["rest.all"]);
    assert_eq!(got.header_values("x-forwarded-for"), ["127.0.0.1"]);
    for gone in ["x_crm_user", "client-ip", "forwarded", "x-hop"] {
        assert!(got.header_values(gone).is_empty(), "{gone} reached the CRM");
    }
    let ids = got.header_values("x-request-id");
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0], "forged");
    let all = format!("{:?}", got.headers);
    assert!(
        !all.contains("6.6.6.6") && !all.contains("admin") && !all.contains(&token),
        "{all}"
    );
}

#[test]
fn untrusted_peers_cannot_set_the_forwarded_chain() {
    let h = Harness::start(&apps());
    let token = h.token(ALDO_APP, "s-aldo");
    // No peer is trusted by default: the chain is replaced by the peer's address.
    let r = h
        .http
        .post(h.url("/restapi/v1/vtews/query"))
        .bearer_auth(&token)
        .header("X-Forwarded-For", "10.1.1.1")
        .json(&json!({"query": "SELECT * FROM Invoice;"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        h.last_received().header_values("x-forwarded-for"),
        ["127.0.0.1"]
    );
}

#[test]
fn signature_verifies_with_the_shared_secret() {
    let opts = Options {
        signing_secret: Some("shared-secret".into()),
        ..Options::default()
    };
    let h = Harness::start_with(&apps(), opts);
    let token = h.token(ALDO_APP, "s-aldo");
    let r = h
        .http
        .post(h.url("/restapi/v1/vtews/query?trace=1"))
        .bearer_auth(&token)
        .json(&json!({"query": "SELECT * FROM Invoice;"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = h.last_received();
    let ts = got.header_values("x-crm-gateway-timestamp")[0].to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(ts.parse::<u64>().unwrap().abs_diff(now) < 60);
    let mut mac = Hmac::<Sha256>::new_from_slice(b"shared-secret").unwrap();
    mac.update(
        format!("{ts}\nPOST\n/restapi/v1/vtews/query?trace=1\naldo\n{ALDO_APP}\nrest.all")
            .as_bytes(),
    );
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        got.header_values("x-crm-gateway-signature"),
        [want.as_str()]
    );
    // Unprotected calls are signed too, with empty identity fields.
    h.http.get(h.url("/")).send().unwrap();
    let got = h.last_received();
    let ts = got.header_values("x-crm-gateway-timestamp")[0].to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(b"shared-secret").unwrap();
    mac.update(format!("{ts}\nGET\n/\n\n\n").as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        got.header_values("x-crm-gateway-signature"),
        [want.as_str()]
    );
}

#[test]
fn headers_mode_sends_no_authorization_and_the_crm_trusts_x_crm_user() {
    let opts = Options {
        upstream_auth: "headers",
        ..Options::default()
    };
    let h = Harness::start_with(&apps(), opts);
    let token = h.token(BRUNA_APP, "s-bruna");
    assert_eq!(invoice_ids(h.query_invoices(&token)), ["7x3", "7x4"]);
    let got = h.last_received();
    assert!(got.header_values("authorization").is_empty());
    assert_eq!(got.header_values("x-crm-user"), ["bruna"]);
}

#[test]
fn unprotected_paths_pass_through_but_lose_identity_headers() {
    let h = Harness::start(&apps());
    let r = h
        .http
        .get(h.url("/?module=Home"))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .header("X-Crm-User", "admin")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = h.last_received();
    assert_eq!(got.uri, "/?module=Home");
    assert_eq!(got.header_values("authorization"), ["Basic dXNlcjpwYXNz"]);
    assert!(got.header_values("x-crm-user").is_empty());
}

#[test]
fn bearer_mistakes_get_rfc_6750_answers() {
    let h = Harness::start(&apps());
    let token = h.token(ALDO_APP, "s-aldo");
    let url = h.url("/restapi/v1/vtews/query");
    let body = json!({"query": "SELECT * FROM Invoice;"});
    let send = |rb: reqwest::blocking::RequestBuilder| rb.json(&body).send().unwrap();
    let r = send(h.http.post(&url));
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let r = send(
        h.http
            .post(&url)
            .header("Authorization", format!("bearer {token}")),
    );
    assert_eq!(r.status(), 200, "the scheme is case-insensitive");
    let r = send(h.http.post(format!("{url}?access_token={token}")));
    assert_eq!(
        (r.status().as_u16(), json(r)["error"].clone()),
        (400, json!("invalid_request"))
    );
    let r = send(
        h.http
            .post(&url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Authorization", format!("Bearer {token}")),
    );
    assert_eq!(r.status(), 400);
    let r = send(
        h.http
            .post(&url)
            .header("Authorization", "Bearer not a token"),
    );
    assert_eq!(r.status(), 400);
    let forged = format!("crm_at_{}", "A".repeat(43));
    let r = send(h.http.post(&url).bearer_auth(&forged));
    assert_eq!(
        (r.status().as_u16(), json(r)["error"].clone()),
        (401, json!("invalid_token"))
    );
    assert!(!h.log().contains(&token), "a token reached the log");
}
