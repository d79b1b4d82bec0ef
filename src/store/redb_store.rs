//! The redb token store (`[store] backend = "redb"`): a copy-on-write B-tree file with
//! checksummed commits, under `data_dir/store-redb/`. Writes go to one writer thread that
//! groups every commit waiting for it into one write transaction (each commit's expectations
//! checked and its writes applied in turn, so each stays atomic and sees the ones before it),
//! commits that transaction durably (one fsync) and answers every writer of the group. Reads
//! run on the caller, against the last durable commit.
//!
//! The open does not trust the file: redb verifies the checksum of every page of the committed
//! trees and rebuilds its allocator state (`set_check_integrity_on_open`), and the open runs
//! under `catch_unwind`. Trusting it (redb's default after a clean close, or after a crash with
//! quick repair) let a byte flipped in a B-tree page start the gateway with an acknowledged
//! token gone, or made redb panic at open. This reads the whole file once at start-up.
//!
//! Tables: `records` (`tag` + key → expiry + value, [`super::layout`]) and `expiry` (expiry,
//! big endian, + `tag` + key → nothing), which the purge walks in batches. The seal
//! ([`super::seal`]) still matters: redb falls back to the previous commit slot when the last one
//! is damaged, which would silently forget the last group; each group stores its sequence number
//! and the seal file records it before any writer is answered.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

use super::layout::{full_key, split_expiry, with_expiry};
use super::redb_writer::{self, Job};
use super::{Entries, Expect, Space, StoreError, TokenStore, Write};
use crate::clock::UnixTime;

/// `tag` + key → expiry + value.
pub(super) const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");
/// expiry + `tag` + key → nothing.
pub(super) const EXPIRY: TableDefinition<&[u8], ()> = TableDefinition::new("expiry");
/// Key (in `records`) of the marker every store this gateway created holds.
pub(super) const MARKER: &[u8] = b"\0crmgate-store-v1";
/// Key (in `records`) of the sequence number of the last group commit.
pub(super) const SEQ: &[u8] = b"\0crmgate-seq";
/// The database file in the store folder.
pub const FILE: &str = "tokens.redb";
/// redb's page cache: bounded, since the gateway caches hot token records itself.
const CACHE_BYTES: usize = 64 * 1024 * 1024;
/// Longest scan run on the calling task; longer ones (census) go to a blocking thread.
const INLINE_SCAN: usize = 1024;

/// Token store on a redb database.
pub struct RedbStore {
    db: Arc<Database>,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
    failed: Arc<AtomicBool>,
    created: bool,
    dir: PathBuf,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn damaged(e: impl std::fmt::Display) -> StoreError {
    StoreError::Damaged(e.to_string())
}

impl RedbStore {
    /// Opens (or creates) the store in the folder `dir`; with `must_exist`, a store that is not
    /// there yet is reported as [`Self::created`] and left unmarked (so it is refused again).
    pub fn open_checked(dir: &Path, must_exist: bool) -> Result<Self, StoreError> {
        let started = std::time::Instant::now();
        std::fs::create_dir_all(dir).map_err(|e| backend(format!("{}: {e}", dir.display())))?;
        let file = dir.join(FILE);
        let mut builder = Database::builder();
        builder.set_cache_size(CACHE_BYTES);
        builder.set_check_integrity_on_open(true);
        builder.set_repair_callback(|session| {
            tracing::debug!(
                progress = session.progress(),
                "verifying the token store (redb)"
            );
        });
        let (db, created, seq) = guarded(|| {
            let db = builder.create(&file).map_err(|e| opening(&file, e))?;
            let (created, seq) = redb_writer::prepare(&db, dir, must_exist)?;
            Ok((db, created, seq))
        })?;
        let db = Arc::new(db);
        let failed = Arc::new(AtomicBool::new(false));
        let (jobs, writer) = redb_writer::start(db.clone(), dir, seq, failed.clone())?;
        tracing::info!(
            commit = seq,
            ms = started.elapsed().as_millis() as u64,
            "token store opened (redb)"
        );
        Ok(Self {
            db,
            jobs: Some(jobs),
            writer: Some(writer),
            failed,
            created,
            dir: dir.to_path_buf(),
        })
    }

    /// True when this open created the store.
    pub fn created(&self) -> bool {
        self.created
    }

