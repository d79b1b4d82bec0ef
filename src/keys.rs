//! Key material the gateway generates into `data_dir` on first start, and the keyed hashes
//! derived from it (tokens and client secrets are only ever stored as such hashes).

use std::fs;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// File name of the master key inside `data_dir`.
pub const MASTER_KEY_FILE: &str = "gateway.key";
const KEY_LEN: usize = 32;

/// Why the key material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the key file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file exists but is not a key this gateway wrote.
    #[error(
        "{0}: not a {KEY_LEN}-byte key; refusing to start (restore it, or remove the whole data dir)"
    )]
    Malformed(PathBuf),
}

/// A 32-byte keyed hash output.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Digest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// HMAC-SHA256 with a fixed key, pre-keyed so each hash costs two compressions.
#[derive(Clone)]
pub struct KeyedHash {
    mac: HmacSha256,
}

impl KeyedHash {
    fn new(key: &[u8]) -> Self {
        // HMAC accepts keys of any length, so this cannot fail; fall back to an empty key anyway.
        let mac = HmacSha256::new_from_slice(key)
            .unwrap_or_else(|_| HmacSha256::new(&Default::default()));
        Self { mac }
    }

    /// The keyed hash of `data`.
    pub fn hash(&self, data: &[u8]) -> Digest {
        let mut mac = self.mac.clone();
        mac.update(data);
        Digest(mac.finalize().into_bytes().into())
    }

    /// Constant-time check that `data` hashes to `expected`.
    pub fn verify(&self, data: &[u8], expected: &Digest) -> bool {
        self.hash(data).ct_eq(expected)
    }
}

impl std::fmt::Debug for KeyedHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedHash(<key>)")
    }
}

/// Authenticated encryption (XChaCha20-Poly1305, random nonces) of the few secrets the gateway
/// must be able to read back, such as a user's CRM access key.
#[derive(Clone)]
pub struct Sealer {
    cipher: chacha20poly1305::XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key>)")
    }
}

impl Sealer {
    fn new(key: &Digest) -> Self {
        use chacha20poly1305::KeyInit;
        Self {
            cipher: chacha20poly1305::XChaCha20Poly1305::new(&key.0.into()),
        }
    }

    /// `nonce || ciphertext` of `plaintext`, bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        use chacha20poly1305::aead::{Aead, AeadCore, Payload};
        let nonce = chacha20poly1305::XChaCha20Poly1305::generate_nonce(&mut rand::rngs::OsRng);
        let payload = Payload {
            msg: plaintext,
            aad: context,
        };
        let mut out = nonce.to_vec();
        // Encryption of an in-memory buffer cannot fail; an empty result fails to open later.
        out.extend(self.cipher.encrypt(&nonce, payload).unwrap_or_default());
        out
    }

    /// The plaintext of a sealed value, if it is intact and was sealed with `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, Payload};
        if sealed.len() < 24 {
            return None;
        }
        let (nonce, ct) = sealed.split_at(24);
        let payload = Payload {
            msg: ct,
            aad: context,
        };
        self.cipher.decrypt(nonce.into(), payload).ok()
    }
}

/// The gateway's derived keys.
#[derive(Clone, Debug)]
pub struct KeyRing {
    /// Keys token records by token.
    pub tokens: KeyedHash,
    /// Hashes client secrets.
    pub secrets: KeyedHash,
    /// Keys single-use assertion ids.
    pub jti: KeyedHash,
    /// Keys login sessions and the browser bindings of pending authorization requests.
    pub logins: KeyedHash,
    /// Encrypts secrets kept in the store.
    pub sealer: Sealer,
}

impl KeyRing {
    /// Loads the master key from `data_dir`, generating it on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        let path = data_dir.join(MASTER_KEY_FILE);
        let master = match fs::read(&path) {
            Ok(bytes) if bytes.len() == KEY_LEN => bytes,
            Ok(_) => return Err(KeyError::Malformed(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(data_dir, &path)?,
            Err(source) => return Err(KeyError::Io { path, source }),
        };
        Ok(Self::from_master(&master))
    }

    /// Derives the ring from a master key (tests use fixed ones).
    pub fn from_master(master: &[u8]) -> Self {
        let root = KeyedHash::new(master);
        let derive = |label: &str| KeyedHash::new(&root.hash(label.as_bytes()).0);
        Self {
            tokens: derive("crmgate token key v1"),
            secrets: derive("crmgate client secret key v1"),
            jti: derive("crmgate assertion id key v1"),
            logins: derive("crmgate login cookie key v1"),
            sealer: Sealer::new(&root.hash(b"crmgate seal key v1")),
        }
    }
}

/// Writes a fresh random key durably, readable by the owner only.
fn create_key(dir: &Path, path: &Path) -> Result<Vec<u8>, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(io)?;
    let mut key = vec![0u8; KEY_LEN];
    rand::rngs::OsRng.fill_bytes(&mut key);
    crate::fsutil::write_atomic(path, &key, Some(0o600)).map_err(io)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2_vector() {
        let h = KeyedHash::new(b"Jefe");
        let d = h.hash(b"what do ya want for nothing?");
        let hex: String = d.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn sealed_values_open_only_with_their_context() {
        let s = KeyRing::from_master(&[9; 32]).sealer;
        let sealed = s.seal(b"access-key", b"aldo");
        assert_eq!(
            s.open(&sealed, b"aldo").as_deref(),
            Some(&b"access-key"[..])
        );
        assert_eq!(s.open(&sealed, b"bruna"), None);
        let mut tampered = sealed.clone();
        tampered[30] ^= 1;
        assert_eq!(s.open(&tampered, b"aldo"), None);
        assert_ne!(s.seal(b"access-key", b"aldo"), sealed, "nonces are random");
    }

    #[test]
    fn key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = KeyRing::load_or_create(dir.path()).unwrap();
        let b = KeyRing::load_or_create(dir.path()).unwrap();
        assert_eq!(a.tokens.hash(b"x"), b.tokens.hash(b"x"));
        assert_ne!(a.tokens.hash(b"x"), a.secrets.hash(b"x"));
        fs::write(dir.path().join(MASTER_KEY_FILE), b"short").unwrap();
        assert!(matches!(
            KeyRing::load_or_create(dir.path()),
            Err(KeyError::Malformed(_))
        ));
    }
}
