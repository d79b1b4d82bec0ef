//! `private_key_jwt` client authentication (RFC 7523 §2.2 / §3, RFC 7521 §4.2) at the token
//! endpoint of the real gateway, over raw HTTP: the assertions it must accept, and one test per
//! family of attack it must refuse with `invalid_client` (or `invalid_request` where the request
//! itself is malformed). Every negative case differs from a known-good assertion in one thing
//! only, with a fresh `jti`, and each test ends with a control that still succeeds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::jwt::*;
use common::*;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

#[test]
fn valid_es256_rs256_and_eddsa_assertions_issue_working_tokens() {
    let (es, rs, ed) = (Key::es256(), Key::rs256(), Key::eddsa());
    let h = harness(&[(ES, &es), (RS, &rs), (ED, &ed)]);
    for (id, key) in [(ES, &es), (RS, &rs), (ED, &ed)] {
        let r = post_assertion(&h, &key.sign(&claims(&h, id)), &[]);
        assert_token(&h, r, &format!("{id} with aud = token endpoint"));
    }
    // The issuer identifier is an accepted audience too (RFC 7523 §3, point 3).
    let c = claims_with(&h, ES, |c| {
        c.insert("aud".into(), json!(h.base));
    });
    assert_token(&h, post_assertion(&h, &es.sign(&c), &[]), "aud = issuer");
    // ... also written with a trailing slash, as some clients (authlib) send it.
    let c = claims_with(&h, ES, |c| {
        c.insert("aud".into(), json!(format!("{}/", h.base)));
    });
    assert_token(
        &h,
        post_assertion(&h, &es.sign(&c), &[]),
        "aud = issuer + /",
    );
    // A body client_id equal to iss is fine (RFC 7521 §4.2).
    assert_token(
        &h,
        post_assertion(&h, &es.sign(&claims(&h, ES)), &[("client_id", ES)]),
        "client_id = iss",
    );
    // The limits themselves: a 600 s lifetime, an exp 10 s past (within the 30 s skew), nbf/iat
    // just now, and no typ header.
    let c = claims_with(&h, ED, |c| {
        c.insert("exp".into(), json!(now() + 600));
    });
    assert_token(&h, post_assertion(&h, &ed.sign(&c), &[]), "exp 600 s ahead");
    let c = claims_with(&h, ED, |c| {
        c.insert("exp".into(), json!(now() - 10));
        c.insert("iat".into(), json!(now() - 100));
    });
    assert_token(
        &h,
        post_assertion(&h, &ed.sign(&c), &[]),
        "exp 10 s ago (within skew)",
    );
    let c = claims_with(&h, ES, |c| {
        c.insert("nbf".into(), json!(now()));
    });
    assert_token(
        &h,
        post_assertion(&h, &es.sign_raw(&json!({"alg": "ES256"}), &c), &[]),
        "no typ, nbf now",
    );
    // Scope narrowing works as for secrets.
    let r = post_assertion(&h, &rs.sign(&claims(&h, RS)), &[("scope", "rest.all.read")]);
    assert_eq!(r.status(), 200);
    assert_eq!(json(r)["scope"], "rest.all.read");
}

