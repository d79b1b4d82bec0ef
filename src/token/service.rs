//! Issues, checks and revokes tokens: keyed hashing, the cache in front of the store, expiry,
//! grants (token families) and single-use assertion ids.

use std::sync::Arc;

use super::cache::TokenCache;
use super::grants::GrantRecord;
use super::record::{self, FamilyId, TokenKey, TokenKind, TokenRecord};
use super::tally::Tally;
use crate::clock::{SharedClock, UnixTime};
use crate::keys::{Digest, KeyedHash};
use crate::metrics::Metrics;
use crate::store::schema;
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

/// What a presented token turned out to be.
#[derive(Debug)]
pub enum Presented {
    /// Unexpired and of the asked kind.
    Live(Arc<TokenRecord>),
    /// Issued, but its lifetime is over.
    Expired,
    /// Never issued, revoked, purged, or of another kind.
    Unknown,
}

/// The one place tokens are created, looked up and revoked.
pub struct TokenService {
    hasher: KeyedHash,
    store: Arc<dyn TokenStore>,
    cache: Arc<TokenCache>,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    tally: Tally,
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
        let cache = Arc::new(TokenCache::new(cache_capacity));
        let watched = cache.clone();
        store.watch(Arc::new(move |change| watched.changed(change)));
        Self {
            hasher,
            store,
            cache,
            clock,
            metrics,
            tally: Tally::default(),
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

    async fn read(&self, key: &TokenKey) -> Result<Option<TokenRecord>, StoreError> {
        self.store
            .get(Space::Token, &schema::hashed(key))
            .await?
            .map(|b| record::decode(&b))
            .transpose()
    }

    /// The live record of `token` if it is a valid, unexpired token of `kind`.
    pub async fn lookup(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        Ok(match self.check(token, kind).await? {
            Presented::Live(rec) => Some(rec),
            Presented::Expired | Presented::Unknown => None,
        })
    }

    /// What `token` is, as a token of `kind`: live, expired (while its record is kept), or
    /// unknown (never issued, revoked, purged, or of another kind).
    pub async fn check(&self, token: &str, kind: TokenKind) -> Result<Presented, StoreError> {
        if record::kind_of(token) != Some(kind) {
            return Ok(Presented::Unknown);
        }
        let key = self.key(token);
        let now = self.clock.now();
        let rec = match self.cache.get(&key) {
            Some(_) if !self.store.fresh() => {
                let why = "the shared store has not been heard from within store.redis.stale_ms";
                return Err(StoreError::Backend(why.into()));
            }
            Some(rec) => {
                self.metrics.cache_hits.inc();
                rec
            }
            None => {
                self.metrics.cache_misses.inc();
                let epoch = self.cache.epoch();
                let Some(rec) = self.read(&key).await? else {
                    return Ok(Presented::Unknown);
                };
                let rec = Arc::new(rec);
                if !rec.is_expired(now) {
                    self.cache.fill(epoch, key, rec.clone());
                }
                rec
            }
        };
        Ok(if rec.kind != kind {
            Presented::Unknown
        } else if rec.is_expired(now) {
            Presented::Expired
        } else {
            Presented::Live(rec)
        })
    }

    /// The stored record of any token string, expired or not, without caching it.
    pub async fn peek(&self, token: &str) -> Result<Option<TokenRecord>, StoreError> {
        if record::kind_of(token).is_none() {
            return Ok(None);
        }
        self.read(&self.key(token)).await
    }

    /// Makes a token for `record` and the writes that would store it.
    pub fn mint(&self, record: &TokenRecord) -> Minted {
        let token = record::generate(record.kind);
        let key = self.key(&token);
        let mut writes = vec![Write::Put {
            space: Space::Token,
            key: schema::hashed(&key),
            value: record::encode(record),
            expires_at: record.expires_at,
        }];
        if let Some(family) = &record.family {
            writes.push(Write::Put {
                space: Space::Family,
                key: schema::family_token(family, &key),
                value: Vec::new(),
                expires_at: record.expires_at,
            });
        }
        writes.push(Write::Put {
            space: Space::ClientToken,
            key: schema::client_token(&record.client_id, &key),
            value: schema::client_token_value(record.expires_at, record.kind == TokenKind::Refresh),
            expires_at: record.expires_at,
        });
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
        self.counted(&[&record]);
        Ok(minted.token)
    }

    /// Revokes `token` durably; a refresh token takes its whole grant with it. Returns the
    /// record it had, if any.
    pub async fn revoke(&self, token: &str) -> Result<Option<TokenRecord>, StoreError> {
        let Some(rec) = self.peek(token).await? else {
            // A concurrent revocation may have deleted it in memory and still be flushing:
            // wait for a flush, so this answer too is only given once the deletion is durable.
            self.settle().await?;
            return Ok(None);
        };
        if let (TokenKind::Refresh, Some(family)) = (rec.kind, rec.family) {
            self.revoke_family(&family).await?;
            return Ok(Some(rec));
        }
        let key = self.key(token);
        self.delete_tokens(vec![(key, rec.clone())], Vec::new())
            .await?;
        Ok(Some(rec))
    }

    /// Deletes tokens (with their index entries) and `more` in one commit, then forgets them
    /// in the cache and the tally.
    async fn delete_tokens(
        &self,
        tokens: Vec<(TokenKey, TokenRecord)>,
        mut more: Vec<Write>,
    ) -> Result<usize, StoreError> {
        for (key, rec) in &tokens {
            more.push(Write::Delete {
                space: Space::Token,
                key: schema::hashed(key),
            });
            more.push(Write::Delete {
                space: Space::ClientToken,
                key: schema::client_token(&rec.client_id, key),
            });
            if let Some(family) = &rec.family {
                more.push(Write::Delete {
                    space: Space::Family,
                    key: schema::family_token(family, key),
                });
            }
        }
        let keys: Vec<TokenKey> = tokens.iter().map(|(k, _)| *k).collect();
        let result = self.store.commit(Vec::new(), more).await;
        self.forget(&keys);
        result?;
        for (_, rec) in &tokens {
            if rec.kind == TokenKind::Access {
                self.tally.remove(&rec.client_id, rec.expires_at);
            }
        }
        self.metrics.tokens_revoked.inc_by(tokens.len() as u64);
        Ok(tokens.len())
    }

    /// The stored records of `keys` that still exist.
    async fn records(
        &self,
        keys: Vec<TokenKey>,
    ) -> Result<Vec<(TokenKey, TokenRecord)>, StoreError> {
        let mut out = Vec::new();
        for key in keys {
            if let Some(rec) = self.read(&key).await? {
                out.push((key, rec));
            }
        }
        Ok(out)
    }

    /// Revokes every token of a grant and the grant itself, durably; returns how many tokens.
    pub async fn revoke_family(&self, family: &FamilyId) -> Result<usize, StoreError> {
        let entries = self
            .store
            .scan(Space::Family, &schema::family(family), FAMILY_SCAN_LIMIT)
            .await?;
        let keys = entries
            .iter()
            .filter_map(|(k, _)| schema::token_of_family_key(k))
            .collect();
        let tokens = self.records(keys).await?;
        let mut more: Vec<Write> = entries
            .iter()
            .map(|(k, _)| Write::Delete {
                space: Space::Family,
                key: k.clone(),
            })
            .collect();
        if let Some(grant) = self.grant(family).await? {
            more.push(Write::Delete {
                space: Space::UserGrant,
                key: schema::user_grant(&grant.user, &grant.client_id, family),
            });
            more.push(Write::Delete {
                space: Space::ClientGrant,
                key: schema::client_grant(&grant.client_id, family),
            });
        }
        more.push(Write::Delete {
            space: Space::Grant,
            key: schema::family(family),
        });
        self.delete_tokens(tokens, more).await
    }

    /// Revokes every token and grant of `client_id`; returns how many tokens.
    pub async fn revoke_client(&self, client_id: &str) -> Result<usize, StoreError> {
        let prefix = schema::client(client_id);
        let families: Vec<FamilyId> = self
            .store
            .scan(Space::ClientGrant, &prefix, usize::MAX)
            .await?
            .iter()
            .filter_map(|(k, _)| schema::family_of_key(k))
            .collect();
        let mut n = 0;
        for family in &families {
            n += self.revoke_family(family).await?;
        }
        loop {
            let entries = self.store.scan(Space::ClientToken, &prefix, 10_000).await?;
            if entries.is_empty() {
                break;
            }
            let keys = entries
                .iter()
                .filter_map(|(k, _)| schema::token_of_client_key(k))
                .collect();
            let tokens = self.records(keys).await?;
            // Index entries whose token is already gone go too.
            let more = entries
                .iter()
                .map(|(k, _)| Write::Delete {
                    space: Space::ClientToken,
                    key: k.clone(),
                })
                .collect();
            n += self.delete_tokens(tokens, more).await?;
        }
        if n == 0 {
            self.settle().await?;
        }
        self.tally.clear(client_id);
        Ok(n)
    }

    /// Waits until every write already applied in memory (by any request) is durable.
    async fn settle(&self) -> Result<(), StoreError> {
        self.store.commit(Vec::new(), Vec::new()).await.map(|_| ())
    }

    /// The live counts of access tokens by client.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Recounts every client's access tokens from the store's per-client index.
    pub async fn census(&self) -> Result<(), StoreError> {
        let entries = self.store.scan(Space::ClientToken, &[], usize::MAX).await?;
        let tokens = entries.iter().filter_map(|(k, v)| {
            let (expires_at, refresh) = schema::read_client_token_value(v)?;
            (!refresh).then_some((schema::client_of_key(k)?, expires_at))
        });
        self.tally.rebuild(tokens);
        Ok(())
    }

    /// Counts freshly stored access tokens.
    pub fn counted(&self, records: &[&TokenRecord]) {
        for rec in records.iter().filter(|r| r.kind == TokenKind::Access) {
            self.tally.add(&rec.client_id, rec.expires_at);
        }
    }

    /// The grant record of `family`.
    pub async fn grant(&self, family: &FamilyId) -> Result<Option<GrantRecord>, StoreError> {
        self.store
            .get(Space::Grant, &schema::family(family))
            .await?
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
            key: schema::hashed(id),
            value: None,
        };
        let put = Write::Put {
            space: Space::Once,
            key: schema::hashed(id),
            value: Vec::new(),
            expires_at,
        };
        self.store.commit(vec![absent], vec![put]).await
    }

    /// Deletes expired records from the store.
    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let n = self.store.purge_expired(now).await?;
        self.tally.purged(now);
        Ok(n)
    }
}
