//! Durable token state behind a small trait: token records, single-use assertion ids, purging.
//!
//! The sled backend is [`sled_store::SledStore`]; [`cache::TokenCache`] sits in front of any
//! backend. A backend shared by several gateway nodes must also tell every node's cache about
//! revocations (see [`cache::TokenCache::invalidate`]).

pub mod cache;
pub mod flusher;
pub mod sled_store;

use async_trait::async_trait;

use crate::clock::UnixTime;
use crate::keys::Digest;
use crate::token::record::{TokenKey, TokenRecord};

/// A store failure; callers answer 5xx and never acknowledge the write.
#[derive(Debug, thiserror::Error)]
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
}

/// Durable token state. Every `async` write returns only once it is on disk.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// The record stored under `key`, expired or not.
    fn get(&self, key: &TokenKey) -> Result<Option<TokenRecord>, StoreError>;

    /// Stores a record durably.
    async fn put(&self, key: &TokenKey, record: &TokenRecord) -> Result<(), StoreError>;

    /// Removes a record durably; returns what was there.
    async fn remove(&self, key: &TokenKey) -> Result<Option<TokenRecord>, StoreError>;

    /// Marks an assertion id as used until `expires_at`, durably. `false` if it was used before.
    async fn claim_once(&self, id: &Digest, expires_at: UnixTime) -> Result<bool, StoreError>;

    /// Deletes every record and assertion id that expired before `now`; returns how many.
    fn purge_expired(&self, now: UnixTime) -> Result<usize, StoreError>;
}
