//! `private_key_jwt` client authentication (RFC 7523 §2.2 / §3, RFC 7521 §4.2) at the token
//! endpoint of the real gateway, over raw HTTP: the assertions it must accept, and one test per
//! family of attack it must refuse with `invalid_client` (or `invalid_request` where the request
//! itself is malformed). Every negative case differs from a known-good assertion in one thing
//! only, with a fresh `jti`, and each test ends with a control that still succeeds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::rngs::OsRng;
use reqwest::blocking::Response;
use serde_json::{Value, json};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const ES: &str = "jwt-es256";
const RS: &str = "jwt-rs256";
const ED: &str = "jwt-eddsa";
const JWK: &str = "jwt-jwk";
const OTHER: &str = "jwt-other";
const SECRET_APP: &str = "secret-app";
const SECRET: &str = "a-perfectly-good-secret";

// ---------------------------------------------------------------------------------------------
// Keys

/// A client key pair of one of the three accepted algorithms.
enum Key {
    Es256(p256::SecretKey),
    Rs256(Box<rsa::RsaPrivateKey>),
    EdDsa(ed25519_dalek::SigningKey),
}

impl Key {
    fn es256() -> Self {
        Key::Es256(p256::SecretKey::random(&mut OsRng))
    }

    fn rs256() -> Self {
        Key::Rs256(Box::new(rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap()))
    }

    fn eddsa() -> Self {
        Key::EdDsa(ed25519_dalek::SigningKey::generate(&mut OsRng))
    }

    fn alg(&self) -> Algorithm {
        match self {
            Key::Es256(_) => Algorithm::ES256,
            Key::Rs256(_) => Algorithm::RS256,
            Key::EdDsa(_) => Algorithm::EdDSA,
        }
    }

    /// SPKI PEM of the public key, as registered in apps.toml.
    fn public_pem(&self) -> String {
        use p256::pkcs8::LineEnding::LF;
        match self {
            Key::Es256(k) => {
                p256::pkcs8::EncodePublicKey::to_public_key_pem(&k.public_key(), LF).unwrap()
            }
            Key::Rs256(k) => {
                rsa::pkcs8::EncodePublicKey::to_public_key_pem(&k.to_public_key(), LF).unwrap()
            }
            Key::EdDsa(k) => {
                ed25519_dalek::pkcs8::EncodePublicKey::to_public_key_pem(&k.verifying_key(), LF)
                    .unwrap()
            }
        }
    }

    fn encoding_key(&self) -> EncodingKey {
        use p256::pkcs8::LineEnding::LF;
        match self {
            Key::Es256(k) => {
                let pem = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(k, LF).unwrap();
                EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()
            }
            Key::Rs256(k) => {
                let pem = rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(k.as_ref(), LF).unwrap();
                EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
            }
            Key::EdDsa(k) => {
                let pem = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_pem(k, LF).unwrap();
                EncodingKey::from_ed_pem(pem.as_bytes()).unwrap()
            }
        }
    }

    /// A JWS with jsonwebtoken's standard header (`alg` + `typ: JWT`).
    fn sign(&self, claims: &Value) -> String {
        self.sign_header(&Header::new(self.alg()), claims)
    }

