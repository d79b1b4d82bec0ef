//! Public keys of `signed_jwt` service accounts (RFC 7523): PEM or JWK, validated at load time,
//! each bound to exactly one algorithm (RS256, ES256 or EdDSA).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use p256::pkcs8::DecodePublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// A verified public key and the one algorithm it may verify.
#[derive(Clone)]
pub struct JwtKey {
    /// The algorithm assertions must use.
    pub alg: Algorithm,
    /// The key for `jsonwebtoken`.
    pub key: DecodingKey,
    /// The JWK `kid`, when the key came as a JWK with one.
    pub kid: Option<String>,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Reads a PEM public key: SPKI for P-256, RSA or Ed25519, or PKCS#1 for RSA.
pub fn from_pem(pem: &str) -> Result<JwtKey, String> {
    let bytes = pem.trim().as_bytes();
    let (alg, key) = if p256::PublicKey::from_public_key_pem(pem.trim()).is_ok() {
        (Algorithm::ES256, DecodingKey::from_ec_pem(bytes))
    } else if let Some(rsa) = rsa_from_pem(pem.trim()) {
        check_rsa_size(&rsa)?;
        (Algorithm::RS256, DecodingKey::from_rsa_pem(bytes))
    } else if ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim()).is_ok() {
        (Algorithm::EdDSA, DecodingKey::from_ed_pem(bytes))
    } else {
        return Err("not a PEM public key of type P-256, RSA or Ed25519".into());
    };
    let key = key.map_err(|e| format!("unusable key: {e}"))?;
    Ok(JwtKey {
        alg,
        key,
        kid: None,
    })
}

fn rsa_from_pem(pem: &str) -> Option<rsa::RsaPublicKey> {
    rsa::RsaPublicKey::from_public_key_pem(pem)
        .ok()
        .or_else(|| rsa::RsaPublicKey::from_pkcs1_pem(pem).ok())
}

fn check_rsa_size(key: &rsa::RsaPublicKey) -> Result<(), String> {
    let bits = key.n().bits();
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
        ));
    }
    Ok(())
}

/// Reads a public JWK: `EC` on P-256, `RSA`, or `OKP` on Ed25519; symmetric keys are refused.
pub fn from_jwk(jwk: &Jwk) -> Result<JwtKey, String> {
    let alg = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            // p256 accepts only the key members, so validate those alone.
            let bare = serde_json::json!({"kty": "EC", "crv": "P-256", "x": p.x, "y": p.y});
            p256::PublicKey::from_jwk_str(&bare.to_string())
                .map_err(|_| "not a valid P-256 point")?;
            Algorithm::ES256
        }
        AlgorithmParameters::RSA(p) => {
            let n = b64_uint(&p.n)?;
            let e = b64_uint(&p.e)?;
            let key = rsa::RsaPublicKey::new(n, e).map_err(|e| format!("bad RSA key: {e}"))?;
            check_rsa_size(&key)?;
            Algorithm::RS256
        }
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            let x: [u8; 32] = URL_SAFE_NO_PAD
                .decode(&p.x)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or("Ed25519 x must be 32 bytes of base64url")?;
            ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|_| "not a valid Ed25519 key")?;
            Algorithm::EdDSA
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err("symmetric (oct) keys are refused: use a public key".into());
        }
        _ => return Err("unsupported key: use EC P-256, RSA or OKP Ed25519".into()),
    };
    if let Some(declared) = jwk.common.key_algorithm
        && !same_alg(declared, alg)
    {
        return Err(format!(
            "JWK alg {declared:?} does not match the key type ({alg:?})"
        ));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable key: {e}"))?;
    Ok(JwtKey {
        alg,
        key,
        kid: jwk.common.key_id.clone(),
    })
}

fn same_alg(declared: KeyAlgorithm, alg: Algorithm) -> bool {
    matches!(
        (declared, alg),
        (KeyAlgorithm::ES256, Algorithm::ES256)
            | (KeyAlgorithm::RS256, Algorithm::RS256)
            | (KeyAlgorithm::EdDSA, Algorithm::EdDSA)
    )
}

fn b64_uint(s: &str) -> Result<rsa::BigUint, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "RSA n and e must be base64url")?;
    Ok(rsa::BigUint::from_bytes_be(&bytes))
}
