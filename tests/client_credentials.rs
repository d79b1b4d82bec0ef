//! The client credentials grant over real HTTP: the three client authentication methods and the
//! ways a request can be wrong, each answered with its RFC 6749 §5.2 error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::*;
use serde_json::Value;

const ID: &str = "vte_00000000000000000001";
const SECRET: &str = "s3cret-with:colon%and+plus";

fn harness() -> Harness {
    let apps = format!(
        "{}{}",
        settings(true, false),
        secret_app(ID, SECRET, "rest.all", "aldo")
    );
    Harness::start(&apps)
}

fn error_of(r: reqwest::blocking::Response) -> (u16, String, Option<String>) {
    let status = r.status().as_u16();
    let cache = r
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = r.json().unwrap();
    assert!(body["error_description"].is_string());
    (status, body["error"].as_str().unwrap().to_string(), cache)
}

#[test]
fn basic_and_post_authentication_both_issue_tokens() {
    let h = harness();
    let r = h.token_basic(ID, SECRET, &[("grant_type", "client_credentials")]);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: Value = r.json().unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["scope"], "rest.all");
    let token = v["access_token"].as_str().unwrap();
    assert!(token.starts_with("crm_at_") && token.len() == 50, "{token}");
    let r = h
        .http
        .post(h.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", ID),
            ("client_secret", SECRET),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(json(r)["access_token"], v["access_token"]);
}

#[test]
fn basic_credentials_that_skip_form_encoding_still_work() {
    let h = harness();
    // reqwest does not form-encode Basic credentials; RFC 6749 §2.3.1 says to. Both must work.
    let raw = base64_basic(ID, SECRET);
    let encoded = base64_basic(ID, "s3cret-with%3Acolon%25and%2Bplus");
    for header in [raw, encoded] {
        let r = h
            .http
            .post(h.token_url())
            .header("Authorization", header)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

fn base64_basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

#[test]
fn wrong_unknown_or_missing_credentials_are_invalid_client() {
    let h = harness();
    let g = [("grant_type", "client_credentials")];
    let r = h.token_basic(ID, "wrong", &g);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(
        error_of(r),
        (401, "invalid_client".into(), Some("no-store".into()))
    );
    let r = h.token_basic("vte_unknown", SECRET, &g);
    assert_eq!(error_of(r).1, "invalid_client");
    let r = h.http.post(h.token_url()).form(&g).send().unwrap();
    assert_eq!(error_of(r).1, "invalid_client");
}

#[test]
fn malformed_requests_are_invalid_request() {
    let h = harness();
    let both = h
        .http
        .post(h.token_url())
        .basic_auth(ID, Some(SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", ID),
            ("client_secret", SECRET),
        ])
        .send()
        .unwrap();
    assert_eq!(
        error_of(both),
        (400, "invalid_request".into(), Some("no-store".into()))
    );
    let repeated = h
        .http
        .post(h.token_url())
        .basic_auth(ID, Some(SECRET))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&grant_type=client_credentials")
        .send()
        .unwrap();
    assert_eq!(error_of(repeated).1, "invalid_request");
    let json_body = h
        .http
        .post(h.token_url())
        .basic_auth(ID, Some(SECRET))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .unwrap();
    assert_eq!(error_of(json_body).1, "invalid_request");
    let in_query = h
        .http
        .post(format!("{}?client_secret={SECRET}", h.token_url()))
        .form(&[("grant_type", "client_credentials"), ("client_id", ID)])
        .send()
        .unwrap();
    assert_eq!(error_of(in_query).1, "invalid_request");
    let get = h.http.get(h.token_url()).send().unwrap();
    assert_eq!(get.headers()["allow"], "POST");
    assert_eq!(
        error_of(get),
        (405, "invalid_request".into(), Some("no-store".into()))
    );
    let missing = h.token_basic(ID, SECRET, &[]);
    assert_eq!(error_of(missing).1, "invalid_request");
}

#[test]
fn unknown_grants_and_scopes_are_refused() {
    let h = harness();
    let r = h.token_basic(ID, SECRET, &[("grant_type", "password"), ("username", "a")]);
    assert_eq!(
        error_of(r),
        (
            400,
            "unsupported_grant_type".into(),
            Some("no-store".into())
        )
    );
    let r = h.token_basic(
        ID,
        SECRET,
        &[("grant_type", "client_credentials"), ("scope", "admin")],
    );
    assert_eq!(error_of(r).1, "invalid_scope");
    let r = h.token_basic(
        ID,
        SECRET,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "rest.all.read"),
        ],
    );
    assert_eq!(r.status(), 200);
    assert_eq!(json(r)["scope"], "rest.all.read");
}