    /// A JWS with the given jsonwebtoken header.
    fn sign_header(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding_key()).unwrap()
    }

    /// A JWS with an arbitrary JSON header, signed by hand (for header parameters jsonwebtoken
    /// would not emit as we want them).
    fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64_json(header), b64_json(claims));
        let sig: Vec<u8> = match self {
            Key::Es256(k) => {
                use p256::ecdsa::signature::Signer;
                let sk = p256::ecdsa::SigningKey::from(k);
                let sig: p256::ecdsa::Signature = sk.sign(input.as_bytes());
                sig.to_bytes().to_vec()
            }
            Key::Rs256(k) => {
                use rsa::signature::{SignatureEncoding, Signer};
                let sk = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k.as_ref().clone());
                sk.sign(input.as_bytes()).to_vec()
            }
            Key::EdDsa(k) => {
                use ed25519_dalek::Signer;
                k.sign(input.as_bytes()).to_bytes().to_vec()
            }
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// Base64url x and y of a P-256 public key.
    fn ec_xy(&self) -> (String, String) {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let Key::Es256(k) = self else {
            panic!("only P-256 keys have x and y")
        };
        let point = k.public_key().to_encoded_point(false);
        (
            URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        )
    }

    /// The public key as a TOML inline-table JWK (P-256 or Ed25519), with `kid` if given.
    fn jwk_toml(&self, kid: Option<&str>) -> String {
        let kid = kid.map(|k| format!(", kid = \"{k}\"")).unwrap_or_default();
        match self {
            Key::Es256(_) => {
                let (x, y) = self.ec_xy();
                format!("{{ kty = \"EC\", crv = \"P-256\", x = \"{x}\", y = \"{y}\"{kid} }}")
            }
            Key::EdDsa(k) => {
                let x = URL_SAFE_NO_PAD.encode(k.verifying_key().as_bytes());
                format!("{{ kty = \"OKP\", crv = \"Ed25519\", x = \"{x}\"{kid} }}")
            }
            Key::Rs256(_) => panic!("RSA JWKs are not used here"),
        }
    }
}

fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// A `signed_jwt` service account whose key is a JWK given as a TOML inline table.
fn jwk_app(client_id: &str, jwk_toml: &str) -> String {
    format!(
        "[[apps]]\nclient_id = \"{client_id}\"\nname = \"JWK {client_id}\"\nclient_type = \"service_account\"\n\
         secret_type = \"signed_jwt\"\njwt_public_key = {jwk_toml}\nscope = \"rest.all\"\nuser = \"aldo\"\n\n"
    )
}

/// A gateway with a `signed_jwt` app per `(client_id, key)`, plus an app using a client secret.
fn harness(apps: &[(&str, &Key)]) -> Harness {
    let mut toml = settings(true, false);
    for (id, key) in apps {
        toml.push_str(&jwt_app(id, &key.public_pem(), "rest.all", "aldo"));
    }
    toml.push_str(&secret_app(SECRET_APP, SECRET, "rest.all", "bruna"));
    Harness::start(&toml)
}

// ---------------------------------------------------------------------------------------------
// Claims and requests

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A fresh `jti` each call.
fn jti() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Claims the gateway must accept for `client_id`: iss = sub = client_id, aud = token endpoint,
/// iat now, exp in 5 minutes, a fresh jti.
fn claims(h: &Harness, client_id: &str) -> Value {
    let t = now();
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": h.token_url(),
        "iat": t,
        "exp": t + 300,
        "jti": jti(),
    })
}

/// `claims` with `edit` applied.
fn claims_with(
    h: &Harness,
    client_id: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Value {
    let mut c = claims(h, client_id);
    edit(c.as_object_mut().unwrap());
    c
}

/// POSTs a client_credentials request authenticated by `assertion`, plus `extra` parameters.
fn post_assertion(h: &Harness, assertion: &str, extra: &[(&str, &str)]) -> Response {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    h.http.post(h.token_url()).form(&form).send().unwrap()
}

/// Asserts a 200 token response and that the token works against the CRM.
fn assert_token(h: &Harness, r: Response, case: &str) {
    let status = r.status();
    let body: Value = r.json().unwrap();
    assert_eq!(
        status,
        200,
        "{case}: expected a token, got {body}\n{}",
        h.log()
    );
    assert_eq!(body["token_type"], "Bearer", "{case}");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        h.query_invoices(token).status(),
        200,
        "{case}: the token does not work"
    );
}

/// Asserts an OAuth error response with `status` and `error`.
fn assert_refused(r: Response, status: u16, error: &str, case: &str) {
    let got = r.status().as_u16();
    let cache = r
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().unwrap();
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{case}: not JSON: {text}"));
    assert_eq!(
        (got, body["error"].as_str()),
        (status, Some(error)),
        "{case}: {body}"
    );
    assert!(body.get("access_token").is_none(), "{case}: {body}");
    assert_eq!(cache.as_deref(), Some("no-store"), "{case}");
}

fn assert_invalid_client(r: Response, case: &str) {
    assert_refused(r, 401, "invalid_client", case);
}

// ---------------------------------------------------------------------------------------------
// Tests

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

