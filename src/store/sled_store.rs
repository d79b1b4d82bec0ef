//! The sled token store: one tree, space-tagged keys, atomic batches and transactions,
//! group-committed flushes.
//!
//! Layout: `tag` + key → expiry (8 bytes, big endian) + value; `x` + expiry + tag + key → ()
//! is the expiry index the purge walks. A value re-put with a later expiry keeps its new expiry:
//! the purge deletes a value only when its stored expiry is the indexed one.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::flusher::Flusher;
use super::layout::{full_key, split_expiry, with_expiry};
use super::seal::Seal;
use super::sled_open::{self, Sealer};
use super::{Expect, Space, StoreError, TokenStore, Write};
use crate::clock::UnixTime;

const EXPIRY: u8 = b'x';

/// Token store on a sled database.
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    flusher: Flusher,
    /// Set when a flush failed: sled's memory then holds writes that are not on disk (and sled
    /// fails every later flush), so reads could acknowledge what a restart forgets.
    poisoned: Arc<AtomicBool>,
    created: bool,
}

/// Key of the marker every store this gateway created holds.
const MARKER: &[u8] = b"\0crmgate-store-v1";

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn expiry_key(at: UnixTime, target: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(target.len() + 9);
    k.push(EXPIRY);
    k.extend_from_slice(&at.to_be_bytes());
    k.extend_from_slice(target);
    k
}

/// Why a transaction stopped.
enum Abort {
    /// An expectation did not hold.
    Unmet,
    /// A stored value was malformed.
    Corrupt(String),
}

type TxResult<T> = Result<T, ConflictableTransactionError<Abort>>;

fn tx_expectations_hold(tx: &TransactionalTree, expect: &[Expect]) -> TxResult<bool> {
    for e in expect {
        let current = tx.get(full_key(e.space, &e.key))?;
        let value = match &current {
            None => None,
            Some(stored) => Some(
                split_expiry(stored)
                    .map_err(|e| {
                        ConflictableTransactionError::Abort(Abort::Corrupt(e.to_string()))
                    })?
                    .1,
            ),
        };
        if value != e.value.as_deref() {
            return Ok(false);
        }
    }
    Ok(true)
}

fn tx_apply(tx: &TransactionalTree, writes: &[Write]) -> TxResult<()> {
    for w in writes {
        match w {
            Write::Put {
                space,
                key,
                value,
                expires_at,
            } => {
                let k = full_key(*space, key);
                tx.insert(expiry_key(*expires_at, &k), &[][..])?;
                tx.insert(k, with_expiry(*expires_at, value))?;
            }
            Write::Delete { space, key } => {
                tx.remove(full_key(*space, key))?;
            }
        }
    }
    Ok(())
}

fn batch_of(writes: &[Write]) -> sled::Batch {
    let mut batch = sled::Batch::default();
    for w in writes {
        match w {
            Write::Put {
                space,
                key,
                value,
                expires_at,
            } => {
                let k = full_key(*space, key);
                batch.insert(expiry_key(*expires_at, &k), &[][..]);
                batch.insert(k, with_expiry(*expires_at, value));
            }
            Write::Delete { space, key } => batch.remove(full_key(*space, key)),
        }
    }
    batch
}

impl SledStore {
    /// Opens (or creates) the store under `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_checked(dir, false)
    }

    /// Opens the store under `dir`; with `must_exist`, an empty store is reported as
    /// [`Self::created`] and left unmarked (so it is refused again next time).
    ///
    /// Every record is read once, sled panics are caught, and the commit sequence is checked
    /// against the seal: a damaged store, or one that lost acknowledged writes, is an error.
    pub fn open_checked(dir: &Path, must_exist: bool) -> Result<Self, StoreError> {
        let started = std::time::Instant::now();
        let (db, tree, records) = sled_open::open_verified(dir)?;
        let marked = tree.get(MARKER).map_err(backend)?.is_some();
        let created = !marked && tree.is_empty();
        if created && !must_exist {
            tree.insert(MARKER, &b"1"[..]).map_err(backend)?;
            db.flush().map_err(|e| StoreError::Flush(e.to_string()))?;
        } else if !created && !marked {
            return Err(StoreError::Damaged(format!(
                "{} is not a crmgate token store, or it is damaged",
                dir.display()
            )));
        }
        let seq = sled_open::check_seal(dir, &tree)?;
        tracing::info!(
            records,
            commit = seq,
            ms = started.elapsed().as_millis() as u64,
            "token store opened and verified"
        );
        let poisoned = Arc::new(AtomicBool::new(false));
        let sealer = Sealer {
            db: db.clone(),
            tree: tree.clone(),
            seal: Seal::create(dir, seq)?,
            seq: AtomicU64::new(seq),
            poisoned: poisoned.clone(),
        };
        let flusher = Flusher::start(move || sealer.round()).map_err(backend)?;
        Ok(Self {
            db,
            tree,
            flusher,
            poisoned,
            created,
        })
    }

    /// True when this open created the store (it did not exist before).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Every record of every space with its expiry, in key order (for `crmgate store migrate`).
    pub fn export(&self) -> impl Iterator<Item = Result<super::layout::Record, StoreError>> + '_ {
        self.tree.iter().filter_map(|item| {
            let (k, v) = match item {
                Ok(kv) => kv,
                Err(e) => return Some(Err(backend(e))),
            };
            let space = Space::ALL
                .into_iter()
                .find(|s| Some(&s.tag()) == k.first())?;
            Some(
                split_expiry(&v).map(|(expires_at, value)| super::layout::Record {
                    space,
                    key: k[1..].to_vec(),
                    value: value.to_vec(),
                    expires_at,
                }),
            )
        })
    }

    /// Number of values in `space` (a full scan of that space).
    pub fn count(&self, space: Space) -> usize {
        self.tree.scan_prefix([space.tag()]).count()
    }

    /// Flushes everything now (used at shutdown).
    pub fn flush_now(&self) -> Result<(), StoreError> {
        self.db
            .flush()
            .map(|_| ())
            .map_err(|e| StoreError::Flush(e.to_string()))
    }

    /// True once a flush has failed: the store then refuses every read and write until the
    /// gateway restarts (a health check should report it).
    pub fn failed(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }

    /// An error once a flush has failed (until the gateway restarts and verifies the store).
    fn usable(&self) -> Result<(), StoreError> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(StoreError::Flush(
                "an earlier flush to disk failed: the store serves nothing until the gateway \
                 restarts"
                    .into(),
            ));
        }
        Ok(())
    }

    fn transact(&self, expect: &[Expect], writes: &[Write]) -> Result<bool, StoreError> {
        let result = self.tree.transaction(|tx| {
            if !tx_expectations_hold(tx, expect)? {
                return Err(ConflictableTransactionError::Abort(Abort::Unmet));
            }
            tx_apply(tx, writes)
        });
        match result {
            Ok(()) => Ok(true),
            Err(TransactionError::Abort(Abort::Unmet)) => Ok(false),
            Err(TransactionError::Abort(Abort::Corrupt(e))) => Err(StoreError::Corrupt(e)),
            Err(TransactionError::Storage(e)) => Err(backend(e)),
        }
    }
}

