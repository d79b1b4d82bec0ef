//! New credentials for apps: client secrets (256 random bits, written to `apps.toml` only as a
//! keyed hash plus a sealed copy) and key pairs for `signed_jwt` apps (ES256 or RS256; the
//! private key leaves the gateway once, as PEM and JWK, with a ready-to-run assertion).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::config::secret::{HASH_PREFIX, SecretFile};
use crate::gateway::Gateway;
use crate::login::sessions::random_id;
use crate::oauth::assertion::ASSERTION_TYPE;
use crate::registry::App;

/// A new client secret: what the caller sees once, and what goes into the file.
pub struct NewSecret {
    /// The secret.
    pub plaintext: String,
    /// `{ hash = "...", sealed = "..." }` for `client_secret`.
    pub file_value: Value,
}

/// Makes a secret for `client_id`.
pub fn new_secret(gw: &Gateway, client_id: &str) -> NewSecret {
    let plaintext = crate::generate::client_secret();
    let file_value = stored(gw, client_id, &plaintext);
    NewSecret {
        plaintext,
        file_value,
    }
}

/// How `secret` of `client_id` is written to the file: its keyed hash and a sealed copy.
pub fn stored(gw: &Gateway, client_id: &str, secret: &str) -> Value {
    let hash = gw.keys.secrets.hash(secret.as_bytes());
    let sealed = gw.keys.sealer.seal(secret.as_bytes(), client_id.as_bytes());
    json!({
        "hash": format!("{HASH_PREFIX}{}", URL_SAFE_NO_PAD.encode(hash.0)),
        "sealed": URL_SAFE_NO_PAD.encode(sealed),
    })
}

/// The app's secret in clear, when the file lets the gateway know it (a literal, or a sealed
/// copy this data dir can open).
pub fn readable_secret(gw: &Gateway, app: &App) -> Option<String> {
    match app.client_secret.as_ref()? {
        SecretFile::Literal(s) => Some(s.clone()),
        SecretFile::Env(_) => None,
        SecretFile::Hashed { sealed, .. } => {
            let sealed = URL_SAFE_NO_PAD.decode(sealed.as_ref()?).ok()?;
            let plain = gw.keys.sealer.open(&sealed, app.client_id.as_bytes())?;
            String::from_utf8(plain).ok()
        }
    }
}

/// A new key pair for a `signed_jwt` app.
pub struct NewKey {
    /// SPKI PEM, for `jwt_public_key`.
    pub public_pem: String,
    /// PKCS#8 PEM of the private key.
    pub private_pem: String,
    /// The private key as a JWK, with `kid` and `alg`.
    pub private_jwk: Value,
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// ES256 or RS256.
    pub alg: Algorithm,
}

fn thumbprint(members: &Value) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(members.to_string().as_bytes()))
}

fn b64(n: &rsa::BigUint) -> String {
    URL_SAFE_NO_PAD.encode(n.to_bytes_be())
}

/// Generates a key pair; `alg` is `ES256` (default) or `RS256`.
pub fn new_key_pair(alg: Option<&str>) -> Result<NewKey, ApiError> {
    let fail = |e: &dyn std::fmt::Display| ApiError::unavailable(format!("key generation: {e}"));
    match alg.unwrap_or("ES256") {
        "ES256" => {
            let sk = p256::SecretKey::random(&mut rand::rngs::OsRng);
            let private_pem = sk
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| fail(&e))?
                .to_string();
            let public_pem = sk
                .public_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| fail(&e))?;
            let mut jwk: Value = serde_json::from_str(&sk.to_jwk_string()).map_err(|e| fail(&e))?;
            let kid =
                thumbprint(&json!({"crv": "P-256", "kty": "EC", "x": jwk["x"], "y": jwk["y"]}));
            jwk["kid"] = json!(kid);
            jwk["alg"] = json!("ES256");
            jwk["use"] = json!("sig");
            Ok(NewKey {
                public_pem,
                private_pem,
                private_jwk: jwk,
                kid,
                alg: Algorithm::ES256,
            })
        }
        "RS256" => {
            let sk = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| fail(&e))?;
            let private_pem = sk
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| fail(&e))?
                .to_string();
            let public_pem = sk
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| fail(&e))?;
            let (n, e) = (b64(sk.n()), b64(sk.e()));
            let kid = thumbprint(&json!({"e": e, "kty": "RSA", "n": n}));
            let [p, q] = [&sk.primes()[0], &sk.primes()[1]];
            let jwk = json!({
                "kty": "RSA", "n": n, "e": e, "d": b64(sk.d()), "p": b64(p), "q": b64(q),
                "dp": sk.dp().map(b64), "dq": sk.dq().map(b64),
                "qi": sk.crt_coefficient().as_ref().map(b64),
                "kid": kid, "alg": "RS256", "use": "sig",
            });
            Ok(NewKey {
                public_pem,
                private_pem,
                private_jwk: jwk,
                kid,
                alg: Algorithm::RS256,
            })
        }
        _ => Err(ApiError::invalid("key_algorithm must be ES256 or RS256")),
    }
}

/// A signed assertion valid for five minutes and the `curl` line that trades it for a token.
pub fn assertion_example(gw: &Gateway, client_id: &str, key: &NewKey) -> Result<Value, ApiError> {
    let now = gw.clock.now();
    let claims = json!({
        "iss": client_id, "sub": client_id, "aud": gw.endpoints.token,
        "iat": now, "exp": now + 300, "jti": random_id(),
    });
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    let encoding = match key.alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(key.private_pem.as_bytes()),
        _ => EncodingKey::from_ec_pem(key.private_pem.as_bytes()),
    }
    .map_err(ApiError::unavailable)?;
    let assertion =
        jsonwebtoken::encode(&header, &claims, &encoding).map_err(ApiError::unavailable)?;
    let curl = format!(
        "curl -s -d grant_type=client_credentials -d client_assertion_type={ASSERTION_TYPE} \
         -d client_assertion={assertion} {}",
        gw.endpoints.token
    );
    Ok(
        json!({"claims": claims, "header": {"alg": format!("{:?}", key.alg), "kid": key.kid}, "assertion": assertion, "curl": curl}),
    )
}