#[test]
fn claims_outside_the_rules_are_refused() {
    let es = Key::es256();
    let h = harness(&[(ES, &es)]);
    type Edit = Box<dyn Fn(&mut serde_json::Map<String, Value>)>;
    let token_url = h.token_url();
    let base = h.base.clone();
    let set = |k: &'static str, v: Value| -> Edit {
        Box::new(move |c| {
            c.insert(k.into(), v.clone());
        })
    };
    let remove = |k: &'static str| -> Edit {
        Box::new(move |c| {
            c.remove(k);
        })
    };
    let t = now();
    let cases: Vec<(&str, Edit)> = vec![
        (
            "aud another server",
            set("aud", json!("https://login.example.com/oauth2/token")),
        ),
        (
            "aud revocation endpoint",
            set("aud", json!(h.url("/oauth2/v2.0/revoke.php"))),
        ),
        (
            "aud token endpoint with a trailing slash",
            set("aud", json!(format!("{token_url}/"))),
        ),
        (
            "aud issuer with a path",
            set("aud", json!(format!("{base}/oauth2"))),
        ),
        (
            "aud issuer with two trailing slashes",
            set("aud", json!(format!("{base}//"))),
        ),
        (
            "aud array with the right value",
            set("aud", json!([token_url.clone()])),
        ),
        (
            "aud array with both right values",
            set("aud", json!([token_url.clone(), base.clone()])),
        ),
        ("aud missing", remove("aud")),
        ("exp missing", remove("exp")),
        ("exp expired a minute ago", set("exp", json!(t - 60))),
        ("exp 1 hour ahead", set("exp", json!(t + 3600))),
        ("exp 700 s ahead", set("exp", json!(t + 700))),
        ("exp as a string", set("exp", json!((t + 300).to_string()))),
        ("nbf in the future", set("nbf", json!(t + 300))),
        ("iat in the future", set("iat", json!(t + 300))),
        ("iss differs from sub", set("sub", json!("someone-else"))),
        ("sub missing", remove("sub")),
        ("jti missing", remove("jti")),
        ("jti empty", set("jti", json!(""))),
        ("jti not a string", set("jti", json!(12345))),
        ("jti too long", set("jti", json!("j".repeat(1000)))),
    ];
    for (case, edit) in cases {
        let mut c = claims(&h, ES);
        edit(c.as_object_mut().unwrap());
        assert_invalid_client(post_assertion(&h, &es.sign(&c), &[]), case);
    }
    // iss missing (sub still names the client): there is no client to speak of.
    let c = claims_with(&h, ES, |c| {
        c.remove("iss");
    });
    assert_invalid_client(post_assertion(&h, &es.sign(&c), &[]), "iss missing");
    assert_token(
        &h,
        post_assertion(&h, &es.sign(&claims(&h, ES)), &[]),
        "control",
    );
}

#[test]
fn another_clients_identity_is_refused() {
    let (es, other) = (Key::es256(), Key::es256());
    let h = harness(&[(ES, &es), (OTHER, &other)]);
    // iss = sub = another registered signed_jwt client, signed with my key.
    let c = claims(&h, OTHER);
    assert_invalid_client(
        post_assertion(&h, &es.sign(&c), &[]),
        "iss/sub of another jwt client",
    );
    // iss = sub = a client_secret client.
    let c = claims(&h, SECRET_APP);
    assert_invalid_client(
        post_assertion(&h, &es.sign(&c), &[]),
        "iss/sub of a secret client",
    );
    // iss = sub = an unknown client.
    let c = claims(&h, "nobody");
    assert_invalid_client(
        post_assertion(&h, &es.sign(&c), &[]),
        "iss/sub of an unknown client",
    );
    // iss mine, sub another's (and the other way round, signed by the other key).
    let c = claims_with(&h, ES, |c| {
        c.insert("sub".into(), json!(OTHER));
    });
    assert_invalid_client(
        post_assertion(&h, &es.sign(&c), &[]),
        "iss mine, sub another client",
    );
    let c = claims_with(&h, OTHER, |c| {
        c.insert("sub".into(), json!(ES));
    });
    assert_invalid_client(
        post_assertion(&h, &other.sign(&c), &[]),
        "iss other, sub mine",
    );
    // A valid assertion, with a body client_id naming someone else.
    for client_id in [OTHER, SECRET_APP, "nobody"] {
        let r = post_assertion(&h, &es.sign(&claims(&h, ES)), &[("client_id", client_id)]);
        assert_invalid_client(r, &format!("body client_id {client_id}"));
    }
    assert_token(
        &h,
        post_assertion(&h, &es.sign(&claims(&h, ES)), &[]),
        "control, mine",
    );
    assert_token(
        &h,
        post_assertion(&h, &other.sign(&claims(&h, OTHER)), &[]),
        "control, other",
    );
}

