//! Expiry with an injected clock: access tokens stop working exactly at `exp`, introspection
//! agrees, and client assertions are judged by the same clock. No sleeping.
//!
//! pingora cannot start a second server in a process once one has stopped, so one in-process
//! gateway serves both scenarios, one after the other, on the same clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::*;
use crmgate::clock::ManualClock;
use serde_json::{Value, json};

const ID: &str = "vte_e0000000000000000001";
const T0: u64 = 2_000_000_000;

fn token(g: &InProcess) -> String {
    let r = g
        .http
        .post(g.url("/oauth2/v2.0/token.php"))
        .basic_auth(ID, Some("s"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

fn query(g: &InProcess, token: &str) -> u16 {
    g.http
        .post(g.url("/restapi/v1/vtews/query"))
        .bearer_auth(token)
        .json(&json!({"query": "SELECT * FROM Invoice;"}))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn active(g: &InProcess, token: &str) -> bool {
    let r = g
        .http
        .post(g.url("/oauth2/v2.0/introspect.php"))
        .basic_auth(ID, Some("s"))
        .form(&[("token", token)])
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    v["active"] == true
}

#[test]
fn expiry_follows_the_injected_clock() {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let private = secret.to_pkcs8_pem(Default::default()).unwrap();
    let public = secret
        .public_key()
        .to_public_key_pem(Default::default())
        .unwrap();
    let key = jsonwebtoken::EncodingKey::from_ec_pem(private.as_bytes()).unwrap();
    let clock = ManualClock::new(T0);
    let apps = format!(
        "{}{}{}",
        settings(true, false),
        secret_app(ID, "s", "rest.all", "aldo"),
        jwt_app("vte_jwt", &public, "rest.all", "aldo")
    );
    let g = InProcess::start(&apps, clock.clone());
    access_tokens_expire_at_their_lifetime(&g, &clock);
    client_assertions_are_judged_by_the_injected_clock(&g, &clock, &key, T0 + 3600);
}

/// Starts at `T0`; leaves the clock at `T0 + 3600`.
fn access_tokens_expire_at_their_lifetime(g: &InProcess, clock: &ManualClock) {
    let t = token(g);
    assert_eq!(query(g, &t), 200);
    let introspected: Value = g
        .http
        .post(g.url("/oauth2/v2.0/introspect.php"))
        .basic_auth(ID, Some("s"))
        .form(&[("token", t.as_str())])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(introspected["iat"], T0);
    assert_eq!(introspected["exp"], T0 + 3600);
    clock.advance(3599);
    assert_eq!(
        query(g, &t),
        200,
        "cached and still valid one second before expiry"
    );
    assert!(active(g, &t));
    clock.advance(1);
    assert_eq!(query(g, &t), 401, "valid at exp");
    let r = g
        .http
        .post(g.url("/restapi/v1/vtews/query"))
        .bearer_auth(&t)
        .json(&json!({"query": "SELECT * FROM Invoice;"}))
        .send()
        .unwrap();
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let body: Value = r.json().unwrap();
    assert_eq!(
        body["error_description"], "the access token expired",
        "an expired token is named as such"
    );
    assert!(!active(g, &t));
    let fresh = token(g);
    assert_eq!(query(g, &fresh), 200);
}

fn assertion(key: &jsonwebtoken::EncodingKey, aud: &str, iat: u64, exp: u64, jti: &str) -> String {
    let claims =
        json!({"iss": "vte_jwt", "sub": "vte_jwt", "aud": aud, "iat": iat, "exp": exp, "jti": jti});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &claims,
        key,
    )
    .unwrap()
}

/// Starts with the clock at `t0`.
fn client_assertions_are_judged_by_the_injected_clock(
    g: &InProcess,
    clock: &ManualClock,
    key: &jsonwebtoken::EncodingKey,
    t0: u64,
) {
    let aud = g.url("/oauth2/v2.0/token.php");
    let send = |jwt: &str| {
        g.http
            .post(g.url("/oauth2/v2.0/token.php"))
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", jwt),
            ])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    // Valid by the gateway's clock, although long expired by the wall clock's.
    assert_eq!(send(&assertion(key, &aud, t0, t0 + 300, "a")), 200);
    assert_eq!(
        send(&assertion(key, &aud, t0, t0 + 300, "a")),
        401,
        "replayed jti"
    );
    assert_eq!(
        send(&assertion(key, &aud, t0, t0 + 601 + 30, "b")),
        401,
        "exp too far ahead"
    );
    let late = assertion(key, &aud, t0, t0 + 60, "c");
    clock.advance(91);
    assert_eq!(send(&late), 401, "expired beyond the skew");
    assert_eq!(send(&assertion(key, &aud, t0 + 91, t0 + 151, "c")), 200);
}
