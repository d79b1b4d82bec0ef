//! Which Redis server is the primary: the one `store.redis.url` names, or the one the Sentinels
//! (`store.redis.sentinels`, `master_name`) name, asked at start and every half second after,
//! so after a failover every connection of this gateway moves to the new primary by itself;
//! and whether the primary's persistence settings make an acknowledged write durable.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Client, IntoConnectionInfo};

use super::StoreError;
use super::open::OpenError;
use super::redis_store::RedisOptions;

/// How often the Sentinels are asked which server is the primary.
const ASK_EVERY: Duration = Duration::from_millis(500);

/// The primary and this gateway's shared connection to it.
pub struct Primary {
    /// The server.
    pub client: Client,
    /// The multiplexed connection every request uses (reconnects by itself).
    pub con: ConnectionManager,
}

/// The current primary, swapped when the Sentinels name another one.
pub type Slot = Arc<ArcSwap<Primary>>;

/// A client for the Sentinels at `sentinels` (`host:port`) watching `master_name`; `url`
/// gives what connections to the primary use besides its address (database, user, password).
pub fn sentinel_client(
    url: &str,
    sentinels: &[String],
    master_name: &str,
) -> redis::RedisResult<SentinelClient> {
    let info = url.into_connection_info()?;
    let node = SentinelNodeConnectionInfo::default()
        .set_redis_connection_info(info.redis_settings().clone());
    let addrs: Vec<String> = sentinels.iter().map(|s| format!("redis://{s}")).collect();
    SentinelClient::build(
        addrs,
        master_name.to_string(),
        Some(node),
        SentinelServerType::Master,
    )
}

/// Connects to `client` with `timeout` for connecting and for every answer.
pub async fn connect(client: Client, timeout: Duration) -> redis::RedisResult<Primary> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1);
    let con = ConnectionManager::new_with_config(client.clone(), config).await?;
    Ok(Primary { client, con })
}

/// Asks the Sentinels which server is the primary, within `timeout`.
pub async fn ask(sentinel: &mut SentinelClient, timeout: Duration) -> redis::RedisResult<Client> {
    match tokio::time::timeout(timeout, sentinel.async_get_client()).await {
        Ok(answer) => answer,
        Err(_) => Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "no Sentinel answered in time",
        ))),
    }
}

/// Follows the Sentinels for as long as the runtime runs: when they name another primary,
/// connects to it and puts it in `slot`.
pub async fn follow(mut sentinel: SentinelClient, slot: Slot, timeout: Duration) {
    let mut lost = false;
    loop {
        tokio::time::sleep(ASK_EVERY).await;
        let client = match ask(&mut sentinel, timeout).await {
            Ok(c) => c,
            Err(e) => {
                if !lost {
                    tracing::warn!(error = %e, "cannot ask the Sentinels for the Redis primary");
                }
                lost = true;
                continue;
            }
        };
        lost = false;
        let addr = client.get_connection_info().addr().clone();
        if addr == *slot.load().client.get_connection_info().addr() {
            continue;
        }
        match connect(client, timeout).await {
            Ok(primary) => {
                tracing::warn!(primary = %addr, "the Sentinels name a new Redis primary; writes go there now");
                slot.store(Arc::new(primary));
            }
            Err(e) => {
                tracing::warn!(primary = %addr, error = %e, "cannot connect to the new Redis primary")
            }
        }
    }
}

/// The primary at start: `url`, or the one the Sentinels name.
pub async fn first(opts: &RedisOptions) -> Result<Primary, OpenError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| OpenError(format!("store.url: {what}: {e}"));
    let client = if opts.sentinels.is_empty() {
        redis::Client::open(opts.url.as_str()).map_err(|e| fail("invalid", &e))?
    } else {
        let mut sentinel = sentinel_client(&opts.url, &opts.sentinels, &opts.master_name)
            .map_err(|e| fail("sentinels", &e))?;
        ask(&mut sentinel, opts.timeout)
            .await
            .map_err(|e| fail("no Sentinel names a primary", &e))?
    };
    connect(client, opts.timeout)
        .await
        .map_err(|e| fail("cannot connect", &e))
}

/// Waits until `n` replicas have every write made so far on `con` (`WAIT`); an error when
/// fewer confirm within `timeout`. Nothing to wait for when `n` is 0.
pub async fn wait_replicas(
    con: &mut ConnectionManager,
    n: u32,
    timeout: Duration,
) -> Result<(), StoreError> {
    if n == 0 {
        return Ok(());
    }
    let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let acked: u32 = redis::cmd("WAIT")
        .arg(n)
        .arg(millis)
        .query_async(con)
        .await
        .map_err(|e| StoreError::Backend(format!("redis: {e}")))?;
    if acked < n {
        return Err(StoreError::Backend(format!(
            "redis: {acked} of {n} replicas confirmed the write in time"
        )));
    }
    Ok(())
}

/// What the server says of its persistence: `appendonly` and `appendfsync`.
#[derive(Debug, Clone)]
pub struct Persistence {
    /// `appendonly yes`.
    pub append_only: bool,
    /// `appendfsync` (`always`, `everysec`, `no`).
    pub fsync: String,
}

pub async fn durability(con: &mut ConnectionManager) -> redis::RedisResult<Persistence> {
    let setting = |name: &'static str| {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("GET").arg(name);
        cmd
    };
    let append: Vec<String> = setting("appendonly").query_async(con).await?;
    let fsync: Vec<String> = setting("appendfsync").query_async(con).await?;
    Ok(Persistence {
        append_only: append.get(1).is_some_and(|v| v == "yes"),
        fsync: fsync.get(1).cloned().unwrap_or_default(),
    })
}

impl Persistence {
    /// True when every acknowledged write is on the server's disk.
    pub fn durable(&self) -> bool {
        self.append_only && self.fsync == "always"
    }
}

/// Refuses (or, when `required` is off, warns of) a server that does not fsync every write.
pub fn check_durability(p: &Persistence, required: bool) -> Result<(), OpenError> {
    if p.durable() {
        return Ok(());
    }
    let what = format!(
        "the Redis server does not make every write durable (appendonly {}, appendfsync {}): \
         set `appendonly yes` and `appendfsync always` on it",
        if p.append_only { "yes" } else { "no" },
        p.fsync
    );
    if required {
        return Err(OpenError(format!(
            "{what}, or set store.require_fsync = false to accept losing acknowledged writes"
        )));
    }
    tracing::warn!(
        "{what}; store.require_fsync = false: a crash of Redis may lose acknowledged writes"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_without_fsync_always_is_refused_unless_accepted() {
        let lax = || Persistence {
            append_only: true,
            fsync: "everysec".into(),
        };
        let e = check_durability(&lax(), true).unwrap_err().to_string();
        assert!(
            e.contains("appendfsync everysec") && e.contains("require_fsync"),
            "{e}"
        );
        assert!(check_durability(&lax(), false).is_ok());
        let strict = Persistence {
            append_only: true,
            fsync: "always".into(),
        };
        assert!(check_durability(&strict, true).is_ok());
    }
}