#[test]
fn a_replayed_jti_is_refused_even_after_a_restart() {
    let es = Key::es256();
    let mut h = harness(&[(ES, &es)]);
    let c = claims(&h, ES);
    let jwt = es.sign(&c);
    assert_token(&h, post_assertion(&h, &jwt, &[]), "first use");
    assert_invalid_client(post_assertion(&h, &jwt, &[]), "same assertion again");
    // A new assertion (other iat/exp, so other bytes) reusing the jti.
    let mut reuse = claims(&h, ES);
    reuse["jti"] = c["jti"].clone();
    reuse["exp"] = json!(now() + 200);
    let jwt2 = es.sign(&reuse);
    assert_ne!(jwt, jwt2);
    assert_invalid_client(post_assertion(&h, &jwt2, &[]), "new assertion, same jti");
    // Concurrent replays of a fresh assertion: exactly one wins.
    let fresh = es.sign(&claims(&h, ES));
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| post_assertion(&h, &fresh, &[]).status().as_u16()))
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "parallel replays: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count(),
        7,
        "parallel replays: {statuses:?}"
    );
    h.restart();
    assert_invalid_client(
        post_assertion(&h, &jwt, &[]),
        "same assertion after a restart",
    );
    assert_invalid_client(post_assertion(&h, &jwt2, &[]), "same jti after a restart");
    assert_invalid_client(
        post_assertion(&h, &fresh, &[]),
        "parallel winner after a restart",
    );
    assert_token(
        &h,
        post_assertion(&h, &es.sign(&claims(&h, ES)), &[]),
        "fresh jti after a restart",
    );
}

#[test]
fn malformed_assertions_are_refused() {
    let es = Key::es256();
    let h = harness(&[(ES, &es)]);
    let post = |form: &[(&str, &str)]| h.http.post(h.token_url()).form(form).send().unwrap();
    let good = es.sign(&claims(&h, ES));
    for bad_type in [
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "URN:IETF:PARAMS:OAUTH:CLIENT-ASSERTION-TYPE:JWT-BEARER",
        "jwt",
    ] {
        let r = post(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", bad_type),
            ("client_assertion", &good),
        ]);
        assert_invalid_client(r, &format!("client_assertion_type {bad_type}"));
    }
    let r = post(&[
        ("grant_type", "client_credentials"),
        ("client_assertion", &good),
    ]);
    assert_invalid_client(r, "client_assertion without client_assertion_type");
    let r = post(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
    ]);
    assert_refused(
        r,
        400,
        "invalid_request",
        "client_assertion_type without client_assertion",
    );

    let jwe = [
        b64_json(&json!({"alg": "RSA-OAEP-256", "enc": "A256GCM"})),
        URL_SAFE_NO_PAD.encode([7u8; 256]),
        URL_SAFE_NO_PAD.encode([1u8; 12]),
        URL_SAFE_NO_PAD.encode(b"ciphertext"),
        URL_SAFE_NO_PAD.encode([2u8; 16]),
    ]
    .join(".");
    let parts: Vec<&str> = good.split('.').collect();
    let garbage: Vec<(&str, String)> = vec![
        ("a.b.c", "a.b.c".into()),
        ("JWE-shaped 5 parts", jwe),
        ("two parts", format!("{}.{}", parts[0], parts[1])),
        ("four parts", format!("{good}.{}", parts[2])),
        ("dots only", "..".into()),
        (
            "not base64",
            format!("{}.{}!.{}", parts[0], parts[1], parts[2]),
        ),
        (
            "padded base64",
            format!("{}==.{}.{}", parts[0], parts[1], parts[2]),
        ),
        (
            "payload not JSON",
            format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode("nope"),
                parts[2]
            ),
        ),
        (
            "payload a JSON array",
            format!("{}.{}.{}", parts[0], b64_json(&json!([1])), parts[2]),
        ),
        ("whitespace", format!(" {good}")),
    ];
    for (case, value) in garbage {
        assert_invalid_client(post_assertion(&h, &value, &[]), case);
    }
    // Over the assertion size limit (8 KiB) but within the body limit: validly signed, refused.
    let big = claims_with(&h, ES, |c| {
        c.insert("pad".into(), json!("p".repeat(9 * 1024)));
    });
    assert_invalid_client(
        post_assertion(&h, &es.sign(&big), &[]),
        "a 12 KiB assertion",
    );
    // A 1 MB assertion exceeds the token endpoint's 64 KiB body limit: refused before it is read,
    // with 413 (the body limit of every OAuth endpoint) rather than 401.
    let huge = claims_with(&h, ES, |c| {
        c.insert("pad".into(), json!("p".repeat(1024 * 1024)));
    });
    let r = post_assertion(&h, &es.sign(&huge), &[]);
    assert_refused(r, 413, "invalid_request", "a 1 MB assertion");
    // The same padding, small enough, is accepted: the size is what was refused above.
    let small = claims_with(&h, ES, |c| {
        c.insert("pad".into(), json!("p".repeat(4 * 1024)));
    });
    assert_token(
        &h,
        post_assertion(&h, &es.sign(&small), &[]),
        "a 6 KiB assertion",
    );
    assert_token(&h, post_assertion(&h, &good, &[]), "control");
}

