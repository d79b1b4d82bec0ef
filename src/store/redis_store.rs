//! The Redis backend (`[store] backend = "redis"`): several gateways share one Redis primary.
//! Every commit is one Lua script (checks and writes run as one atomic step on the server, so a
//! race between nodes has one winner); a commit is acknowledged only when Redis has it in its
//! append-only file (`appendonly yes`, `appendfsync always`: checked at open). Key layout, under
//! `store.key_prefix` (default `crmgate:`), with `T` the one-byte space tag of [`Space::tag`]:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<prefix>v<T><key>` | string | the value |
//! | `<prefix>i<T>` | sorted set, score 0 | the space's keys, for ordered prefix scans (`ZRANGEBYLEX`) |
//! | `<prefix>e` | sorted set, score = expiry | `<T><key>` of every value, for the purge |
//! | `<prefix>events` | stream | per commit, the token keys (32-byte hashes) it wrote or deleted (`t`), or the document written (`d`) |
//! | `<prefix>meta:key-check` | string | a keyed hash of the first node's master key |
//! | `<prefix>meta:ready` | string, 60 s expiry | written by every readiness check (`/gateway/readyz`) |
//! | `<prefix>doc:apps`, `<prefix>doc:users` | hash | the shared registry and users: `text` (sealed), `version`, `revision` ([`super::redis_docs`]) |
//! | `<prefix>doc:icons` | hash | icon path under `icons/` → the file's bytes |
//! | `<prefix>audit` | stream | the audit log of every gateway, one JSON entry (field `e`) per admin change |
//! | `<prefix>x<K><key>` | string with expiry | sessions, pending requests, throttle counters ([`super::ephemeral::Kind`] tag `K`) |
//!
//! Keys are keyed hashes, ids and names as [`super::schema`] builds them: never a token or a
//! secret. The client's connection lives on a runtime of its own, so every pingora service can
//! use it.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;

use super::journal::Journal;
use super::open::OpenError;
use super::redis_primary::{self, Persistence, Slot, check_durability, durability};
use super::redis_watch::{Freshness, Watch};
use super::{Changed, Entries, Expect, Space, StoreError, TokenStore, Write};
use crate::clock::UnixTime;

/// Values purged per script call.
const PURGE_BATCH: usize = 1000;

/// Entries kept in the change stream (about): a node away for longer than this many commits
/// empties its cache on return.
pub const STREAM_LENGTH: usize = 100_000;

const COMMIT: &str = r#"
local p = ARGV[1]
local i = 3
for _ = 1, tonumber(ARGV[2]) do
  local cur = redis.call('GET', p .. 'v' .. ARGV[i])
  if ARGV[i + 1] == '1' then
    if cur ~= ARGV[i + 2] then return 0 end
  elseif cur then
    return 0
  end
  i = i + 3
end
local writes = tonumber(ARGV[i])
i = i + 1
local tokens = {}
for _ = 1, writes do
  local tk = ARGV[i + 1]
  local index, key = p .. 'i' .. string.sub(tk, 1, 1), string.sub(tk, 2)
  if string.sub(tk, 1, 1) == 't' and #key == 32 then tokens[#tokens + 1] = key end
  if ARGV[i] == 'p' then
    redis.call('SET', p .. 'v' .. tk, ARGV[i + 2])
    redis.call('ZADD', index, 0, key)
    redis.call('ZADD', p .. 'e', ARGV[i + 3], tk)
    i = i + 4
  else
    redis.call('DEL', p .. 'v' .. tk)
    redis.call('ZREM', index, key)
    redis.call('ZREM', p .. 'e', tk)
    i = i + 2
  end
end
if #tokens > 0 then
  redis.call('XADD', p .. 'events', 'MAXLEN', '~', STREAM_LENGTH, '*', 't', table.concat(tokens))
end
return 1
"#;

