//! Issues, checks and revokes tokens: keyed hashing, the cache in front of the store, expiry.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::keys::KeyedHash;
use crate::metrics::Metrics;
use crate::store::cache::TokenCache;
use crate::store::{StoreError, TokenStore};
use crate::token::record::{self, TokenKey, TokenKind, TokenRecord};

/// The one place tokens are created, looked up and revoked.
pub struct TokenService {
    hasher: KeyedHash,
    store: Arc<dyn TokenStore>,
    cache: TokenCache,
    clock: SharedClock,
    metrics: Arc<Metrics>,
}

impl TokenService {
    /// A service over `store`, caching up to `cache_capacity` records.
    pub fn new(
        hasher: KeyedHash,
        store: Arc<dyn TokenStore>,
        cache_capacity: u64,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            hasher,
            store,
            cache: TokenCache::new(cache_capacity),
            clock,
            metrics,
        }
    }

    /// The clock every expiry decision uses.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The cache in front of the store; a shared backend calls [`TokenCache::invalidate`] on it
    /// for revocations made by other gateway nodes.
    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    /// The store behind the cache.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    fn key(&self, token: &str) -> TokenKey {
        self.hasher.hash(token.as_bytes())
    }

    /// The live record of `token` if it is a valid, unexpired token of `kind`.
    pub fn lookup(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        if record::kind_of(token) != Some(kind) {
            return Ok(None);
        }
        let key = self.key(token);
        let now = self.clock.now();
        let rec = match self.cache.get(&key) {
            Some(rec) => {
                self.metrics.cache_hits.inc();
                rec
            }
            None => {
                self.metrics.cache_misses.inc();
                let epoch = self.cache.epoch();
                let Some(rec) = self.store.get(&key)? else {
                    return Ok(None);
                };
                let rec = Arc::new(rec);
                if !rec.is_expired(now) {
                    self.cache.fill(epoch, key, rec.clone());
                }
                rec
            }
        };
        Ok((!rec.is_expired(now) && rec.kind == kind).then_some(rec))
    }

    /// The stored record of any token string, expired or not, without caching it.
    pub fn peek(&self, token: &str) -> Result<Option<TokenRecord>, StoreError> {
        if record::kind_of(token).is_none() {
            return Ok(None);
        }
        self.store.get(&self.key(token))
    }

    /// Stores `record` durably and returns the new token string; the token exists nowhere else.
    pub async fn issue(&self, record: TokenRecord) -> Result<String, StoreError> {
        let token = record::generate(record.kind);
        self.store.put(&self.key(&token), &record).await?;
        Ok(token)
    }

    /// Revokes `token` durably; returns the record it had, if any.
    pub async fn revoke(&self, token: &str) -> Result<Option<TokenRecord>, StoreError> {
        if record::kind_of(token).is_none() {
            return Ok(None);
        }
        let key = self.key(token);
        let removed = self.store.remove(&key).await;
        self.cache.invalidate(&key);
        let removed = removed?;
        if removed.is_some() {
            self.metrics.tokens_revoked.inc();
        }
        Ok(removed)
    }

    /// Deletes expired records from the store.
    pub fn purge_expired(&self) -> Result<usize, StoreError> {
        self.store.purge_expired(self.clock.now())
    }
}