#[test]
fn a_basic_header_or_secret_next_to_an_assertion_is_invalid_request() {
    let es = Key::es256();
    let h = harness(&[(ES, &es)]);
    let form = |jwt: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_assertion_type", ASSERTION_TYPE.to_string()),
            ("client_assertion", jwt.to_string()),
        ]
    };
    let jwt = es.sign(&claims(&h, ES));
    let r = h
        .http
        .post(h.token_url())
        .basic_auth(SECRET_APP, Some(SECRET))
        .form(&form(&jwt))
        .send()
        .unwrap();
    assert_refused(r, 400, "invalid_request", "Basic (secret app) + assertion");
    let r = h
        .http
        .post(h.token_url())
        .basic_auth(ES, Some("x"))
        .form(&form(&jwt))
        .send()
        .unwrap();
    assert_refused(r, 400, "invalid_request", "Basic (same client) + assertion");
    let mut f = form(&jwt);
    f.push(("client_secret", SECRET.into()));
    f.push(("client_id", SECRET_APP.into()));
    let r = h.http.post(h.token_url()).form(&f).send().unwrap();
    assert_refused(
        r,
        400,
        "invalid_request",
        "client_secret + assertion in the body",
    );
    // None of the above consumed the jti.
    assert_token(
        &h,
        post_assertion(&h, &jwt, &[]),
        "the same assertion alone",
    );
}

#[test]
fn a_signed_jwt_app_cannot_authenticate_with_a_client_secret() {
    let es = Key::es256();
    let h = harness(&[(ES, &es)]);
    let pem = es.public_pem();
    // Guesses an attacker might try as the "secret": its public key, nothing, its client_id.
    for secret in [SECRET, pem.as_str(), ES, "x"] {
        let r = h
            .http
            .post(h.token_url())
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", ES),
                ("client_secret", secret),
            ])
            .send()
            .unwrap();
        assert_invalid_client(r, "client_secret_post for a signed_jwt app");
        let r = h.token_basic(ES, secret, &[("grant_type", "client_credentials")]);
        assert_invalid_client(r, "client_secret_basic for a signed_jwt app");
    }
    // Naming itself with no credentials at all is no way in either: a confidential client that
    // does not authenticate is invalid_client.
    let r = h
        .http
        .post(h.token_url())
        .form(&[("grant_type", "client_credentials"), ("client_id", ES)])
        .send()
        .unwrap();
    assert_refused(r, 401, "invalid_client", "client_id only");
    assert_token(
        &h,
        post_assertion(&h, &es.sign(&claims(&h, ES)), &[]),
        "control",
    );
}