#[test]
fn alg_none_hs256_with_the_public_key_and_foreign_algs_are_refused() {
    let (es, rs, ed) = (Key::es256(), Key::rs256(), Key::eddsa());
    let h = harness(&[(ES, &es), (RS, &rs), (ED, &ed)]);
    let unsigned = |alg: &str, c: &Value| {
        format!(
            "{}.{}.",
            b64_json(&json!({"alg": alg, "typ": "JWT"})),
            b64_json(c)
        )
    };
    for alg in ["none", "None", "NONE"] {
        let c = claims(&h, ES);
        assert_invalid_client(
            post_assertion(&h, &unsigned(alg, &c), &[]),
            &format!("alg {alg}"),
        );
        // ... also with the original signature left in place.
        let signed = es.sign(&c);
        let sig = signed.rsplit('.').next().unwrap();
        let forged = format!("{}{sig}", unsigned(alg, &c));
        assert_invalid_client(
            post_assertion(&h, &forged, &[]),
            &format!("alg {alg} with a signature"),
        );
    }
    // HMAC keyed with the registered public key (the classic RS/HS confusion), for every key type,
    // with the PEM exactly as registered and trimmed.
    for (id, key) in [(ES, &es), (RS, &rs), (ED, &ed)] {
        let pem = key.public_pem();
        for secret in [pem.as_str(), pem.trim()] {
            for alg in ["HS256", "HS384", "HS512"] {
                let c = claims(&h, id);
                let input = format!(
                    "{}.{}",
                    b64_json(&json!({"alg": alg, "typ": "JWT"})),
                    b64_json(&c)
                );
                let sig = match alg {
                    "HS256" => {
                        let mut m =
                            Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
                        m.update(input.as_bytes());
                        m.finalize().into_bytes().to_vec()
                    }
                    "HS384" => {
                        let mut m =
                            Hmac::<sha2::Sha384>::new_from_slice(secret.as_bytes()).unwrap();
                        m.update(input.as_bytes());
                        m.finalize().into_bytes().to_vec()
                    }
                    _ => {
                        let mut m =
                            Hmac::<sha2::Sha512>::new_from_slice(secret.as_bytes()).unwrap();
                        m.update(input.as_bytes());
                        m.finalize().into_bytes().to_vec()
                    }
                };
                let jwt = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
                assert_invalid_client(
                    post_assertion(&h, &jwt, &[]),
                    &format!("{id}: {alg} keyed with the public PEM"),
                );
            }
        }
    }
    // A valid signature by a key of another algorithm than the registered one: each app's
    // claims signed by the other two keys (a correct signature, just not by its key and alg).
    for (id, key) in [(ES, &es), (RS, &rs), (ED, &ed)] {
        for other in [&es, &rs, &ed] {
            if other.alg() != key.alg() {
                let jwt = other.sign(&claims(&h, id));
                assert_invalid_client(
                    post_assertion(&h, &jwt, &[]),
                    &format!("{id} signed with {:?}", other.alg()),
                );
            }
        }
    }
    // An alg label that differs from the key while the signature is the key's own: ES256-signed
    // bytes relabelled ES384 / PS256 / RS256.
    for alg in ["ES384", "ES512", "PS256", "RS256", "EdDSA"] {
        let jwt = es.sign_raw(&json!({"alg": alg, "typ": "JWT"}), &claims(&h, ES));
        assert_invalid_client(
            post_assertion(&h, &jwt, &[]),
            &format!("ES256 key labelled {alg}"),
        );
    }
    for (id, key) in [(ES, &es), (RS, &rs), (ED, &ed)] {
        assert_token(
            &h,
            post_assertion(&h, &key.sign(&claims(&h, id)), &[]),
            &format!("{id} control"),
        );
    }
}

#[test]
fn bad_signatures_and_other_keys_are_refused() {
    let (es, rs, ed) = (Key::es256(), Key::rs256(), Key::eddsa());
    let h = harness(&[(ES, &es), (RS, &rs), (ED, &ed)]);
    for (id, key) in [(ES, &es), (RS, &rs), (ED, &ed)] {
        // One flipped bit in the signature, a payload changed after signing, a signature cut.
        let jwt = key.sign(&claims(&h, id));
        let parts: Vec<&str> = jwt.split('.').collect();
        let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let middle = sig.len() / 2;
        sig[middle] ^= 0x01;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&sig));
        assert_invalid_client(
            post_assertion(&h, &flipped, &[]),
            &format!("{id}: flipped signature byte"),
        );
        let mut payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["jti"] = json!(jti());
        let swapped = format!("{}.{}.{}", parts[0], b64_json(&payload), parts[2]);
        assert_invalid_client(
            post_assertion(&h, &swapped, &[]),
            &format!("{id}: payload changed after signing"),
        );
        let empty_sig = format!("{}.{}.", parts[0], parts[1]);
        assert_invalid_client(
            post_assertion(&h, &empty_sig, &[]),
            &format!("{id}: empty signature"),
        );
        let truncated = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(&sig[..sig.len() - 1])
        );
        assert_invalid_client(
            post_assertion(&h, &truncated, &[]),
            &format!("{id}: truncated signature"),
        );
        // The original is still fine: nothing above consumed its jti.
        assert_token(
            &h,
            post_assertion(&h, &jwt, &[]),
            &format!("{id}: untouched original"),
        );
    }
    // Same algorithm, different key.
    let (es2, ed2) = (Key::es256(), Key::eddsa());
    assert_invalid_client(
        post_assertion(&h, &es2.sign(&claims(&h, ES)), &[]),
        "another P-256 key",
    );
    assert_invalid_client(
        post_assertion(&h, &ed2.sign(&claims(&h, ED)), &[]),
        "another Ed25519 key",
    );
    // The RSA app (one RSA key per test keeps it fast): a foreign signature labelled RS256.
    let forged = es2.sign_raw(&json!({"alg": "RS256", "typ": "JWT"}), &claims(&h, RS));
    assert_invalid_client(
        post_assertion(&h, &forged, &[]),
        "RSA app, foreign signature labelled RS256",
    );
}

