//! Client assertions for the `private_key_jwt` tests: keys of the three accepted algorithms,
//! claim sets relative to a harness, and assertions on the token endpoint's answers.

use std::time::{SystemTime, UNIX_EPOCH};

use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::rngs::OsRng;
use reqwest::blocking::Response;
use serde_json::{Value, json};

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const ES: &str = "jwt-es256";
pub const RS: &str = "jwt-rs256";
pub const ED: &str = "jwt-eddsa";
pub const JWK: &str = "jwt-jwk";
pub const OTHER: &str = "jwt-other";
pub const SECRET_APP: &str = "secret-app";
pub const SECRET: &str = "a-perfectly-good-secret";

// ---------------------------------------------------------------------------------------------
// Keys

/// A client key pair of one of the three accepted algorithms.
pub enum Key {
    Es256(p256::SecretKey),
    Rs256(Box<rsa::RsaPrivateKey>),
    EdDsa(ed25519_dalek::SigningKey),
}

impl Key {
    pub fn es256() -> Self {
        Key::Es256(p256::SecretKey::random(&mut OsRng))
    }

    pub fn rs256() -> Self {
        Key::Rs256(Box::new(rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap()))
    }

    pub fn eddsa() -> Self {
        Key::EdDsa(ed25519_dalek::SigningKey::generate(&mut OsRng))
    }

    pub fn alg(&self) -> Algorithm {
        match self {
            Key::Es256(_) => Algorithm::ES256,
            Key::Rs256(_) => Algorithm::RS256,
            Key::EdDsa(_) => Algorithm::EdDSA,
        }
    }

    /// SPKI PEM of the public key, as registered in apps.toml.
    pub fn public_pem(&self) -> String {
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

    pub fn encoding_key(&self) -> EncodingKey {
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
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_header(&Header::new(self.alg()), claims)
    }

    /// A JWS with the given jsonwebtoken header.
    pub fn sign_header(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding_key()).unwrap()
    }

    /// A JWS with an arbitrary JSON header, signed by hand (for header parameters jsonwebtoken
    /// would not emit as we want them).
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
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
    pub fn ec_xy(&self) -> (String, String) {
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
    pub fn jwk_toml(&self, kid: Option<&str>) -> String {
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

pub fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// A `signed_jwt` service account whose key is a JWK given as a TOML inline table.
pub fn jwk_app(client_id: &str, jwk_toml: &str) -> String {
    format!(
        "[[apps]]\nclient_id = \"{client_id}\"\nname = \"JWK {client_id}\"\nclient_type = \"service_account\"\n\
         secret_type = \"signed_jwt\"\njwt_public_key = {jwk_toml}\nscope = \"rest.all\"\nuser = \"aldo\"\n\n"
    )
}

/// A gateway with a `signed_jwt` app per `(client_id, key)`, plus an app using a client secret.
pub fn harness(apps: &[(&str, &Key)]) -> Harness {
    let mut toml = settings(true, false);
    for (id, key) in apps {
        toml.push_str(&jwt_app(id, &key.public_pem(), "rest.all", "aldo"));
    }
    toml.push_str(&secret_app(SECRET_APP, SECRET, "rest.all", "bruna"));
    Harness::start(&toml)
}

// ---------------------------------------------------------------------------------------------
// Claims and requests

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A fresh `jti` each call.
pub fn jti() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Claims the gateway must accept for `client_id`: iss = sub = client_id, aud = token endpoint,
/// iat now, exp in 5 minutes, a fresh jti.
pub fn claims(h: &Harness, client_id: &str) -> Value {
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
pub fn claims_with(
    h: &Harness,
    client_id: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Value {
    let mut c = claims(h, client_id);
    edit(c.as_object_mut().unwrap());
    c
}

/// POSTs a client_credentials request authenticated by `assertion`, plus `extra` parameters.
pub fn post_assertion(h: &Harness, assertion: &str, extra: &[(&str, &str)]) -> Response {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    h.http.post(h.token_url()).form(&form).send().unwrap()
}

/// Asserts a 200 token response and that the token works against the CRM.
pub fn assert_token(h: &Harness, r: Response, case: &str) {
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
pub fn assert_refused(r: Response, status: u16, error: &str, case: &str) {
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

pub fn assert_invalid_client(r: Response, case: &str) {
    assert_refused(r, 401, "invalid_client", case);
}

// ---------------------------------------------------------------------------------------------
// Tests
