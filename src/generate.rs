//! Fresh random values and password hashes: client ids (`vte_` + 20 lowercase hex, as the
//! contract names them), generated secrets (256 random bits as hex), and the argon2id PHC
//! strings of `crmgate hash-password` and their checks. The admin API, the CLI and the demo all take them from here.

use std::fmt::Write as _;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

/// `bytes` random bytes from the OS, as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf.iter()
        .fold(String::with_capacity(bytes * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A new client id: `vte_` + 20 lowercase hex.
pub fn client_id() -> String {
    format!("vte_{}", random_hex(10))
}

/// A new client secret: 256 random bits as 64 lowercase hex (verified by a keyed fast hash).
pub fn client_secret() -> String {
    random_hex(32)
}

/// The argon2id PHC string of `password`, with a random salt and the crate's default cost.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash: {e}"))
}

/// Whether `password` matches the argon2id PHC string `hash` (slow on purpose: call it off the
/// async workers). A malformed hash matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    argon2::PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let id = client_id();
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("vte_"));
        assert!(
            id[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(client_secret().len(), 64);
        assert_ne!(client_secret(), client_secret());
        let hash = hash_password("pw").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "pw"));
        assert!(!verify_password(&hash, "pW"));
        assert!(!verify_password("not a hash", "pw"));
    }
}
