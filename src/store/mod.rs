//! Durable token state behind a small trait: namespaced keys, reads, and atomic conditional
//! batches that are on disk before they are acknowledged. Everything stored expires, and the
//! backend purges what has expired.
//!
//! [`schema`] owns the key spaces and every key. [`memory::MemoryStore`] is the reference
//! backend (not durable: for tests); [`sled_store::SledStore`] is the durable one. It verifies
//! the store when it opens (every record read, sled panics caught, the commit sequence checked
//! against [`seal`]) and stops serving after a failed flush; docs/durability.md has what the
//! crash, corruption and disk fault tests found. Every backend passes the suite in `contract`.
//! [`open`] picks the backend `[store] backend` names. A backend shared by several gateway
//! nodes must implement [`TokenStore::commit`] atomically across nodes and tell every node's
//! token cache about removed tokens (`crate::token::cache::TokenCache::invalidate`).

#[cfg(test)]
mod contract;
pub mod documents;
pub mod ephemeral;
pub mod flusher;
pub mod journal;
pub mod layout;
pub mod memory;
pub mod migrate;
pub mod open;
pub mod redb_store;
mod redb_writer;
pub mod redis_docs;
pub mod redis_ephemeral;
pub mod redis_primary;
pub mod redis_store;
#[cfg(test)]
mod redis_test_server;
pub mod redis_watch;
pub mod report;
pub mod schema;
pub mod seal;
mod sled_open;
pub mod sled_store;

use async_trait::async_trait;

use crate::clock::UnixTime;

/// A store failure; callers answer 5xx and never acknowledge the write.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend failed.
    #[error("token store: {0}")]
    Backend(String),
    /// A record could not be decoded.
    #[error("token store: corrupt record: {0}")]
    Corrupt(String),
    /// The durable flush failed; the write may be lost.
    #[error("token store: flush to disk failed: {0}")]
    Flush(String),
    /// The store on disk is damaged or lost acknowledged writes (found at open).
    #[error("token store damaged: {0}")]
    Damaged(String),
}

pub use schema::Space;

/// One write of an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Stores `value` under `key` until `expires_at`, replacing any value.
    Put {
        /// Key space.
        space: Space,
        /// Key within the space.
        key: Vec<u8>,
        /// Value.
        value: Vec<u8>,
        /// When the backend may forget it.
        expires_at: UnixTime,
    },
    /// Removes `key`.
    Delete {
        /// Key space.
        space: Space,
        /// Key within the space.
        key: Vec<u8>,
    },
}

/// A condition of a batch: the current value under a key (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// Key space.
    pub space: Space,
    /// Key within the space.
    pub key: Vec<u8>,
    /// The value it must hold now.
    pub value: Option<Vec<u8>>,
}

/// What a shared backend heard that some gateway (this one or another) changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// These `Token` space keys were written or deleted.
    Tokens(Vec<Vec<u8>>),
    /// A shared document (registry or users) was written.
    Documents,
    /// Changes may have been missed: forget everything cached.
    Unknown,
}

/// Keys (without their space) and values, as a scan returns them.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Durable token state.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// The value under `key`, if present (expired values may linger until purged).
    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` keys (without the space) and values whose key starts with `prefix`, in
    /// key order.
    async fn scan(&self, space: Space, prefix: &[u8], limit: usize) -> Result<Entries, StoreError>;

    /// Applies `writes` atomically if every expectation holds, durably before returning
    /// `Ok(true)`; `Ok(false)` (nothing written) when one does not hold.
    async fn commit(&self, expect: Vec<Expect>, writes: Vec<Write>) -> Result<bool, StoreError>;

    /// Deletes every value that expired before `now`; returns how many.
    async fn purge_expired(&self, now: UnixTime) -> Result<usize, StoreError>;

    /// False once the store can no longer make writes durable (until the gateway restarts).
    fn healthy(&self) -> bool {
        true
    }

    /// Whether the store takes a durable write now (readiness); the reason when not. Embedded
    /// stores answer from [`Self::healthy`]; shared ones write a small key and wait for it.
    async fn ready(&self) -> Result<(), String> {
        if self.healthy() {
            Ok(())
        } else {
            Err("the store can no longer make writes durable (see the log)".into())
        }
    }

    /// Whether records cached from this store may still be trusted: a shared backend says no
    /// once it has not heard from its server within its staleness budget (it could have missed
    /// a revocation). Stores only this gateway writes are always fresh.
    fn fresh(&self) -> bool {
        true
    }

    /// Calls `on` with every change of token records committed through this store by any
    /// gateway, from now on (shared backends; the others have nothing to tell).
    fn watch(&self, on: std::sync::Arc<dyn Fn(Changed) + Send + Sync>) {
        let _ = on;
    }

    /// Makes everything written so far durable, blocking (called once at shutdown).
    fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
