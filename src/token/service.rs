//! Issues, checks and revokes tokens: keyed hashing, the cache in front of the store, expiry,
//! grants (token families) and single-use assertion ids.

use std::sync::Arc;

use super::grants::GrantRecord;
use super::record::{self, FamilyId, TokenKey, TokenKind, TokenRecord};
use crate::clock::{SharedClock, UnixTime};
use crate::keys::{Digest, KeyedHash};
use crate::metrics::Metrics;
use crate::store::cache::TokenCache;
use crate::store::{Space, StoreError, TokenStore, Write};

/// Most tokens one grant can hold; rotation keeps the live ones to a handful.
const FAMILY_SCAN_LIMIT: usize = 100_000;

/// A token made but not yet stored: its string, key, and the writes that store it.
pub struct Minted {
    /// The token handed to the client.
    pub token: String,
    /// Its store key.
    pub key: TokenKey,
    /// Its expiry.
    pub expires_at: UnixTime,
    /// The writes that store its record (and its family index entry).
    pub writes: Vec<Write>,
}

/// The one place tokens are created, looked up and revoked.
pub struct TokenService {
    hasher: KeyedHash,
    store: Arc<dyn TokenStore>,
    cache: TokenCache,
    clock: SharedClock,
    metrics: Arc<Metrics>,
}

/// The family index key of a token.
pub fn family_key(family: &FamilyId, key: &TokenKey) -> Vec<u8> {
    let mut k = family.to_vec();
    k.extend_from_slice(&key.0);
    k
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

    /// The store key of a token (or code) string.
    pub fn key(&self, token: &str) -> TokenKey {
        self.hasher.hash(token.as_bytes())
    }

    fn read(&self, key: &TokenKey) -> Result<Option<TokenRecord>, StoreError> {
        self.store
            .get(Space::Token, &key.0)?
            .map(|b| record::decode(&b))
            .transpose()
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
                let Some(rec) = self.read(&key)? else {
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
        self.read(&self.key(token))
    }

    /// Makes a token for `record` and the writes that would store it.
    pub fn mint(&self, record: &TokenRecord) -> Minted {
        let token = record::generate(record.kind);
        let key = self.key(&token);
        let mut writes = vec![Write::Put {
            space: Space::Token,
            key: key.0.to_vec(),
            value: record::encode(record),
            expires_at: record.expires_at,
        }];
        if let Some(family) = &record.family {
            writes.push(Write::Put {
                space: Space::Family,
                key: family_key(family, &key),
                value: Vec::new(),
                expires_at: record.expires_at,
            });
        }
        Minted {
            token,
            key,
            expires_at: record.expires_at,
            writes,
        }
    }

    /// Stores `record` durably and returns the new token string; the token exists nowhere else.
    pub async fn issue(&self, record: TokenRecord) -> Result<String, StoreError> {
        let minted = self.mint(&record);
        self.store.commit(Vec::new(), minted.writes).await?;
        Ok(minted.token)
    }

    /// Revokes `token` durably; a refresh token takes its whole grant with it. Returns the
    /// record it had, if any.
    pub async fn revoke(&self, token: &str) -> Result<Option<TokenRecord>, StoreError> {
        let Some(rec) = self.peek(token)? else {
            return Ok(None);
        };
        match (rec.kind, rec.family) {
            (TokenKind::Refresh, Some(family)) => {
                self.revoke_family(&family).await?;
            }
            _ => {
                let key = self.key(token);
                let mut writes = vec![Write::Delete {
                    space: Space::Token,
                    key: key.0.to_vec(),
                }];
                if let Some(family) = &rec.family {
                    let key = family_key(family, &key);
                    writes.push(Write::Delete {
                        space: Space::Family,
                        key,
                    });
                }
                let result = self.store.commit(Vec::new(), writes).await;
                self.forget(&[key]);
                result?;
                self.metrics.tokens_revoked.inc();
            }
        }
        Ok(Some(rec))
    }

    /// Revokes every token of a grant and the grant itself, durably; returns how many tokens.
    pub async fn revoke_family(&self, family: &FamilyId) -> Result<usize, StoreError> {
        let entries = self.store.scan(Space::Family, family, FAMILY_SCAN_LIMIT)?;
        let keys: Vec<TokenKey> = entries
            .iter()
            .filter_map(|(k, _)| k.get(16..48).and_then(|h| h.try_into().ok()).map(Digest))
            .collect();
        let mut writes: Vec<Write> = Vec::with_capacity(keys.len() * 2 + 2);
        for (k, _) in &entries {
            writes.push(Write::Delete {
                space: Space::Family,
                key: k.clone(),
            });
        }
        for key in &keys {
            writes.push(Write::Delete {
                space: Space::Token,
                key: key.0.to_vec(),
            });
        }
        if let Some(grant) = self.grant(family)? {
            writes.push(Write::Delete {
                space: Space::UserGrant,
                key: grant.user_key(family),
            });
        }
        writes.push(Write::Delete {
            space: Space::Grant,
            key: family.to_vec(),
        });
        let result = self.store.commit(Vec::new(), writes).await;
        self.forget(&keys);
        result?;
        self.metrics.tokens_revoked.inc_by(keys.len() as u64);
        Ok(keys.len())
    }

    /// The grant record of `family`.
    pub fn grant(&self, family: &FamilyId) -> Result<Option<GrantRecord>, StoreError> {
        self.store
            .get(Space::Grant, family)?
            .map(|b| record::decode(&b))
            .transpose()
    }

    /// Removes `keys` from the cache (after the store no longer holds them).
    pub fn forget(&self, keys: &[TokenKey]) {
        for key in keys {
            self.cache.invalidate(key);
        }
    }

    /// Marks an assertion id used until `expires_at`, durably; `false` if it was used before.
    pub async fn claim_once(&self, id: &Digest, expires_at: UnixTime) -> Result<bool, StoreError> {
        let absent = crate::store::Expect {
            space: Space::Once,
            key: id.0.to_vec(),
            value: None,
        };
        let put = Write::Put {
            space: Space::Once,
            key: id.0.to_vec(),
            value: Vec::new(),
            expires_at,
        };
        self.store.commit(vec![absent], vec![put]).await
    }

    /// Deletes expired records from the store.
    pub fn purge_expired(&self) -> Result<usize, StoreError> {
        self.store.purge_expired(self.clock.now())
    }
}