/// With `key` registered as a JWK with `kid = "k1"` (app `JWK`) next to a PEM key of the same
/// type (app `ES`): a header kid other than "k1" is refused, "k1" with the right key accepted;
/// the PEM app ignores header kids.
fn check_kid_rules(key: Key, pem_key: Key) {
    let mut toml = settings(true, false);
    toml.push_str(&jwk_app(JWK, &key.jwk_toml(Some("k1"))));
    toml.push_str(&jwt_app(ES, &pem_key.public_pem(), "rest.all", "aldo"));
    let h = Harness::start(&toml);
    let with_kid = |key: &Key, id: &str, kid: &str| {
        let mut header = Header::new(key.alg());
        header.kid = Some(kid.into());
        key.sign_header(&header, &claims(&h, id))
    };
    for kid in ["other", "K1", "k1 ", ""] {
        let r = post_assertion(&h, &with_kid(&key, JWK, kid), &[]);
        assert_invalid_client(r, &format!("JWK app, header kid {kid:?}"));
    }
    let alg = format!("{:?}", key.alg());
    let numeric = key.sign_raw(&json!({"alg": alg, "kid": 1}), &claims(&h, JWK));
    assert_invalid_client(post_assertion(&h, &numeric, &[]), "JWK app, numeric kid");
    // Right kid, wrong key.
    let r = post_assertion(&h, &with_kid(&pem_key, JWK, "k1"), &[]);
    assert_invalid_client(r, "JWK app, kid k1 but another key");
    assert_token(
        &h,
        post_assertion(&h, &with_kid(&key, JWK, "k1"), &[]),
        "JWK app, kid k1",
    );
    // A PEM key has no kid: whatever the header says is ignored, the signature decides.
    assert_token(
        &h,
        post_assertion(&h, &with_kid(&pem_key, ES, "whatever"), &[]),
        "PEM app, any kid",
    );
    assert_invalid_client(
        post_assertion(&h, &with_kid(&key, ES, "k1"), &[]),
        "PEM app, JWK key with kid k1",
    );
}

#[test]
fn a_registered_ed25519_jwk_kid_must_match_the_header_kid() {
    check_kid_rules(Key::eddsa(), Key::eddsa());
}

#[test]
fn a_registered_p256_jwk_kid_must_match_the_header_kid() {
    check_kid_rules(Key::es256(), Key::es256());
}

#[test]
fn a_registered_p256_jwk_without_kid_authenticates() {
    let (key, other) = (Key::es256(), Key::es256());
    let mut toml = settings(true, false);
    toml.push_str(&jwk_app(JWK, &key.jwk_toml(None)));
    let h = Harness::start(&toml);
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("anything".into());
    assert_invalid_client(
        post_assertion(&h, &other.sign(&claims(&h, JWK)), &[]),
        "another key",
    );
    assert_token(
        &h,
        post_assertion(&h, &key.sign_header(&header, &claims(&h, JWK)), &[]),
        "any kid",
    );
    assert_token(
        &h,
        post_assertion(&h, &key.sign(&claims(&h, JWK)), &[]),
        "no kid",
    );
}

#[test]
fn header_parameters_other_than_alg_typ_kid_are_refused() {
    let es = Key::es256();
    let h = harness(&[(ES, &es)]);
    let url = format!("{}/keys.json", h.base);
    // The attacker's "own" key, here simply the real one: the parameter's presence is refused.
    let (x, y) = es.ec_xy();
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y});
    let cases: Vec<(&str, Value)> = vec![
        ("jku", json!(url)),
        ("x5u", json!(url)),
        ("jwk", jwk),
        ("crit", json!(["exp"])),
        ("x5c", json!(["MIIB"])),
        ("x5t", json!("AAAA")),
        ("cty", json!("JWT")),
        ("b64", json!(false)),
        ("zip", json!("DEF")),
        ("enc", json!("A256GCM")),
    ];
    for (name, value) in cases {
        let mut header = json!({"alg": "ES256", "typ": "JWT"});
        header[name] = value;
        let jwt = es.sign_raw(&header, &claims(&h, ES));
        assert_invalid_client(post_assertion(&h, &jwt, &[]), &format!("header {name}"));
    }
    // typ must be JWT if present.
    for typ in ["at+jwt", "JWS", ""] {
        let jwt = es.sign_raw(&json!({"alg": "ES256", "typ": typ}), &claims(&h, ES));
        assert_invalid_client(post_assertion(&h, &jwt, &[]), &format!("typ {typ:?}"));
    }
    // A header that is not a JSON object, or has no alg.
    for header in [
        json!(["ES256"]),
        json!({"typ": "JWT"}),
        json!({"alg": ["ES256"]}),
    ] {
        let jwt = es.sign_raw(&header, &claims(&h, ES));
        assert_invalid_client(post_assertion(&h, &jwt, &[]), &format!("header {header}"));
    }
    // Control: the same hand-made signing with a clean header works.
    let jwt = es.sign_raw(
        &json!({"alg": "ES256", "typ": "JWT", "kid": "x"}),
        &claims(&h, ES),
    );
    assert_token(&h, post_assertion(&h, &jwt, &[]), "alg + typ + kid");
}