    /// The store folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn usable(&self) -> Result<(), StoreError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(StoreError::Flush(
                "an earlier commit to disk failed: the store serves nothing until the gateway \
                 restarts"
                    .into(),
            ));
        }
        Ok(())
    }

    async fn submit<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        let stopped = || StoreError::Flush("the store's writer stopped".into());
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job(tx))
            .map_err(|_| stopped())?;
        rx.await
            .map_err(|_| StoreError::Flush("the store's writer stopped".into()))?
    }

    /// Number of values in `space` (a scan of that space).
    pub fn count(&self, space: Space) -> Result<usize, StoreError> {
        Ok(scan_db(&self.db, &full_key(space, &[]), usize::MAX)?.len())
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        // The writer ends with its queue; wait for it, so the file is closed when this returns.
        self.jobs.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// An error of opening the file: I/O is the disk's (except data redb cannot read as its own,
/// such as a damaged magic number), anything else means damage.
fn opening(file: &Path, e: redb::DatabaseError) -> StoreError {
    let msg = format!("cannot open {}: {e}", file.display());
    match e {
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() != std::io::ErrorKind::InvalidData =>
        {
            StoreError::Backend(msg)
        }
        _ => StoreError::Damaged(msg),
    }
}

/// Runs the open, turning a panic of redb on a damaged file into [`StoreError::Damaged`].
fn guarded<T>(f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(damaged(format!(
            "the storage engine (redb) panicked while opening the store: {msg}"
        )))
    })
}

fn read_error(e: impl std::fmt::Display) -> StoreError {
    match e.to_string() {
        m if m.contains("orrupt") => damaged(m),
        m => backend(m),
    }
}

fn get_db(db: &Database, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    let txn = db.begin_read().map_err(read_error)?;
    let table = txn.open_table(RECORDS).map_err(read_error)?;
    match table.get(key).map_err(read_error)? {
        None => Ok(None),
        Some(stored) => Ok(Some(split_expiry(stored.value())?.1.to_vec())),
    }
}

fn scan_db(db: &Database, start: &[u8], limit: usize) -> Result<Entries, StoreError> {
    let txn = db.begin_read().map_err(read_error)?;
    let table = txn.open_table(RECORDS).map_err(read_error)?;
    let mut out = Vec::new();
    for item in table.range(start..).map_err(read_error)? {
        if out.len() >= limit {
            break;
        }
        let (k, v) = item.map_err(read_error)?;
        let k = k.value();
        if !k.starts_with(start) {
            break;
        }
        out.push((k[1..].to_vec(), split_expiry(v.value())?.1.to_vec()));
    }
    Ok(out)
}

#[async_trait]
impl TokenStore for RedbStore {
    fn healthy(&self) -> bool {
        !self.failed.load(Ordering::SeqCst)
    }

    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.usable()?;
        get_db(&self.db, &full_key(space, key))
    }

    async fn scan(&self, space: Space, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        self.usable()?;
        let start = full_key(space, prefix);
        if limit <= INLINE_SCAN {
            return scan_db(&self.db, &start, limit);
        }
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || scan_db(&db, &start, limit))
            .await
            .map_err(|e| backend(format!("store task: {e}")))?
    }

    async fn commit(&self, expect: Vec<Expect>, writes: Vec<Write>) -> Result<bool, StoreError> {
        self.usable()?;
        if expect.is_empty() && writes.is_empty() {
            // Every write this store acknowledged is already durable.
            return Ok(true);
        }
        self.submit(|reply| Job::Commit {
            expect,
            writes,
            reply,
        })
        .await
    }

    async fn purge_expired(&self, now: UnixTime) -> Result<usize, StoreError> {
        self.usable()?;
        let mut purged = 0;
        loop {
            let (n, more) = self.submit(|reply| Job::Purge { now, reply }).await?;
            purged += n;
            if !more {
                return Ok(purged);
            }
        }
    }
}

/// The stored form of a put, and its expiry index key.
pub(super) fn put_entries(
    space: Space,
    key: &[u8],
    value: &[u8],
    at: UnixTime,
) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let k = full_key(space, key);
    let mut index = Vec::with_capacity(k.len() + 8);
    index.extend_from_slice(&at.to_be_bytes());
    index.extend_from_slice(&k);
    let stored = with_expiry(at, value);
    (k, stored, index)
}