const SCAN: &str = r#"
local p, tag = ARGV[1], ARGV[2]
local keys = redis.call('ZRANGEBYLEX', p .. 'i' .. tag, ARGV[3], ARGV[4], 'LIMIT', 0, ARGV[5])
local out = {}
for _, key in ipairs(keys) do
  local v = redis.call('GET', p .. 'v' .. tag .. key)
  if v then
    out[#out + 1] = key
    out[#out + 1] = v
  end
end
return out
"#;

const PURGE: &str = r#"
local p = ARGV[1]
local gone = redis.call('ZRANGEBYSCORE', p .. 'e', '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
for _, tk in ipairs(gone) do
  redis.call('DEL', p .. 'v' .. tk)
  redis.call('ZREM', p .. 'i' .. string.sub(tk, 1, 1), string.sub(tk, 2))
  redis.call('ZREM', p .. 'e', tk)
end
return #gone
"#;

/// How to reach Redis, from `[store]`.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://[user:password@]host:port/db` (`rediss://` for TLS).
    pub url: String,
    /// Prefix of every key, so deployments can share a Redis.
    pub key_prefix: String,
    /// Refuse to start unless the server fsyncs every write (`appendfsync always`).
    pub require_fsync: bool,
    /// Longest wait for a connection or an answer before the request fails (503).
    pub timeout: Duration,
    /// How long records cached on this node stay trusted without news from Redis.
    pub stale_after: Duration,
    /// Sentinels (`host:port`) to ask for the primary; empty: `url` is the primary.
    pub sentinels: Vec<String>,
    /// The Sentinels' name of the primary.
    pub master_name: String,
    /// Replicas that must have every commit before it is acknowledged (`WAIT`); 0: none.
    pub wait_replicas: u32,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379/0".into(),
            key_prefix: "crmgate:".into(),
            require_fsync: true,
            timeout: Duration::from_secs(1),
            stale_after: Duration::from_secs(2),
            sentinels: Vec::new(),
            master_name: String::new(),
            wait_replicas: 0,
        }
    }
}

/// The shared store.
pub struct RedisStore {
    primary: Slot,
    timeout: Duration,
    wait_replicas: u32,
    freshness: Freshness,
    prefix: Vec<u8>,
    commit: Script,
    scan: Script,
    purge: Script,
    bump: Script,
    runtime: Option<tokio::runtime::Runtime>,
    persistence: Persistence,
}

