//! How a gateway hears what other gateways changed on a shared Redis: every commit that writes
//! or deletes token records appends their keys to the stream `<prefix>events` (in the same Lua
//! script, so no change goes unannounced), and each node reads that stream from the last entry it
//! saw, on a connection of its own; writes of the shared documents are announced there too. After a disconnect it reads on from there; when that entry is
//! gone (the stream was trimmed or flushed) it cannot know what it missed and reports
//! [`Changed::Unknown`]. The time of the last successful read is what [`Freshness`] judges.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamReadOptions, StreamReadReply};

use super::Changed;

/// Longest a stream read waits for news before it returns empty (and counts as contact).
const BLOCK: Duration = Duration::from_millis(250);
/// Pause before reconnecting.
const RETRY: Duration = Duration::from_millis(100);
/// Entries read at once.
const BATCH: usize = 1000;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// When this node last heard from Redis, judged against the staleness budget.
#[derive(Debug, Clone)]
pub struct Freshness {
    heard_ms: Arc<AtomicU64>,
    budget_ms: u64,
}

impl Freshness {
    /// Fresh now, for `budget`.
    pub fn new(budget: Duration) -> Self {
        Self {
            heard_ms: Arc::new(AtomicU64::new(now_ms())),
            budget_ms: u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn heard(&self) {
        self.heard_ms.store(now_ms(), Ordering::SeqCst);
    }

    /// True while the last contact is within the budget.
    pub fn fresh(&self) -> bool {
        now_ms().saturating_sub(self.heard_ms.load(Ordering::SeqCst)) <= self.budget_ms
    }
}

/// What the watcher needs: the server, the stream, the callback, and the freshness to update.
pub struct Watch {
    /// The current primary.
    pub primary: super::redis_primary::Slot,
    /// `<prefix>events`.
    pub stream: Vec<u8>,
    /// Told of every change.
    pub on: Arc<dyn Fn(Changed) + Send + Sync>,
    /// Updated on every successful read.
    pub freshness: Freshness,
    /// Connection timeout.
    pub timeout: Duration,
}

impl Watch {
    /// Reads the stream for as long as the runtime runs, reconnecting after every failure.
    pub async fn run(self) {
        let mut last: Option<String> = None;
        loop {
            if let Err(e) = self.follow(&mut last).await {
                tracing::warn!(error = %e, "lost the shared store's change stream; reconnecting");
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    async fn follow(&self, last: &mut Option<String>) -> redis::RedisResult<()> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(BLOCK + self.timeout));
        let client = self.primary.load().client.clone();
        let mut con = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let id = match last.as_deref() {
            None => {
                // Records cached before the mark could have changed unannounced.
                let id = self.mark(&mut con).await?;
                (self.on)(Changed::Unknown);
                id
            }
            Some(id) if self.still_there(&mut con, id).await? => id.to_string(),
            Some(_) => {
                tracing::warn!(
                    "changes on the shared store may have been missed; token cache emptied"
                );
                (self.on)(Changed::Unknown);
                self.mark(&mut con).await?
            }
        };
        *last = Some(id);
        self.freshness.heard();
        loop {
            let options = StreamReadOptions::default()
                .block(BLOCK.as_millis() as usize)
                .count(BATCH);
            let from = last.clone().unwrap_or_else(|| "0-0".into());
            let reply: Option<StreamReadReply> = redis::cmd("XREAD")
                .arg(&options)
                .arg("STREAMS")
                .arg(&self.stream)
                .arg(&from)
                .query_async(&mut con)
                .await?;
            self.freshness.heard();
            for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
                if let Some(redis::Value::BulkString(keys)) = entry.map.get("t") {
                    (self.on)(Changed::Tokens(
                        keys.chunks(32).map(<[u8]>::to_vec).collect(),
                    ));
                }
                if entry.map.contains_key("d") {
                    (self.on)(Changed::Documents);
                }
                *last = Some(entry.id);
            }
        }
    }

    /// Appends a start mark and returns its id: reading on from it misses nothing, and while it
    /// is in the stream nothing after it was trimmed.
    async fn mark(&self, con: &mut MultiplexedConnection) -> redis::RedisResult<String> {
        redis::cmd("XADD")
            .arg(&self.stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(super::redis_store::STREAM_LENGTH)
            .arg("*")
            .arg("m")
            .arg("")
            .query_async(con)
            .await
    }

    async fn still_there(
        &self,
        con: &mut MultiplexedConnection,
        id: &str,
    ) -> redis::RedisResult<bool> {
        let found: Vec<redis::Value> = redis::cmd("XRANGE")
            .arg(&self.stream)
            .arg(id)
            .arg(id)
            .query_async(con)
            .await?;
        Ok(!found.is_empty())
    }
}