#[test]
fn a_narrower_requested_scope_is_what_the_token_gets() {
    let h = harness();
    let r = h.token_basic(
        ID,
        SECRET,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "rest.all.read"),
        ],
    );
    let token = json(r)["access_token"].as_str().unwrap().to_string();
    assert_eq!(h.query_invoices(&token).status(), 200);
    let create = serde_json::json!({"elementType": "Invoice", "element": {"subject": "x"}});
    assert_eq!(
        h.call("/restapi/v1/vtews/create", &token, &create).status(),
        403
    );
}

#[test]
fn oversized_bodies_are_refused_before_reading() {
    let h = harness();
    let big = "a".repeat(70 * 1024);
    let r = h
        .http
        .post(h.token_url())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&pad={big}"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[test]
fn metadata_names_the_endpoints() {
    let h = harness();
    let v = json(
        h.http
            .get(h.url("/.well-known/oauth-authorization-server"))
            .send()
            .unwrap(),
    );
    assert_eq!(v["issuer"], h.base);
    assert_eq!(v["token_endpoint"], h.token_url());
    assert_eq!(v["authorization_endpoint"], h.url("/oauth2/v2.0/auth.php"));
    assert_eq!(
        v["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(v["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(v["revocation_endpoint"], h.url("/oauth2/v2.0/revoke.php"));
    assert_eq!(
        v["introspection_endpoint"],
        h.url("/oauth2/v2.0/introspect.php")
    );
    assert!(
        v["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&"private_key_jwt".into())
    );
}

#[test]
fn public_clients_cannot_use_client_credentials() {
    let native = "[[apps]]\nclient_id = \"vte_native\"\nname = \"Mobile\"\nclient_type = \"native_app\"\n\
                  scope = \"rest.all\"\nredirect_uris = [\"http://127.0.0.1:9/cb\"]\n";
    let apps = format!(
        "{}{}{native}",
        settings(true, false),
        secret_app(ID, SECRET, "rest.all", "aldo")
    );
    let h = Harness::start(&apps);
    let r = h
        .http
        .post(h.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "vte_native"),
        ])
        .send()
        .unwrap();
    assert_eq!(
        error_of(r),
        (400, "unauthorized_client".into(), Some("no-store".into()))
    );
    let r = h
        .http
        .post(h.token_url())
        .form(&[("grant_type", "client_credentials"), ("client_id", ID)])
        .send()
        .unwrap();
    assert_eq!(
        error_of(r).1,
        "invalid_client",
        "a confidential client must authenticate"
    );
}

#[test]
fn failed_client_authentications_are_throttled_but_the_right_secret_still_works() {
    let extra = "[limits]\nclient_failures_per_client = 3\nclient_failures_per_ip = 6\nclient_throttle_seconds = 60\n";
    let apps = format!(
        "{}{}",
        settings(true, false),
        secret_app(ID, SECRET, "rest.all", "aldo")
    );
    let h = Harness::start_with(
        &apps,
        Options {
            extra: extra.into(),
            ..Options::default()
        },
    );
    let g = [("grant_type", "client_credentials")];
    for _ in 0..2 {
        assert_eq!(h.token_basic(ID, "guess", &g).status(), 401);
    }
    let r = h.token_basic(ID, "guess", &g);
    assert_eq!(
        r.status(),
        429,
        "the third failure for this client is throttled"
    );
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(error_of(r).1, "invalid_client");
    assert_eq!(
        h.token_basic(ID, SECRET, &g).status(),
        200,
        "the real client still gets in"
    );
    for _ in 0..3 {
        h.token_basic("vte_nobody", "guess", &g);
    }
    let r = h.token_basic(ID, SECRET, &g);
    assert_eq!(r.status(), 429, "this address has failed too often");
    assert!(r.headers().contains_key("retry-after"));
}
