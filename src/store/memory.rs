//! The reference token store: one ordered map behind a lock. It defines what every backend must
//! do (the contract suite runs against it first) and serves tests; it is not durable, so the
//! gateway never serves from it.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{Entries, Expect, Space, StoreError, TokenStore, Write};
use crate::clock::UnixTime;

type Map = BTreeMap<(Space, Vec<u8>), (UnixTime, Vec<u8>)>;

/// Token store in memory.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<Map>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn locked(&self) -> Result<MutexGuard<'_, Map>, StoreError> {
        self.map
            .lock()
            .map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }
}

fn holds(map: &Map, expect: &Expect) -> bool {
    let current = map.get(&(expect.space, expect.key.clone()));
    current.map(|(_, v)| v.as_slice()) == expect.value.as_deref()
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let map = self.locked()?;
        Ok(map.get(&(space, key.to_vec())).map(|(_, v)| v.clone()))
    }

    async fn scan(&self, space: Space, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        let map = self.locked()?;
        Ok(map
            .range((space, prefix.to_vec())..)
            .take_while(|((s, k), _)| *s == space && k.starts_with(prefix))
            .take(limit)
            .map(|((_, k), (_, v))| (k.clone(), v.clone()))
            .collect())
    }

    async fn commit(&self, expect: Vec<Expect>, writes: Vec<Write>) -> Result<bool, StoreError> {
        let mut map = self.locked()?;
        if !expect.iter().all(|e| holds(&map, e)) {
            return Ok(false);
        }
        for w in writes {
            match w {
                Write::Put {
                    space,
                    key,
                    value,
                    expires_at,
                } => {
                    map.insert((space, key), (expires_at, value));
                }
                Write::Delete { space, key } => {
                    map.remove(&(space, key));
                }
            }
        }
        Ok(true)
    }

    async fn purge_expired(&self, now: UnixTime) -> Result<usize, StoreError> {
        let mut map = self.locked()?;
        let before = map.len();
        map.retain(|_, (at, _)| *at >= now);
        Ok(before - map.len())
    }
}
