//! The documents of record several gateways share: the registry (`apps.toml`) and users
//! (`users.toml`) as TOML text, versioned, written only by compare-and-set on the version, with
//! the icons the registry names; every write is announced to every gateway.

use std::sync::Arc;

use async_trait::async_trait;

use super::StoreError;

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocName {
    /// The registry: `[settings]` and `[[apps]]`.
    Apps,
    /// The users directory.
    Users,
}

impl DocName {
    /// The name in keys, events and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            DocName::Apps => "apps",
            DocName::Users => "users",
        }
    }

    /// The document named `s`.
    pub fn parse(s: &[u8]) -> Option<Self> {
        match s {
            b"apps" => Some(DocName::Apps),
            b"users" => Some(DocName::Users),
            _ => None,
        }
    }
}

/// A document as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The TOML text, comments and all.
    pub text: String,
    /// Its version (what `ETag` and `If-Match` carry).
    pub version: String,
    /// How many writes made it (1 for the first).
    pub revision: u64,
}

/// What a write expects to replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base<'a> {
    /// No document yet (seeding).
    Absent,
    /// The document at this version.
    Version(&'a str),
    /// Whatever is there.
    Any,
}

/// An icon a write stores (`Some` bytes) or removes (`None`); `name` is the path under the
/// registry's `icons/` folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IconChange {
    /// Path under `icons/`, e.g. `vte_c1.png`.
    pub name: String,
    /// The file's bytes, or `None` to remove it.
    pub bytes: Option<Vec<u8>>,
}

/// Shared documents (the Redis backend has them; embedded stores have none).
#[async_trait]
pub trait SharedDocs: Send + Sync + 'static {
    /// The stored document, if any.
    async fn read(&self, doc: DocName) -> Result<Option<Document>, StoreError>;

    /// The stored document's version only (cheap: for polling).
    async fn version(&self, doc: DocName) -> Result<Option<String>, StoreError>;

    /// Stores `text` (at `version`) and the icon changes in one atomic, durable step when the
    /// stored document still matches `base`; `Ok(None)` (nothing written) when it does not.
    /// Returns the new revision.
    async fn write(
        &self,
        doc: DocName,
        base: Base<'_>,
        text: &str,
        version: &str,
        icons: Vec<IconChange>,
    ) -> Result<Option<u64>, StoreError>;

    /// Every stored icon: path under `icons/` and bytes.
    async fn icons(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    /// Calls `on` after any gateway wrote a document, and whenever writes may have been missed
    /// (after a reconnect that cannot tell); from now on.
    fn watch(&self, on: Arc<dyn Fn() + Send + Sync>);
}
