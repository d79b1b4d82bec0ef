//! The listener's certificate and key (`server.tls_cert`, `server.tls_key`): read and built into
//! a rustls server config the way pingora's listener builds it (pingora's loader, rustls'
//! `with_single_cert`), so a pair `check` accepts is a pair `serve` can serve with.

use std::path::{Path, PathBuf};

use pingora::tls::{CryptoProvider, RusTlsError, ServerConfig, load_certs_and_key_files, version};
use rustls_pemfile::Item;

use super::Problems;
use super::toml_doc::TomlDoc;

/// Which of the two files a problem concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    /// `server.tls_cert`.
    Cert,
    /// `server.tls_key`.
    Key,
}

impl TlsFile {
    /// The config key naming the file.
    pub fn setting(self) -> &'static str {
        match self {
            TlsFile::Cert => "server.tls_cert",
            TlsFile::Key => "server.tls_key",
        }
    }
}

/// Why the certificate and key cannot serve HTTPS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Missing, a directory, no permission, an I/O error.
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable {
        /// Which file.
        file: TlsFile,
        /// Its path.
        path: PathBuf,
        /// What the system said.
        reason: String,
    },
    /// Nothing (or only white space) in the file.
    #[error("{} is empty", path.display())]
    Empty {
        /// Which file.
        file: TlsFile,
        /// Its path.
        path: PathBuf,
    },
    /// PEM armor around something that is not base64, or a path that is not UTF-8.
    #[error("{} is not a PEM file: {reason}", path.display())]
    NotPem {
        /// Which file.
        file: TlsFile,
        /// Its path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No `CERTIFICATE` block.
    #[error("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display())]
    NoCertificate {
        /// Its path.
        path: PathBuf,
    },
    /// No `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block.
    #[error(
        "{} holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)",
        path.display()
    )]
    NoKey {
        /// Its path.
        path: PathBuf,
    },
    /// A key block rustls cannot use.
    #[error("{} is not a usable private key: {reason}", path.display())]
    BadKey {
        /// Its path.
        path: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// A certificate block that is not a valid X.509 certificate.
    #[error("{} is not a valid X.509 certificate ({reason})", path.display())]
    BadCertificate {
        /// Its path.
        path: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// The key is not the certificate's.
    #[error("{} does not match the certificate in {}", key.display(), cert.display())]
    Mismatch {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        cert: PathBuf,
    },
}

impl TlsError {
    /// The file (and so the config key) the problem concerns.
    pub fn file(&self) -> TlsFile {
        match self {
            TlsError::Unreadable { file, .. }
            | TlsError::Empty { file, .. }
            | TlsError::NotPem { file, .. } => *file,
            TlsError::NoCertificate { .. } | TlsError::BadCertificate { .. } => TlsFile::Cert,
            TlsError::NoKey { .. } | TlsError::BadKey { .. } | TlsError::Mismatch { .. } => {
                TlsFile::Key
            }
        }
    }
}

/// The validated `(tls_cert, tls_key)` paths, resolved against `base`; problems name the key
/// and its line.
pub(super) fn files(
    doc: &TomlDoc<'_>,
    cert: Option<String>,
    key: Option<String>,
    base: &Path,
    p: &mut Problems,
) -> Option<(PathBuf, PathBuf)> {
    match (cert, key) {
        (Some(c), Some(k)) => {
            let (cert, key) = (base.join(c), base.join(k));
            // Loaded as the listener will load them: what passes here, serve can serve.
            if let Err(e) = check_pair(&cert, &key) {
                let setting = e.file().setting();
                let line = super::at(doc, "server", setting.trim_start_matches("server."));
                p.push(doc.file(), line, setting, e.to_string());
                return None;
            }
            Some((cert, key))
        }
        (None, None) => None,
        _ => {
            let msg = "tls_cert and tls_key must be given together";
            p.push(
                doc.file(),
                super::at(doc, "server", "tls_cert"),
                "server.tls_cert",
                msg,
            );
            None
        }
    }
}

/// Loads `cert` and `key` as the listener will, and builds the server config from them.
pub fn check_pair(cert: &Path, key: &Path) -> Result<(), TlsError> {
    let cert_str = pem_items(TlsFile::Cert, cert, |i| {
        matches!(i, Item::X509Certificate(_))
    })?;
    let key_str = pem_items(TlsFile::Key, key, |i| {
        matches!(i, Item::Pkcs1Key(_) | Item::Pkcs8Key(_) | Item::Sec1Key(_))
    })?;
    // pingora's own loader, as `TlsSettings::build` calls it.
    let (certs, key_der) = match load_certs_and_key_files(cert_str, key_str) {
        Ok(Some(pair)) => pair,
        Ok(None) => return Err(TlsError::NoCertificate { path: cert.into() }),
        Err(e) => return Err(not_pem(TlsFile::Cert, cert, e.to_string())),
    };
    pingora::tls::install_default_crypto_provider();
    let provider = CryptoProvider::get_default()
        .cloned()
        .ok_or_else(|| TlsError::BadKey {
            path: key.into(),
            reason: "no TLS crypto provider".into(),
        })?;
    let bad_key = |e: RusTlsError| TlsError::BadKey {
        path: key.into(),
        reason: e.to_string(),
    };
    provider
        .key_provider
        .load_private_key(key_der.clone_key())
        .map_err(bad_key)?;
    ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&version::TLS12, &version::TLS13])
        .map_err(bad_key)?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map(|_| ())
        .map_err(|e| match e {
            RusTlsError::InconsistentKeys(_) => TlsError::Mismatch {
                key: key.into(),
                cert: cert.into(),
            },
            other => TlsError::BadCertificate {
                path: cert.into(),
                reason: other.to_string(),
            },
        })
}

fn not_pem(file: TlsFile, path: &Path, reason: String) -> TlsError {
    TlsError::NotPem {
        file,
        path: path.into(),
        reason,
    }
}

/// Reads `path` as PEM and requires an item `wanted` accepts; the path as pingora takes it.
fn pem_items(file: TlsFile, path: &Path, wanted: fn(&Item) -> bool) -> Result<&str, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| TlsError::Unreadable {
        file,
        path: path.into(),
        reason: e.to_string(),
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(TlsError::Empty {
            file,
            path: path.into(),
        });
    }
    let items = rustls_pemfile::read_all(&mut bytes.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            not_pem(
                file,
                path,
                format!("its PEM blocks cannot be decoded ({e})"),
            )
        })?;
    if !items.iter().any(wanted) {
        return Err(match file {
            TlsFile::Cert => TlsError::NoCertificate { path: path.into() },
            TlsFile::Key => TlsError::NoKey { path: path.into() },
        });
    }
    path.to_str()
        .ok_or_else(|| not_pem(file, path, "the path is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_loads_and_a_foreign_key_is_a_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let one = rcgen::generate_simple_self_signed(vec!["a".into()]).unwrap();
        let two = rcgen::generate_simple_self_signed(vec!["b".into()]).unwrap();
        let cert = write("cert.pem", &one.cert.pem());
        let key = write("key.pem", &one.signing_key.serialize_pem());
        let other = write("other.pem", &two.signing_key.serialize_pem());
        check_pair(&cert, &key).unwrap();
        let err = check_pair(&cert, &other).unwrap_err();
        assert!(matches!(err, TlsError::Mismatch { .. }), "{err}");
        assert_eq!(err.file(), TlsFile::Key);
        let err = check_pair(&key, &key).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
    }
}
