//! The sled token store: one tree, prefixed keys, atomic batches, group-committed flushes.
//!
//! Layout: `t` + hash → record (postcard); `j` + hash → expiry of a used assertion id;
//! `x` + expiry (big endian) + target key → expiry index used by the purge.

use std::path::Path;

use async_trait::async_trait;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::flusher::Flusher;
use super::{StoreError, TokenStore};
use crate::clock::UnixTime;
use crate::keys::Digest;
use crate::token::record::{TokenKey, TokenRecord};

const RECORD: u8 = b't';
const ONCE: u8 = b'j';
const EXPIRY: u8 = b'x';

/// Token store on a sled database in `data_dir/store`.
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    flusher: Flusher,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn key(prefix: u8, digest: &Digest) -> [u8; 33] {
    let mut k = [0u8; 33];
    k[0] = prefix;
    k[1..].copy_from_slice(&digest.0);
    k
}

fn expiry_key(at: UnixTime, target: &[u8; 33]) -> [u8; 42] {
    let mut k = [0u8; 42];
    k[0] = EXPIRY;
    k[1..9].copy_from_slice(&at.to_be_bytes());
    k[9..].copy_from_slice(target);
    k
}

impl SledStore {
    /// Opens (or creates) the store under `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(Some(1000))
            .open()
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", dir.display())))?;
        let tree = db.open_tree("tokens").map_err(backend)?;
        let flush_db = db.clone();
        let flusher =
            Flusher::start(move || flush_db.flush().map(|_| ()).map_err(|e| e.to_string()))
                .map_err(backend)?;
        Ok(Self { db, tree, flusher })
    }

    /// Number of token records (expired ones included until purged).
    pub fn record_count(&self) -> usize {
        self.tree.scan_prefix([RECORD]).count()
    }

    /// Flushes everything now (used at shutdown).
    pub fn flush_now(&self) -> Result<(), StoreError> {
        self.db
            .flush()
            .map(|_| ())
            .map_err(|e| StoreError::Flush(e.to_string()))
    }
}

#[async_trait]
impl TokenStore for SledStore {
    fn get(&self, key_: &TokenKey) -> Result<Option<TokenRecord>, StoreError> {
        match self.tree.get(key(RECORD, key_)).map_err(backend)? {
            None => Ok(None),
            Some(bytes) => postcard::from_bytes(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(e.to_string())),
        }
    }

    async fn put(&self, key_: &TokenKey, record: &TokenRecord) -> Result<(), StoreError> {
        let value = postcard::to_allocvec(record).map_err(backend)?;
        let k = key(RECORD, key_);
        let mut batch = sled::Batch::default();
        batch.insert(&k[..], value);
        batch.insert(&expiry_key(record.expires_at, &k)[..], &[][..]);
        self.tree.apply_batch(batch).map_err(backend)?;
        self.flusher.sync().await
    }

    async fn remove(&self, key_: &TokenKey) -> Result<Option<TokenRecord>, StoreError> {
        let old = self.tree.remove(key(RECORD, key_)).map_err(backend)?;
        let Some(bytes) = old else {
            return Ok(None);
        };
        self.flusher.sync().await?;
        postcard::from_bytes(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    async fn claim_once(&self, id: &Digest, expires_at: UnixTime) -> Result<bool, StoreError> {
        let k = key(ONCE, id);
        let index = expiry_key(expires_at, &k);
        let result = self.tree.transaction(|tx| {
            if tx.get(k)?.is_some() {
                return Err(ConflictableTransactionError::Abort(()));
            }
            tx.insert(&k[..], &expires_at.to_be_bytes()[..])?;
            tx.insert(&index[..], &[][..])?;
            Ok(())
        });
        match result {
            Ok(()) => self.flusher.sync().await.map(|()| true),
            Err(TransactionError::Abort(())) => Ok(false),
            Err(TransactionError::Storage(e)) => Err(backend(e)),
        }
    }

    fn purge_expired(&self, now: UnixTime) -> Result<usize, StoreError> {
        let start = [EXPIRY];
        let mut end = [0u8; 9];
        end[0] = EXPIRY;
        end[1..].copy_from_slice(&now.to_be_bytes());
        let mut purged = 0;
        let mut batch = sled::Batch::default();
        for item in self.tree.range(&start[..]..&end[..]) {
            let (index, _) = item.map_err(backend)?;
            batch.remove(index.clone());
            if index.len() == 42 {
                batch.remove(&index[9..]);
            }
            purged += 1;
            if purged % 1024 == 0 {
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
    use super::*;
    use crate::token::record::TokenKind;

    fn rec(exp: u64) -> TokenRecord {
        TokenRecord {
            kind: TokenKind::Access,
            client_id: "c".into(),
            user: None,
            scope: None,
            issued_at: 1,
            expires_at: exp,
        }
    }

    #[tokio::test]
    async fn put_get_remove_claim_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let (a, b) = (Digest([1; 32]), Digest([2; 32]));
        s.put(&a, &rec(100)).await.unwrap();
        s.put(&b, &rec(300)).await.unwrap();
        assert_eq!(s.get(&a).unwrap(), Some(rec(100)));
        assert_eq!(s.remove(&a).await.unwrap(), Some(rec(100)));
        assert_eq!(s.remove(&a).await.unwrap(), None);
        assert!(s.claim_once(&a, 150).await.unwrap());
        assert!(!s.claim_once(&a, 150).await.unwrap());
        assert_eq!(s.purge_expired(200).unwrap(), 2);
        assert_eq!(s.get(&b).unwrap(), Some(rec(300)));
        assert!(
            s.claim_once(&a, 400).await.unwrap(),
            "purged ids are free again"
        );
        drop(s);
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.get(&b).unwrap(), Some(rec(300)), "survives reopen");
        assert!(!s.claim_once(&a, 400).await.unwrap());
    }
}
