//! Secret values in configuration files: a literal string, `{ env = "VAR" }` read at load time,
//! or what the admin API writes, `{ hash = "hmac-sha256:...", sealed = "..." }`: a keyed hash that
//! verifies the secret and an encrypted copy that can be shown again, both tied to `data_dir`.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// How a secret is given in a file.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretFile {
    /// The secret itself.
    Literal(String),
    /// The name of an environment variable holding it.
    Env(String),
    /// A keyed hash (`hmac-sha256:` + base64url) and optionally a sealed copy (base64url).
    Hashed {
        /// The keyed hash.
        hash: String,
        /// The sealed secret.
        sealed: Option<String>,
    },
}

/// Prefix of hashed secrets.
pub const HASH_PREFIX: &str = "hmac-sha256:";

impl fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretFile::Literal(_) => f.write_str("Literal(<redacted>)"),
            SecretFile::Env(var) => write!(f, "Env({var})"),
            SecretFile::Hashed { .. } => f.write_str("Hashed(<redacted>)"),
        }
    }
}

impl SecretFile {
    /// The secret's value; an unset or empty variable is an error naming the variable.
    pub fn resolve(&self) -> Result<String, String> {
        match self {
            SecretFile::Literal(s) if s.is_empty() => Err("must not be empty".into()),
            SecretFile::Literal(s) => Ok(s.clone()),
            SecretFile::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(v),
                _ => Err(format!("environment variable {var} is not set")),
            },
            SecretFile::Hashed { .. } => Err("must be a string or { env = \"VAR\" }".into()),
        }
    }
}

impl<'de> Deserialize<'de> for SecretFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = SecretFile;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, { env = \"VAR\" } or { hash = \"...\", sealed = \"...\" }")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretFile, E> {
        Ok(SecretFile::Literal(v.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretFile, A::Error> {
        let (mut env, mut hash, mut sealed) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "env" => env = Some(map.next_value::<String>()?),
                "hash" => hash = Some(map.next_value::<String>()?),
                "sealed" => sealed = Some(map.next_value::<String>()?),
                other => return Err(de::Error::unknown_field(other, &["env", "hash", "sealed"])),
            }
        }
        match (env, hash, sealed) {
            (Some(env), None, None) => Ok(SecretFile::Env(env)),
            (None, Some(hash), sealed) if hash.starts_with(HASH_PREFIX) => {
                Ok(SecretFile::Hashed { hash, sealed })
            }
            (None, Some(_), _) => Err(de::Error::custom(format!(
                "hash must start with {HASH_PREFIX}"
            ))),
            _ => Err(de::Error::custom(
                "expected { env = \"VAR\" } or { hash = \"...\", sealed = \"...\" }",
            )),
        }
    }
}
