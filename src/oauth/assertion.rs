//! `private_key_jwt` client assertions (RFC 7523 §3, RFC 7521 §4.2): a JWS signed with the key
//! registered for the client. Strict by design: only RS256 / ES256 / EdDSA, only the `alg`, `typ`
//! and `kid` header parameters (no `jku`, `x5u`, `jwk`, `crit`, ...), a single-string `aud`,
//! a bounded `exp`, and a `jti` the caller must claim once.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clock::UnixTime;
use crate::registry::{App, ClientAuth, Registry};

/// The `client_assertion_type` of RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Longest `jti` accepted.
const MAX_JTI: usize = 256;

/// The checks' parameters.
pub struct Rules<'a> {
    /// Accepted `aud` values: the token endpoint URL and the issuer (with or without `/`).
    pub audiences: &'a [&'a str],
    /// Now.
    pub now: UnixTime,
    /// Longest `exp - now` accepted.
    pub max_lifetime: u64,
    /// Tolerated clock skew.
    pub skew: u64,
    /// Largest assertion accepted.
    pub max_bytes: usize,
}

/// A valid assertion: whose it is, and the id to claim once until it expires.
#[derive(Debug)]
pub struct Verified {
    /// The authenticated app.
    pub app: Arc<App>,
    /// The `jti` claim.
    pub jti: String,
    /// The `exp` claim.
    pub expires_at: UnixTime,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<Value>,
    sub: Option<Value>,
    aud: Option<Value>,
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
    jti: Option<Value>,
}

/// Verifies `jwt` against the key registered for its issuer. The error is a reason for the log.
pub fn verify(jwt: &str, reg: &Registry, rules: &Rules<'_>) -> Result<Verified, String> {
    if jwt.len() > rules.max_bytes {
        return Err(format!("assertion larger than {} bytes", rules.max_bytes));
    }
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err("assertion is not a compact JWS (JWE and malformed input are refused)".into());
    }
    let header = json_object(parts[0]).ok_or("assertion header is not a JSON object")?;
    let alg = check_header(&header)?;
    let peek = json_object(parts[1]).ok_or("assertion payload is not a JSON object")?;
    let client_id = peek
        .get("iss")
        .and_then(Value::as_str)
        .ok_or("assertion has no string iss")?;
    let app = reg
        .app(client_id)
        .ok_or("assertion iss is not a registered client")?;
    let ClientAuth::Jwt(key) = &app.auth else {
        return Err(format!(
            "client {client_id} is not registered for private_key_jwt"
        ));
    };
    if key.alg != alg {
        return Err(format!(
            "assertion alg {alg:?} is not the key's {:?}",
            key.alg
        ));
    }
    if let (Some(want), Some(got)) = (&key.kid, header.get("kid"))
        && got.as_str() != Some(want.as_str())
    {
        return Err("assertion kid does not name the registered key".into());
    }
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(jwt, &key.key, &validation)
        .map_err(|e| format!("assertion signature or encoding invalid: {e}"))?
        .claims;
    let (jti, expires_at) = check_claims(&claims, client_id, rules)?;
    Ok(Verified {
        app: app.clone(),
        jti,
        expires_at,
    })
}

fn json_object(segment: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

fn check_header(header: &Map<String, Value>) -> Result<Algorithm, String> {
    if let Some(extra) = header
        .keys()
        .find(|k| !matches!(k.as_str(), "alg" | "typ" | "kid"))
    {
        return Err(format!(
            "assertion header parameter {extra:?} is not accepted"
        ));
    }
    if let Some(typ) = header.get("typ") {
        let ok = typ
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("JWT") || t == "client-authentication+jwt");
        if !ok {
            return Err("assertion typ is not JWT".into());
        }
    }
    match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => Ok(Algorithm::RS256),
        Some("ES256") => Ok(Algorithm::ES256),
        Some("EdDSA") => Ok(Algorithm::EdDSA),
        other => Err(format!("assertion alg {other:?} is not accepted")),
    }
}

fn check_claims(
    c: &Claims,
    client_id: &str,
    rules: &Rules<'_>,
) -> Result<(String, UnixTime), String> {
    let is = |v: &Option<Value>, want: &str| v.as_ref().and_then(Value::as_str) == Some(want);
    if !is(&c.iss, client_id) || !is(&c.sub, client_id) {
        return Err("assertion iss and sub must both be the client_id".into());
    }
    let aud = c
        .aud
        .as_ref()
        .and_then(Value::as_str)
        .ok_or("assertion aud must be one string")?;
    if !rules.audiences.contains(&aud) {
        return Err(format!("assertion aud {aud:?} is not this token endpoint"));
    }
    let now = rules.now as f64;
    let skew = rules.skew as f64;
    let exp = c.exp.ok_or("assertion has no exp")?;
    if exp + skew <= now {
        return Err("assertion expired".into());
    }
    if exp > now + (rules.max_lifetime as f64) + skew {
        return Err(format!(
            "assertion exp is more than {} s ahead",
            rules.max_lifetime
        ));
    }
    if c.nbf.is_some_and(|nbf| nbf > now + skew) || c.iat.is_some_and(|iat| iat > now + skew) {
        return Err("assertion nbf or iat lies in the future".into());
    }
    let jti = match c.jti.as_ref().and_then(Value::as_str) {
        Some(j) if !j.is_empty() && j.len() <= MAX_JTI => j.to_string(),
        _ => return Err("assertion jti missing, not a string, or too long".into()),
    };
    Ok((jti, exp.max(0.0).ceil() as UnixTime + rules.skew))
}
