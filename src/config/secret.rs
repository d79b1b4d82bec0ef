//! Secret values in configuration files: a literal string, or `{ env = "VAR" }` read at load time.

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
}

impl fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretFile::Literal(_) => f.write_str("Literal(<redacted>)"),
            SecretFile::Env(var) => write!(f, "Env({var})"),
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
        f.write_str("a string or a table { env = \"VAR\" }")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretFile, E> {
        Ok(SecretFile::Literal(v.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretFile, A::Error> {
        let mut env = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "env" => env = Some(map.next_value::<String>()?),
                other => return Err(de::Error::unknown_field(other, &["env"])),
            }
        }
        env.map(SecretFile::Env)
            .ok_or_else(|| de::Error::missing_field("env"))
    }
}
