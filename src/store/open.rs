//! Opens the backend `[store] backend` names, refusing to start on a store that lost what the
//! gateway acknowledged.

use std::path::Path;
use std::sync::Arc;

use super::documents::SharedDocs;
use super::ephemeral::{Ephemeral, MemoryEphemeral};
use super::journal::{FileJournal, Journal};
use super::redb_store::RedbStore;
use super::redis_docs::RedisDocs;
use super::redis_store::{RedisOptions, RedisStore};
use super::sled_store::SledStore;
use super::{StoreError, TokenStore};
use crate::keys::KeyRing;

/// The backends this build has (`[store] backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// sled under `data_dir/store`: durable before every acknowledgement, verified at open.
    Sled,
    /// redb under `data_dir/store-redb`: checksummed copy-on-write B-tree, group commit.
    Redb,
    /// A Redis primary shared by every gateway (`[store.redis]`).
    Redis,
}

/// The embedded backend a data dir without a store gets when `[store] backend` is not set.
pub const DEFAULT: Backend = Backend::Sled;

impl Backend {
    /// The name `[store] backend` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sled => "sled",
            Backend::Redb => "redb",
            Backend::Redis => "redis",
        }
    }
}

/// The embedded backend whose store `data_dir` already holds, if any: a data dir keeps its
/// store when the default changes (`[store] backend` unset).
pub fn existing(data_dir: &Path) -> Option<Backend> {
    if data_dir.join(SLED_DIR).exists() {
        Some(Backend::Sled)
    } else if data_dir
        .join(REDB_DIR)
        .join(super::redb_store::FILE)
        .exists()
    {
        Some(Backend::Redb)
    } else {
        None
    }
}

/// The sled store's folder under `data_dir`.
pub const SLED_DIR: &str = "store";

/// An opened backend: the durable token store and the short-lived state beside it.
pub struct Opened {
    /// Tokens, codes, grants, assertion ids.
    pub tokens: Arc<dyn TokenStore>,
    /// Sessions, pending requests, throttle counters.
    pub ephemeral: Arc<dyn Ephemeral>,
    /// The audit log.
    pub journal: Arc<dyn Journal>,
    /// The registry and users documents of record, when they are shared.
    pub docs: Option<Arc<dyn SharedDocs>>,
}

/// Entries the in-memory short-lived state holds at most (one gateway).
const MEMORY_ENTRIES: u64 = 500_000;

/// Why the store could not be opened; the message tells the operator what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OpenError(pub String);

/// Opens the `backend` store under `data_dir`. `key_existed`: the data dir already held its
/// master key, so it must already hold its store: starting with an empty one would forget which
/// assertion ids and codes were used.
/// A shared store remembers a keyed hash only the first gateway's master key (in `keys`) yields
/// and refuses nodes with another key (their token hashes would not match).
pub fn open(
    backend: Backend,
    redis: &RedisOptions,
    data_dir: &Path,
    key_existed: bool,
    keys: &KeyRing,
) -> Result<Opened, OpenError> {
    match backend {
        Backend::Sled => {
            let store = open_sled(&data_dir.join(SLED_DIR), key_existed)?;
            Ok(Opened {
                tokens: Arc::new(store),
                ephemeral: Arc::new(MemoryEphemeral::new(MEMORY_ENTRIES)),
                journal: Arc::new(FileJournal::new(data_dir.join("audit.log"))),
                docs: None,
            })
        }
        Backend::Redb => {
            let store = open_redb(&data_dir.join(REDB_DIR), key_existed)?;
            Ok(Opened {
                tokens: Arc::new(store),
                ephemeral: Arc::new(MemoryEphemeral::new(MEMORY_ENTRIES)),
                journal: Arc::new(FileJournal::new(data_dir.join("audit.log"))),
                docs: None,
            })
        }
        Backend::Redis => {
            let store = Arc::new(RedisStore::open(redis)?);
            store.claim_key(&key_check(keys).0)?;
            Ok(Opened {
                tokens: store.clone(),
                ephemeral: store.clone(),
                journal: store.clone(),
                docs: Some(Arc::new(RedisDocs::new(store, keys.sealer.clone()))),
            })
        }
    }
}

/// The redb store's folder under `data_dir`.
pub const REDB_DIR: &str = "store-redb";

fn open_redb(dir: &Path, key_existed: bool) -> Result<RedbStore, OpenError> {
    if key_existed && !dir.join(super::redb_store::FILE).exists() {
        return Err(lost_store(dir, "the token store is missing"));
    }
    let store = RedbStore::open_checked(dir, key_existed).map_err(|e| refused(&e))?;
    if key_existed && store.created() {
        return Err(lost_store(dir, "the token store was empty"));
    }
    Ok(store)
}

fn lost_store(dir: &Path, what: &str) -> OpenError {
    OpenError(format!(
        "{}: {what}, but {} exists: refusing to start with an empty token store. Restore the \
         store from a backup, or remove the whole data dir to start over (every token is then \
         invalid).",
        dir.display(),
        crate::keys::MASTER_KEY_FILE
    ))
}

fn refused(e: &StoreError) -> OpenError {
    let advice = match e {
        StoreError::Damaged(_) => {
            "Restore the whole store folder from a backup taken while the gateway was \
             stopped, or remove the whole data dir to start over (every token is then \
             invalid)."
        }
        _ => "Fix the disk problem (space, permissions, I/O errors) and start again.",
    };
    OpenError(format!("{e}: refusing to start. {advice}"))
}

/// What a shared store remembers of the master key: a keyed hash of a fixed text.
pub fn key_check(keys: &KeyRing) -> crate::keys::Digest {
    keys.tokens.hash(b"crmgate shared store key check v1")
}

fn open_sled(dir: &Path, key_existed: bool) -> Result<SledStore, OpenError> {
    if key_existed && !dir.exists() {
        return Err(lost_store(dir, "the token store is missing"));
    }
    let store = SledStore::open_checked(dir, key_existed).map_err(|e| refused(&e))?;
    if key_existed && store.created() {
        return Err(lost_store(dir, "the token store was empty"));
    }
    Ok(store)
}
