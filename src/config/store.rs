//! `[store]`: which backend keeps tokens, codes, grants and assertion ids.

use serde::Deserialize;

use super::Problems;
use super::toml_doc::TomlDoc;

/// `[store]` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreFile {
    /// The backend: `sled` (embedded, under `server.data_dir`/store).
    pub backend: String,
}

impl Default for StoreFile {
    fn default() -> Self {
        Self {
            backend: "sled".into(),
        }
    }
}

pub use crate::store::open::Backend as StoreBackend;

/// The validated `[store]` section.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The backend.
    pub backend: StoreBackend,
}

/// Validates `[store]`; names the backends this build has when another one is asked for.
pub fn validate(doc: &TomlDoc<'_>, s: StoreFile, p: &mut Problems) -> Option<StoreConfig> {
    let backend = match s.backend.as_str() {
        "sled" => StoreBackend::Sled,
        other => {
            let why = match other {
                "redb" | "redis" => format!("{other:?} is not available in this version"),
                _ => format!("unknown backend {other:?}"),
            };
            let line = Some(doc.get("store").map_or(1, |n| doc.key_line(n, "backend")));
            p.push(
                doc.file(),
                line,
                "store.backend",
                format!("{why}; this version has \"sled\""),
            );
            return None;
        }
    };
    Some(StoreConfig { backend })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::StoreBackend;

    fn parse(store: &str) -> Result<crate::config::Config, String> {
        let raw = format!("[upstream]\naddress = \"127.0.0.1:1\"\n{store}");
        crate::config::parse(Path::new("/etc/crmgate/crmgate.toml"), &raw)
            .map_err(|p| p.to_string())
    }

    #[test]
    fn sled_is_the_default_and_the_only_backend_yet() {
        assert_eq!(parse("").unwrap().store.backend, StoreBackend::Sled);
        let c = parse("[store]\nbackend = \"sled\"\n").unwrap();
        assert_eq!(c.store.backend, StoreBackend::Sled);
        let e = parse("[store]\nbackend = \"redis\"\n").unwrap_err();
        assert!(
            e.contains("crmgate.toml:4: store.backend: \"redis\" is not available"),
            "{e}"
        );
        let e = parse("[store]\nbackend = \"mysql\"\n").unwrap_err();
        assert!(
            e.contains("store.backend: unknown backend \"mysql\""),
            "{e}"
        );
        let e = parse("[store]\npath = \"x\"\n").unwrap_err();
        assert!(e.contains("path"), "{e}");
    }
}
