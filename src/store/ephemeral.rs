//! Short-lived state that every gateway of a deployment must see alike: login and admin
//! sessions, pending authorization requests, failure counters of the throttles. In memory with
//! one gateway ([`MemoryEphemeral`]); on Redis when the gateways share a store, so a user can log
//! in on one node and consent on another and a guesser meets one throttle. Keys are keyed hashes
//! or names, never a cookie value; everything expires by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::sync::Cache;

use super::StoreError;

/// What a key names; each kind is its own key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Login page sessions, by keyed hash of the cookie: the username.
    LoginSession,
    /// Pending authorization requests, by id.
    Pending,
    /// The session a pending request is bound to, by request id.
    Bound,
    /// Admin API sessions, by keyed hash of the cookie.
    AdminSession,
    /// Failed logins per username.
    UserFailures,
    /// Failed logins per address.
    AddressFailures,
    /// Failed client authentications per client id.
    ClientFailures,
    /// Failed client authentications per address.
    ClientAddressFailures,
}

impl Kind {
    /// The byte that prefixes the kind's keys.
    pub fn tag(self) -> u8 {
        match self {
            Kind::LoginSession => b's',
            Kind::Pending => b'p',
            Kind::Bound => b'b',
            Kind::AdminSession => b'a',
            Kind::UserFailures => b'u',
            Kind::AddressFailures => b'i',
            Kind::ClientFailures => b'c',
            Kind::ClientAddressFailures => b'd',
        }
    }
}

/// Short-lived shared state.
#[async_trait]
pub trait Ephemeral: Send + Sync + 'static {
    /// The value under `key`, unless it expired.
    async fn get(&self, kind: Kind, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value` for `ttl`.
    async fn put(
        &self,
        kind: Kind,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// Removes `key`.
    async fn delete(&self, kind: Kind, key: &[u8]) -> Result<(), StoreError>;
    /// Adds one to the counter under `key` (which then lasts `ttl` from now); the new count.
    async fn bump(&self, kind: Kind, key: &[u8], ttl: Duration) -> Result<u64, StoreError>;
}

#[derive(Clone)]
struct Entry {
    value: Arc<Vec<u8>>,
    ttl: Duration,
}

struct PerEntry;

impl Expiry<(Kind, Vec<u8>), Entry> for PerEntry {
    fn expire_after_create(&self, _: &(Kind, Vec<u8>), e: &Entry, _: Instant) -> Option<Duration> {
        Some(e.ttl)
    }

    fn expire_after_update(
        &self,
        _: &(Kind, Vec<u8>),
        e: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(e.ttl)
    }
}

/// One gateway's short-lived state, in memory (gone at restart).
pub struct MemoryEphemeral {
    entries: Cache<(Kind, Vec<u8>), Entry>,
}

impl MemoryEphemeral {
    /// Holds at most `capacity` entries (the least used go first).
    pub fn new(capacity: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(capacity)
            .expire_after(PerEntry)
            .build();
        Self { entries }
    }
}

#[async_trait]
impl Ephemeral for MemoryEphemeral {
    async fn get(&self, kind: Kind, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .entries
            .get(&(kind, key.to_vec()))
            .map(|e| e.value.to_vec()))
    }

    async fn put(
        &self,
        kind: Kind,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let entry = Entry {
            value: Arc::new(value.to_vec()),
            ttl,
        };
        self.entries.insert((kind, key.to_vec()), entry);
        Ok(())
    }

    async fn delete(&self, kind: Kind, key: &[u8]) -> Result<(), StoreError> {
        self.entries.invalidate(&(kind, key.to_vec()));
        Ok(())
    }

    async fn bump(&self, kind: Kind, key: &[u8], ttl: Duration) -> Result<u64, StoreError> {
        let entry = self
            .entries
            .entry((kind, key.to_vec()))
            .and_upsert_with(|old| {
                let n = old.map_or(0, |e| count_of(&e.into_value().value)) + 1;
                Entry {
                    value: Arc::new(n.to_be_bytes().to_vec()),
                    ttl,
                }
            });
        Ok(count_of(&entry.into_value().value))
    }
}

/// A counter's value as [`Ephemeral::bump`] stores it in memory (8 bytes, big-endian) or Redis
/// keeps it (decimal text).
pub fn count_of(raw: &[u8]) -> u64 {
    if let Ok(b) = <[u8; 8]>::try_from(raw) {
        return u64::from_be_bytes(b);
    }
    std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_expire_counters_count_and_kinds_are_apart() {
        let e = MemoryEphemeral::new(100);
        let short = Duration::from_millis(50);
        e.put(Kind::Pending, b"k", b"v", short).await.unwrap();
        assert_eq!(
            e.get(Kind::Pending, b"k").await.unwrap(),
            Some(b"v".to_vec())
        );
        assert_eq!(e.get(Kind::Bound, b"k").await.unwrap(), None);
        let long = Duration::from_secs(60);
        assert_eq!(e.bump(Kind::UserFailures, b"aldo", long).await.unwrap(), 1);
        assert_eq!(e.bump(Kind::UserFailures, b"aldo", long).await.unwrap(), 2);
        assert_eq!(
            e.bump(Kind::AddressFailures, b"aldo", long).await.unwrap(),
            1
        );
        e.delete(Kind::UserFailures, b"aldo").await.unwrap();
        assert_eq!(e.bump(Kind::UserFailures, b"aldo", long).await.unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(e.get(Kind::Pending, b"k").await.unwrap(), None, "expired");
    }
}