impl RedisStore {
    /// Connects and checks that the server makes every write durable (unless `require_fsync`
    /// is off, then it warns).
    pub fn open(opts: &RedisOptions) -> Result<Self, OpenError> {
        let fail =
            |what: &str, e: &dyn std::fmt::Display| OpenError(format!("store.url: {what}: {e}"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("crmgate-redis")
            .enable_all()
            .build()
            .map_err(|e| fail("cannot start its client", &e))?;
        let mut primary = runtime.block_on(redis_primary::first(opts))?;
        let fsync = runtime
            .block_on(durability(&mut primary.con))
            .map_err(|e| fail("cannot read the server's persistence settings", &e))?;
        check_durability(&fsync, opts.require_fsync)?;
        let primary: Slot = Arc::new(ArcSwap::from_pointee(primary));
        if !opts.sentinels.is_empty() {
            let sentinel =
                redis_primary::sentinel_client(&opts.url, &opts.sentinels, &opts.master_name)
                    .map_err(|e| fail("sentinels", &e))?;
            runtime.spawn(redis_primary::follow(
                sentinel,
                primary.clone(),
                opts.timeout,
            ));
        }
        Ok(Self {
            primary,
            timeout: opts.timeout,
            wait_replicas: opts.wait_replicas,
            freshness: Freshness::new(opts.stale_after),
            prefix: opts.key_prefix.as_bytes().to_vec(),
            commit: Script::new(&COMMIT.replace("STREAM_LENGTH", &STREAM_LENGTH.to_string())),
            scan: Script::new(SCAN),
            purge: Script::new(PURGE),
            bump: Script::new(super::redis_ephemeral::BUMP),
            runtime: Some(runtime),
            persistence: fsync,
        })
    }

    /// Records `check` (a keyed hash of the node's master key) on first use and refuses a node
    /// whose master key differs from the one the store's hashes were made with.
    pub fn claim_key(&self, check: &[u8]) -> Result<(), OpenError> {
        let key = [&self.prefix[..], b"meta:key-check"].concat();
        let mut con = self.connection();
        let claim = async move {
            let _: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(check)
                .arg("NX")
                .query_async(&mut con)
                .await?;
            redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<Vec<u8>>>(&mut con)
                .await
        };
        let Some(rt) = &self.runtime else {
            return Err(OpenError("store.redis: the client stopped".into()));
        };
        let stored = rt
            .block_on(claim)
            .map_err(|e| OpenError(format!("store.redis: cannot check the master key: {e}")))?;
        if stored.as_deref() == Some(check) {
            return Ok(());
        }
        Err(OpenError(format!(
            "store.redis: this gateway's {} differs from the one the shared store was written with: \
             every gateway on one store needs the same key file (copy it from the first node)",
            crate::keys::MASTER_KEY_FILE
        )))
    }

    /// The server's persistence settings, as read at open.
    pub fn persistence(&self) -> &Persistence {
        &self.persistence
    }

    /// Runs `f` on the client's runtime and waits for it from synchronous code (also from a
    /// thread of another runtime, which may not block on a runtime itself).
    fn wait_for<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = redis::RedisResult<T>> + Send + 'static,
    ) -> Result<T, String> {
        let Some(rt) = &self.runtime else {
            return Err("the Redis client stopped".into());
        };
        let (tx, rx) = std::sync::mpsc::channel();
        rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        match rx.recv_timeout(self.timeout * 2) {
            Ok(result) => result.map_err(|e| format!("redis: {e}")),
            Err(_) => Err("redis: no answer in time".into()),
        }
    }

    /// The prefix of every key.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The throttle counter script (hashed once).
    pub fn bump_script(&self) -> &Script {
        &self.bump
    }

    /// A handle on the shared connection to the current primary.
    pub fn connection(&self) -> ConnectionManager {
        self.primary.load().con.clone()
    }

    /// Waits until `store.redis.wait_replicas` replicas have every write made so far on
    /// `con`; an error when fewer confirm within the timeout.
    pub async fn replicated(&self, con: &mut ConnectionManager) -> Result<(), StoreError> {
        redis_primary::wait_replicas(con, self.wait_replicas, self.timeout).await
    }

    fn value_key(&self, space: Space, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + 2 + key.len());
        k.extend_from_slice(&self.prefix);
        k.push(b'v');
        k.push(space.tag());
        k.extend_from_slice(key);
        k
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which an async caller must not do.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn backend(e: redis::RedisError) -> StoreError {
    StoreError::Backend(format!("redis: {e}"))
}

/// The smallest string greater than every string starting with `prefix`, as a `ZRANGEBYLEX`
/// bound (`+` when there is none).
fn upper_bound(prefix: &[u8]) -> Vec<u8> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xff {
            let mut bound = vec![b'('];
            bound.extend_from_slice(&p);
            bound.push(last + 1);
            return bound;
        }
    }
    b"+".to_vec()
}

fn commit_args(prefix: &[u8], expect: &[Expect], writes: &[Write]) -> Vec<Vec<u8>> {
    let tagged = |space: Space, key: &[u8]| [&[space.tag()][..], key].concat();
    let mut args = vec![prefix.to_vec(), expect.len().to_string().into_bytes()];
    for e in expect {
        args.push(tagged(e.space, &e.key));
        args.push(if e.value.is_some() { b"1" } else { b"0" }.to_vec());
        args.push(e.value.clone().unwrap_or_default());
    }
    args.push(writes.len().to_string().into_bytes());
    for w in writes {
        match w {
            Write::Put {
                space,
                key,
                value,
                expires_at,
            } => {
                args.extend([b"p".to_vec(), tagged(*space, key), value.clone()]);
                args.push(expires_at.to_string().into_bytes());
            }
            Write::Delete { space, key } => {
                args.extend([b"d".to_vec(), tagged(*space, key)]);
            }
        }
    }
    args
}