#[async_trait]
impl TokenStore for SledStore {
    fn healthy(&self) -> bool {
        !self.failed()
    }

    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.usable()?;
        match self.tree.get(full_key(space, key)).map_err(backend)? {
            None => Ok(None),
            Some(stored) => Ok(Some(split_expiry(&stored)?.1.to_vec())),
        }
    }

    async fn scan(
        &self,
        space: Space,
        prefix: &[u8],
        limit: usize,
    ) -> Result<super::Entries, StoreError> {
        self.usable()?;
        let start = full_key(space, prefix);
        if limit <= INLINE_SCAN {
            return scan_tree(&self.tree, &start, limit);
        }
        let tree = self.tree.clone();
        blocking(move || scan_tree(&tree, &start, limit)).await
    }

    async fn commit(&self, expect: Vec<Expect>, writes: Vec<Write>) -> Result<bool, StoreError> {
        self.usable()?;
        if expect.is_empty() {
            self.tree.apply_batch(batch_of(&writes)).map_err(backend)?;
        } else if !self.transact(&expect, &writes)? {
            return Ok(false);
        }
        self.flusher.sync().await.map(|()| true)
    }

    fn close(&self) -> Result<(), StoreError> {
        self.flush_now()
    }

    async fn purge_expired(&self, now: UnixTime) -> Result<usize, StoreError> {
        self.usable()?;
        let tree = self.tree.clone();
        blocking(move || purge_tree(&tree, now)).await
    }
}

/// Longest scan run on the calling task; longer ones (census, purge) go to a blocking thread.
const INLINE_SCAN: usize = 1024;

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Backend(format!("store task: {e}")))?
}

fn scan_tree(tree: &sled::Tree, start: &[u8], limit: usize) -> Result<super::Entries, StoreError> {
    let mut out = Vec::new();
    for item in tree.scan_prefix(start).take(limit) {
        let (k, v) = item.map_err(backend)?;
        out.push((k[1..].to_vec(), split_expiry(&v)?.1.to_vec()));
    }
    Ok(out)
}

/// Deletes the values whose indexed expiry is before `now`, with their index entries.
fn purge_tree(tree: &sled::Tree, now: UnixTime) -> Result<usize, StoreError> {
    let start = [EXPIRY];
    let end = expiry_key(now, &[]);
    let mut purged = 0;
    let mut batch = sled::Batch::default();
    for (seen, item) in tree.range(&start[..]..&end[..]).enumerate() {
        let (index, _) = item.map_err(backend)?;
        batch.remove(index.clone());
        if index.len() > 9 {
            let target = &index[9..];
            let indexed = &index[1..9];
            let current = tree.get(target).map_err(backend)?;
            if current.is_some_and(|v| v.len() >= 8 && &v[..8] == indexed) {
                batch.remove(target);
                purged += 1;
            }
        }
        if seen % 1024 == 1023 {
            tree.apply_batch(std::mem::take(&mut batch))
                .map_err(backend)?;
        }
    }
    tree.apply_batch(batch).map_err(backend)?;
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::super::contract::put;
    use super::super::seal::Sealed;
    use super::*;

    fn open_error(dir: &Path) -> String {
        match SledStore::open(dir) {
            Ok(_) => panic!("the store opened"),
            Err(e) => e.to_string(),
        }
    }

    #[tokio::test]
    async fn a_store_behind_its_seal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        for i in 0..3u8 {
            let w = vec![put(Space::Token, &[i], b"v", 100)];
            assert!(s.commit(vec![], w).await.unwrap());
        }
        drop(s);
        assert_eq!(super::super::seal::read(dir.path()).unwrap(), Sealed::At(3));
        drop(SledStore::open(dir.path()).unwrap());
        // Later commits acknowledged, but not in the store: lost.
        Seal::create(dir.path(), 4).unwrap();
        let e = open_error(dir.path());
        assert!(e.contains("acknowledged writes are missing"), "{e}");
        std::fs::remove_file(super::super::seal::path(dir.path())).unwrap();
        let e = open_error(dir.path());
        assert!(
            e.contains("missing, so lost writes cannot be ruled out"),
            "{e}"
        );
    }
}
