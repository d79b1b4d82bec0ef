//! Admin API and `signed_jwt` apps: the key pair made on creation (ES256 by default, RS256 on
//! request) signs assertions that get tokens, the `curl` example runs as printed, the JWK carries
//! `kid` and `alg`, and a new key pair retires the old key at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::api::Api;
use common::jwt::{assert_invalid_client, assert_token, claims, post_assertion};
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// The API client is common::api.
// ---------------------------------------------------------------------------------------------

/// The private key of an answer, ready to sign.
struct Signer {
    alg: Algorithm,
    key: EncodingKey,
    kid: String,
}

impl Signer {
    fn of(answer: &Value) -> Self {
        let pem = answer["private_key_pem"].as_str().unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----"),
            "PKCS#8: {pem}"
        );
        let jwk = &answer["private_key_jwk"];
        let (alg, key) = match jwk["alg"].as_str().unwrap() {
            "ES256" => (
                Algorithm::ES256,
                EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
            ),
            "RS256" => (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            ),
            other => panic!("alg {other}"),
        };
        let kid = jwk["kid"].as_str().unwrap().to_string();
        Self { alg, key, kid }
    }

    fn assertion(&self, h: &Harness, client_id: &str, with_kid: bool) -> String {
        let mut header = Header::new(self.alg);
        if with_kid {
            header.kid = Some(self.kid.clone());
        }
        jsonwebtoken::encode(&header, &claims(h, client_id), &self.key).unwrap()
    }
}

fn thumbprint(members: &Value) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(members.to_string().as_bytes()))
}

/// Checks the JWK: `kid` (the RFC 7638 thumbprint of the public part) and `alg`, private parts,
/// and the same key as the PEM.
fn check_jwk(answer: &Value, alg: &str) {
    let jwk = &answer["private_key_jwk"];
    assert_eq!(jwk["alg"], alg, "{jwk}");
    let kid = jwk["kid"].as_str().unwrap_or_default();
    assert!(!kid.is_empty(), "no kid: {jwk}");
    let pem = answer["private_key_pem"].as_str().unwrap();
    match alg {
        "ES256" => {
            assert_eq!(
                (jwk["kty"].as_str(), jwk["crv"].as_str()),
                (Some("EC"), Some("P-256"))
            );
            assert!(jwk["d"].is_string(), "private part: {jwk}");
            let members = json!({"crv": "P-256", "kty": "EC", "x": jwk["x"], "y": jwk["y"]});
            assert_eq!(kid, thumbprint(&members), "kid is the RFC 7638 thumbprint");
            use p256::pkcs8::DecodePrivateKey;
            let sk = p256::SecretKey::from_pkcs8_pem(pem).unwrap();
            let from_pem: Value = serde_json::from_str(&sk.to_jwk_string()).unwrap();
            assert_eq!(
                (&from_pem["x"], &from_pem["d"]),
                (&jwk["x"], &jwk["d"]),
                "same key"
            );
        }
        _ => {
            assert_eq!(jwk["kty"], "RSA");
            for part in ["n", "e", "d", "p", "q", "dp", "dq", "qi"] {
                assert!(jwk[part].is_string(), "{part} missing: {jwk}");
            }
            let members = json!({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]});
            assert_eq!(kid, thumbprint(&members), "kid is the RFC 7638 thumbprint");
            use rsa::pkcs8::DecodePrivateKey;
            use rsa::traits::PublicKeyParts;
            let sk = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
            assert_eq!(
                jwk["n"],
                URL_SAFE_NO_PAD.encode(sk.n().to_bytes_be()),
                "same key"
            );
        }
    }
}

