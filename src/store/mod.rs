//! Durable token state behind a small trait: namespaced keys, reads, and atomic conditional
//! batches that are on disk before they are acknowledged. Everything stored expires, and the
//! backend purges what has expired.
//!
//! The sled backend is [`sled_store::SledStore`]. It verifies the store when it opens (every
//! record read, sled panics caught, the commit sequence checked against [`seal`]) and stops
//! serving after a failed flush; docs/durability.md has what the crash, corruption and disk
//! fault tests found. [`cache::TokenCache`] sits in front of any backend. A backend shared by
//! several gateway nodes must implement [`TokenStore::commit`] atomically across nodes and tell
//! every node's cache about removed tokens ([`cache::TokenCache::invalidate`]).

pub mod cache;
pub mod flusher;
pub mod seal;
mod sled_open;
pub mod sled_store;

use async_trait::async_trait;

use crate::clock::UnixTime;

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
    /// The store on disk is damaged or lost acknowledged writes (found at open).
    #[error("token store damaged: {0}")]
    Damaged(String),
}

/// The key spaces of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// Token records by keyed hash of the token.
    Token,
    /// Single-use client assertion ids.
    Once,
    /// Authorization codes by keyed hash of the code.
    Code,
    /// Grants (one per authorization) by family id.
    Grant,
    /// Family id + token hash: the tokens of each grant.
    Family,
    /// Username, client id and family id: the grants of each user.
    UserGrant,
    /// Client id and token hash → expiry and kind: the tokens of each client.
    ClientToken,
    /// Client id and family id: the grants of each client.
    ClientGrant,
}

impl Space {
    /// The byte that prefixes keys of this space.
    pub fn tag(self) -> u8 {
        match self {
            Space::Token => b't',
            Space::Once => b'j',
            Space::Code => b'c',
            Space::Grant => b'g',
            Space::Family => b'f',
            Space::UserGrant => b'u',
            Space::ClientToken => b'k',
            Space::ClientGrant => b'a',
        }
    }
}

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

/// Keys (without their space) and values, as a scan returns them.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Durable token state.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// The value under `key`, if present (expired values may linger until purged).
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` keys (without the space) and values whose key starts with `prefix`.
    fn scan(&self, space: Space, prefix: &[u8], limit: usize) -> Result<Entries, StoreError>;

    /// Applies `writes` atomically if every expectation holds, durably before returning
    /// `Ok(true)`; `Ok(false)` (nothing written) when one does not hold.
    async fn commit(&self, expect: Vec<Expect>, writes: Vec<Write>) -> Result<bool, StoreError>;

    /// Deletes every value that expired before `now`; returns how many.
    fn purge_expired(&self, now: UnixTime) -> Result<usize, StoreError>;

    /// False once the store can no longer make writes durable (until the gateway restarts).
    fn healthy(&self) -> bool {
        true
    }
}
