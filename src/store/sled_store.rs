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

fn full_key(space: Space, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(space.tag());
    k.extend_from_slice(key);
    k
}

fn expiry_key(at: UnixTime, target: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(target.len() + 9);
    k.push(EXPIRY);
    k.extend_from_slice(&at.to_be_bytes());
    k.extend_from_slice(target);
    k
}

fn with_expiry(at: UnixTime, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(value.len() + 8);
    v.extend_from_slice(&at.to_be_bytes());
    v.extend_from_slice(value);
    v
}

fn split_expiry(stored: &[u8]) -> Result<(UnixTime, &[u8]), StoreError> {
    if stored.len() < 8 {
        return Err(StoreError::Corrupt("value shorter than its expiry".into()));
    }
    let (at, value) = stored.split_at(8);
    let mut b = [0u8; 8];
    b.copy_from_slice(at);
    Ok((UnixTime::from_be_bytes(b), value))
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

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.usable()?;
        match self.tree.get(full_key(space, key)).map_err(backend)? {
            None => Ok(None),
            Some(stored) => Ok(Some(split_expiry(&stored)?.1.to_vec())),
        }
    }

    fn scan(
        &self,
        space: Space,
        prefix: &[u8],
        limit: usize,
    ) -> Result<super::Entries, StoreError> {
        self.usable()?;
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(full_key(space, prefix)).take(limit) {
            let (k, v) = item.map_err(backend)?;
            out.push((k[1..].to_vec(), split_expiry(&v)?.1.to_vec()));
        }
        Ok(out)
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

    fn purge_expired(&self, now: UnixTime) -> Result<usize, StoreError> {
        self.usable()?;
        let start = [EXPIRY];
        let end = expiry_key(now, &[]);
        let mut purged = 0;
        let mut batch = sled::Batch::default();
        for (seen, item) in self.tree.range(&start[..]..&end[..]).enumerate() {
            let (index, _) = item.map_err(backend)?;
            batch.remove(index.clone());
            if index.len() > 9 {
                let target = &index[9..];
                let indexed = &index[1..9];
                let current = self.tree.get(target).map_err(backend)?;
                if current.is_some_and(|v| v.len() >= 8 && &v[..8] == indexed) {
                    batch.remove(target);
                    purged += 1;
                }
            }
            if seen % 1024 == 1023 {
                self.tree
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(backend)?;
            }
        }
        self.tree.apply_batch(batch).map_err(backend)?;
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use super::super::seal::Sealed;
    use super::*;

    fn put(space: Space, key: &[u8], value: &[u8], at: u64) -> Write {
        Write::Put {
            space,
            key: key.to_vec(),
            value: value.to_vec(),
            expires_at: at,
        }
    }

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

    #[tokio::test]
    async fn batches_conditions_scans_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let writes = vec![
            put(Space::Token, b"a", b"1", 100),
            put(Space::Token, b"b", b"2", 300),
        ];
        assert!(s.commit(vec![], writes).await.unwrap());
        assert_eq!(s.get(Space::Token, b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(
            s.get(Space::Code, b"a").unwrap(),
            None,
            "spaces are separate"
        );
        let absent = Expect {
            space: Space::Once,
            key: b"j".to_vec(),
            value: None,
        };
        let claim = vec![put(Space::Once, b"j", b"", 150)];
        assert!(s.commit(vec![absent.clone()], claim.clone()).await.unwrap());
        assert!(
            !s.commit(vec![absent], claim).await.unwrap(),
            "second claim"
        );
        let swap = Expect {
            space: Space::Token,
            key: b"b".to_vec(),
            value: Some(b"2".to_vec()),
        };
        assert!(
            s.commit(vec![swap.clone()], vec![put(Space::Token, b"b", b"3", 500)])
                .await
                .unwrap()
        );
        assert!(
            !s.commit(vec![swap], vec![]).await.unwrap(),
            "stale expectation"
        );
        assert_eq!(s.scan(Space::Token, b"", 10).unwrap().len(), 2);
        assert_eq!(
            s.purge_expired(400).unwrap(),
            2,
            "a and j expired; b was re-put until 500"
        );
        assert_eq!(s.get(Space::Token, b"b").unwrap(), Some(b"3".to_vec()));
        drop(s);
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            s.get(Space::Token, b"b").unwrap(),
            Some(b"3".to_vec()),
            "survives reopen"
        );
        assert_eq!(s.get(Space::Token, b"a").unwrap(), None);
    }
}