/// Runs the answer's `curl` line with bash; returns the token endpoint's JSON answer.
fn run_curl(answer: &Value) -> Value {
    let line = answer["assertion_example"]["curl"].as_str().unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(line)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{line}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn create(api: &Api, extra: Value) -> Value {
    let mut body = json!({"name": "Signed", "client_type": "service_account",
                          "secret_type": "signed_jwt", "scope": "rest.all", "user": "aldo"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    api.call("POST", "apps", &body)
        .ok(201, "create a signed_jwt app")
        .clone()
}

fn check_new_app(h: &Harness, api: &Api, app: &Value, alg: &str) {
    let id = app["client_id"].as_str().unwrap();
    assert_eq!(app["secret_type"], "signed_jwt");
    assert!(app.get("client_secret").is_none(), "{app}");
    let public = app["jwt_public_key"].as_str().unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
    check_jwk(app, alg);
    // The example: claims for this client and the token endpoint, valid for 5 minutes.
    let example = &app["assertion_example"];
    let c = &example["claims"];
    assert_eq!(
        (c["iss"].as_str(), c["sub"].as_str()),
        (Some(id), Some(id)),
        "{c}"
    );
    assert_eq!(c["aud"], h.token_url());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        300,
        "{c}"
    );
    assert!(
        example["assertion"]
            .as_str()
            .is_some_and(|a| a.split('.').count() == 3)
    );
    let curl = example["curl"].as_str().unwrap();
    assert!(
        curl.starts_with("curl ") && curl.contains("/oauth2/v2.0/token.php"),
        "{curl}"
    );
    // The curl line, run as printed, gets a token that works.
    let got = run_curl(app);
    let token = got["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("curl got {got}"));
    assert_eq!(h.query_invoices(token).status(), 200);
    // Its assertion was single use.
    let again = post_assertion(h, example["assertion"].as_str().unwrap(), &[]);
    assert_ne!(
        again.status(),
        200,
        "the example assertion was accepted twice"
    );
    // Assertions signed with the private key, with and without kid.
    let signer = Signer::of(app);
    assert_token(
        h,
        post_assertion(h, &signer.assertion(h, id, true), &[]),
        "with kid",
    );
    assert_token(
        h,
        post_assertion(h, &signer.assertion(h, id, false), &[]),
        "without kid",
    );
    // Listings show the public key, never the private one.
    let shown = api.get(&format!("apps/{id}"));
    let shown = shown.ok(200, "GET");
    assert_eq!(shown["jwt_public_key"], app["jwt_public_key"]);
    for k in ["private_key_pem", "private_key_jwk", "assertion_example"] {
        assert!(shown.get(k).is_none(), "{k} listed: {shown}");
    }
    let file = std::fs::read_to_string(h.path("apps.toml")).unwrap();
    assert!(!file.contains("PRIVATE KEY"), "a private key in apps.toml");
}

#[test]
fn a_new_signed_jwt_app_gets_an_es256_key_by_default() {
    let h = Harness::start(&settings(true, false));
    let api = Api::login(&h, "admin");
    let app = create(&api, json!({}));
    check_new_app(&h, &api, &app, "ES256");
}

#[test]
fn a_new_signed_jwt_app_gets_an_rs256_key_on_request() {
    let h = Harness::start(&settings(true, false));
    let api = Api::login(&h, "admin");
    let app = create(&api, json!({"key_algorithm": "RS256"}));
    check_new_app(&h, &api, &app, "RS256");
    let file = std::fs::read_to_string(h.path("apps.toml")).unwrap();
    assert!(
        !file.contains("key_algorithm"),
        "an input-only key was written: {file}"
    );
}

#[test]
fn a_new_key_pair_retires_the_old_key_at_once() {
    let h = Harness::start(&settings(true, false));
    let api = Api::login(&h, "admin");
    let app = create(&api, json!({}));
    let id = app["client_id"].as_str().unwrap();
    let old = Signer::of(&app);
    let issued = json(post_assertion(&h, &old.assertion(&h, id, true), &[]));
    let issued = issued["access_token"].as_str().unwrap().to_string();
    let rotated = api.call("POST", &format!("apps/{id}/secret"), &Value::Null);
    let rotated = rotated.ok(200, "new key pair").clone();
    check_jwk(&rotated, "ES256");
    assert_ne!(rotated["private_key_pem"], app["private_key_pem"]);
    assert_ne!(rotated["jwt_public_key"], app["jwt_public_key"]);
    assert!(rotated.get("client_secret").is_none(), "{rotated}");
    let r = post_assertion(&h, &old.assertion(&h, id, true), &[]);
    assert_invalid_client(r, "the old key after rotation");
    let r = post_assertion(&h, &old.assertion(&h, id, false), &[]);
    assert_invalid_client(r, "the old key without kid");
    let new = Signer::of(&rotated);
    assert_token(
        &h,
        post_assertion(&h, &new.assertion(&h, id, true), &[]),
        "the new key",
    );
    assert!(
        run_curl(&rotated)["access_token"].is_string(),
        "the new example"
    );
    assert_eq!(
        h.query_invoices(&issued).status(),
        200,
        "issued tokens live on"
    );
    // Rotating to another algorithm: RS256, then back to ES256.
    let body = json!({"key_algorithm": "RS256"});
    let rs = api.call("POST", &format!("apps/{id}/secret"), &body);
    let rs = rs.ok(200, "RS256 key pair").clone();
    check_jwk(&rs, "RS256");
    let r = post_assertion(&h, &new.assertion(&h, id, true), &[]);
    assert_invalid_client(r, "the ES256 key after rotation to RS256");
    let rs_signer = Signer::of(&rs);
    assert_token(
        &h,
        post_assertion(&h, &rs_signer.assertion(&h, id, true), &[]),
        "RS256",
    );
    let body = json!({"key_algorithm": "ES256"});
    let es = api.call("POST", &format!("apps/{id}/secret"), &body);
    let es = es.ok(200, "ES256 again").clone();
    let r = post_assertion(&h, &rs_signer.assertion(&h, id, true), &[]);
    assert_invalid_client(r, "the RS256 key after rotation");
    assert_token(
        &h,
        post_assertion(&h, &Signer::of(&es).assertion(&h, id, true), &[]),
        "ES",
    );
}

#[test]
fn a_signed_jwt_app_refuses_client_secrets() {
    let h = Harness::start(&settings(true, false));
    let api = Api::login(&h, "admin");
    let app = create(&api, json!({}));
    let id = app["client_id"].as_str().unwrap();
    let r = h.token_basic(id, "anything", &[("grant_type", "client_credentials")]);
    assert_eq!(r.status(), 401);
    assert_eq!(json(r)["error"], "invalid_client");
}

#[test]
fn an_app_created_with_its_own_public_key_gets_no_private_key() {
    let h = Harness::start(&settings(true, false));
    let api = Api::login(&h, "admin");
    let key = common::jwt::Key::es256();
    let app = create(
        &api,
        json!({"client_id": "own-key", "jwt_public_key": key.public_pem()}),
    );
    assert_eq!(app["secret_type"], "signed_jwt");
    for k in [
        "private_key_pem",
        "private_key_jwk",
        "assertion_example",
        "client_secret",
    ] {
        assert!(app.get(k).is_none(), "{k} in {app}");
    }
    let assertion = key.sign(&claims(&h, "own-key"));
    assert_token(
        &h,
        post_assertion(&h, &assertion, &[]),
        "the admin's own key",
    );
}

#[test]
fn patching_the_public_key_swaps_the_key() {
    let h = Harness::start(&settings(true, false));
    let api = Api::login(&h, "admin");
    let app = create(&api, json!({}));
    let id = app["client_id"].as_str().unwrap();
    let old = Signer::of(&app);
    let key = common::jwt::Key::rs256();
    let body = json!({"jwt_public_key": key.public_pem()});
    let a = api.call("PATCH", &format!("apps/{id}"), &body);
    assert_eq!(
        a.ok(200, "PATCH jwt_public_key")["jwt_public_key"],
        key.public_pem()
    );
    assert_token(
        &h,
        post_assertion(&h, &key.sign(&claims(&h, id)), &[]),
        "the new key",
    );
    let r = post_assertion(&h, &old.assertion(&h, id, true), &[]);
    assert_invalid_client(r, "the replaced key");
}
