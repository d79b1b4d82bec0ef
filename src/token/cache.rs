//! The in-memory token cache in front of the store: entries never outlive their token, and a
//! revocation removes the entry at once, even when it races a concurrent lookup.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moka::Expiry;
use moka::sync::Cache;

use crate::store::Changed;
use crate::token::record::{TokenKey, TokenRecord};

struct UntilTokenExpiry;

impl Expiry<TokenKey, Arc<TokenRecord>> for UntilTokenExpiry {
    fn expire_after_create(
        &self,
        _key: &TokenKey,
        value: &Arc<TokenRecord>,
        _created_at: Instant,
    ) -> Option<Duration> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Some(Duration::from_secs(value.expires_at.saturating_sub(now)))
    }
}

/// Cached token records keyed by token hash.
pub struct TokenCache {
    cache: Cache<TokenKey, Arc<TokenRecord>>,
    invalidations: AtomicU64,
}

impl TokenCache {
    /// A cache holding at most `capacity` records.
    pub fn new(capacity: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(capacity)
            .expire_after(UntilTokenExpiry)
            .build();
        Self {
            cache,
            invalidations: AtomicU64::new(0),
        }
    }

    /// The cached record, if any.
    pub fn get(&self, key: &TokenKey) -> Option<Arc<TokenRecord>> {
        self.cache.get(key)
    }

    /// A marker to take before reading the store for a miss; pass it to [`Self::fill`].
    pub fn epoch(&self) -> u64 {
        self.invalidations.load(Ordering::SeqCst)
    }

    /// Caches a record read from the store after `epoch` was taken. If any invalidation ran in
    /// between, the entry is dropped again, so a revoked record can never stay cached.
    pub fn fill(&self, epoch: u64, key: TokenKey, record: Arc<TokenRecord>) {
        if self.invalidations.load(Ordering::SeqCst) != epoch {
            return;
        }
        self.cache.insert(key, record);
        if self.invalidations.load(Ordering::SeqCst) != epoch {
            self.cache.invalidate(&key);
        }
    }

    /// Forgets `key`; call after the store no longer holds it. Also the hook for invalidations
    /// that come from other gateway nodes.
    pub fn invalidate(&self, key: &TokenKey) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate(key);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_all();
    }

    /// Applies what a shared store reports: the token keys some gateway changed, or that
    /// changes may have been missed.
    pub fn changed(&self, change: Changed) {
        match change {
            Changed::Tokens(keys) => {
                for key in keys {
                    if let Ok(bytes) = <[u8; 32]>::try_from(key.as_slice()) {
                        self.invalidate(&crate::keys::Digest(bytes));
                    }
                }
            }
            Changed::Unknown => self.clear(),
            Changed::Documents => {}
        }
    }

    /// Number of cached entries (approximate).
    pub fn len(&self) -> u64 {
        self.cache.entry_count()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