impl Journal for RedisStore {
    fn append(&self, entry: &str) -> Result<(), String> {
        let mut con = self.connection();
        let stream = [&self.prefix[..], b"audit"].concat();
        let entry = entry.to_string();
        self.wait_for(async move {
            redis::cmd("XADD")
                .arg(stream)
                .arg("*")
                .arg("e")
                .arg(entry)
                .query_async::<String>(&mut con)
                .await
        })
        .map(|_| ())
    }
}

#[async_trait]
impl TokenStore for RedisStore {
    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut con = self.connection();
        redis::cmd("GET")
            .arg(self.value_key(space, key))
            .query_async(&mut con)
            .await
            .map_err(backend)
    }

    async fn scan(&self, space: Space, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        let lower = if prefix.is_empty() {
            b"-".to_vec()
        } else {
            [b"[", prefix].concat()
        };
        let count = i64::try_from(limit).unwrap_or(-1);
        let mut con = self.connection();
        let flat: Vec<Vec<u8>> = self
            .scan
            .arg(&self.prefix)
            .arg(&[space.tag()][..])
            .arg(lower)
            .arg(upper_bound(prefix))
            .arg(count)
            .invoke_async(&mut con)
            .await
            .map_err(backend)?;
        let mut out = Vec::with_capacity(flat.len() / 2);
        let mut it = flat.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            out.push((k, v));
        }
        Ok(out)
    }

    async fn commit(&self, expect: Vec<Expect>, writes: Vec<Write>) -> Result<bool, StoreError> {
        let mut invocation = self.commit.prepare_invoke();
        for a in commit_args(&self.prefix, &expect, &writes) {
            invocation.arg(a);
        }
        let mut con = self.connection();
        let done: i64 = invocation.invoke_async(&mut con).await.map_err(backend)?;
        self.replicated(&mut con).await?;
        Ok(done == 1)
    }

    fn fresh(&self) -> bool {
        self.freshness.fresh()
    }

    async fn ready(&self) -> Result<(), String> {
        let mut con = self.connection();
        let key = [&self.prefix[..], b"meta:ready"].concat();
        let written: redis::RedisResult<()> = redis::cmd("SET")
            .arg(key)
            .arg("1")
            .arg("PX")
            .arg(60_000)
            .query_async(&mut con)
            .await;
        written.map_err(|e| format!("redis does not take a write: {e}"))?;
        self.replicated(&mut con).await.map_err(|e| e.to_string())?;
        if !self.freshness.fresh() {
            return Err("the change stream has not been read within stale_ms".into());
        }
        Ok(())
    }

    fn watch(&self, on: Arc<dyn Fn(Changed) + Send + Sync>) {
        let Some(rt) = &self.runtime else {
            return;
        };
        let watch = Watch {
            primary: self.primary.clone(),
            stream: [&self.prefix[..], b"events"].concat(),
            on,
            freshness: self.freshness.clone(),
            timeout: self.timeout,
        };
        rt.spawn(watch.run());
    }

    async fn purge_expired(&self, now: UnixTime) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let mut con = self.connection();
            let n: usize = self
                .purge
                .arg(&self.prefix)
                .arg(now)
                .arg(PURGE_BATCH)
                .invoke_async(&mut con)
                .await
                .map_err(backend)?;
            total += n;
            if n < PURGE_BATCH {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_bounds_cover_exactly_the_prefix() {
        assert_eq!(upper_bound(b"ab"), b"(ac");
        assert_eq!(upper_bound(b"a\xff"), b"(b");
        assert_eq!(upper_bound(b"\xff\xff"), b"+");
        assert_eq!(upper_bound(b""), b"+");
    }
}
