//! [`Ephemeral`] on the shared Redis: `<prefix>x<kind tag><key>` strings with a millisecond
//! expiry (`SET ... PX`), counters by `INCR` and `PEXPIRE` in one script.

use std::time::Duration;

use async_trait::async_trait;

use super::StoreError;
use super::ephemeral::{Ephemeral, Kind};
use super::redis_store::RedisStore;

/// The counter script, run by [`RedisStore::bump_script`].
pub const BUMP: &str = r#"
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
"#;

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn backend(e: redis::RedisError) -> StoreError {
    StoreError::Backend(format!("redis: {e}"))
}

impl RedisStore {
    fn short_key(&self, kind: Kind, key: &[u8]) -> Vec<u8> {
        [self.prefix(), b"x", &[kind.tag()], key].concat()
    }
}

#[async_trait]
impl Ephemeral for RedisStore {
    async fn get(&self, kind: Kind, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        redis::cmd("GET")
            .arg(self.short_key(kind, key))
            .query_async(&mut self.connection())
            .await
            .map_err(backend)
    }

    async fn put(
        &self,
        kind: Kind,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        redis::cmd("SET")
            .arg(self.short_key(kind, key))
            .arg(value)
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut self.connection())
            .await
            .map_err(backend)
    }

    async fn delete(&self, kind: Kind, key: &[u8]) -> Result<(), StoreError> {
        redis::cmd("DEL")
            .arg(self.short_key(kind, key))
            .query_async(&mut self.connection())
            .await
            .map_err(backend)
    }

    async fn bump(&self, kind: Kind, key: &[u8], ttl: Duration) -> Result<u64, StoreError> {
        self.bump_script()
            .key(self.short_key(kind, key))
            .arg(millis(ttl))
            .invoke_async(&mut self.connection())
            .await
            .map_err(backend)
    }
}
