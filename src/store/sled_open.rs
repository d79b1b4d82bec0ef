//! Opening the sled store without trusting it: sled panics on some damaged files, fails on
//! others only when the damaged page is read, and silently drops the tail of a damaged log. So
//! the open (and a read of every record) runs under `catch_unwind`, and the store's commit
//! sequence is checked against the seal ([`super::seal`]): a store that lost acknowledged writes,
//! cannot be read in full, or made sled panic is refused with a message, never served.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::StoreError;
use super::seal::{self, Seal, Sealed};

/// Key of the commit sequence number, written by every group commit before its flush.
const SEQ: &[u8] = b"\0crmgate-seq";

fn damaged(e: impl std::fmt::Display) -> StoreError {
    StoreError::Damaged(e.to_string())
}

/// An error of `sled::open`: an I/O error is the disk's (space, permissions), anything else
/// means the files are damaged.
fn opening(dir: &Path, e: sled::Error) -> StoreError {
    let msg = format!("cannot open {}: {e}", dir.display());
    match e {
        sled::Error::Io(_) => StoreError::Backend(msg),
        _ => StoreError::Damaged(msg),
    }
}

/// Runs `f`, turning a panic into [`StoreError::Damaged`].
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(StoreError::Damaged(format!(
            "the storage engine (sled) panicked while {what}: {msg}"
        )))
    })
}

/// Reads every record of every tree; returns how many there are.
fn read_everything(db: &sled::Db) -> Result<usize, StoreError> {
    let mut n = 0;
    for name in db.tree_names() {
        let tree = db.open_tree(&name).map_err(damaged)?;
        for item in tree.iter() {
            item.map_err(|e| damaged(format!("a record cannot be read: {e}")))?;
            n += 1;
        }
    }
    Ok(n)
}

/// Opens sled under `dir` with the gateway's settings and reads every record, catching panics.
/// Returns the database, the token tree and the number of records.
pub(super) fn open_verified(dir: &Path) -> Result<(sled::Db, sled::Tree, usize), StoreError> {
    guarded("opening and reading the store", || {
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(Some(1000))
            // sled's page cache defaults to 1 GiB; 64 MiB keeps memory bounded at a million
            // tokens while hot token records stay in the gateway's own cache.
            .cache_capacity(64 * 1024 * 1024)
            .open()
            .map_err(|e| opening(dir, e))?;
        let tree = db.open_tree("tokens").map_err(damaged)?;
        let n = read_everything(&db)?;
        Ok((db, tree, n))
    })
}

/// The commit sequence number stored in `tree` (0 before the first commit).
fn stored_seq(tree: &sled::Tree) -> Result<u64, StoreError> {
    match tree.get(SEQ).map_err(damaged)? {
        None => Ok(0),
        Some(v) => v
            .as_ref()
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| damaged("the commit sequence record is malformed")),
    }
}

/// Checks the store's commit sequence against the seal; returns the sequence number.
pub(super) fn check_seal(dir: &Path, tree: &sled::Tree) -> Result<u64, StoreError> {
    let seq = stored_seq(tree)?;
    let file = seal::path(dir);
    match seal::read(dir)? {
        Sealed::At(sealed) if sealed > seq => Err(damaged(format!(
            "acknowledged writes are missing: the store ends at commit {seq}, but commit \
             {sealed} was acknowledged ({}); sled dropped part of its log",
            file.display()
        ))),
        Sealed::Damaged => Err(damaged(format!("{} is damaged", file.display()))),
        Sealed::Missing if seq > 0 => Err(damaged(format!(
            "{} is missing, so lost writes cannot be ruled out",
            file.display()
        ))),
        _ => Ok(seq),
    }
}

/// The flush of one group commit: sequence number into the store, sled flush, seal.
pub(super) struct Sealer {
    pub(super) db: sled::Db,
    pub(super) tree: sled::Tree,
    pub(super) seal: Seal,
    pub(super) seq: AtomicU64,
    /// Set for good when a round fails.
    pub(super) poisoned: Arc<AtomicBool>,
}

impl Sealer {
    /// Makes every earlier write durable and seals it. After a failure the store is poisoned:
    /// sled keeps failing once a write to its log failed, and its memory holds writes that
    /// are not on disk.
    pub(super) fn round(&self) -> Result<(), String> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err("an earlier flush failed".into());
        }
        let result = self.seal_next();
        if let Err(e) = &result {
            self.poisoned.store(true, Ordering::SeqCst);
            tracing::error!(
                error = %e,
                "token store flush failed: every store access now fails until the gateway is \
                 restarted"
            );
        }
        result
    }

    fn seal_next(&self) -> Result<(), String> {
        let next = self.seq.load(Ordering::SeqCst) + 1;
        self.tree
            .insert(SEQ, &next.to_be_bytes()[..])
            .map_err(|e| e.to_string())?;
        self.db.flush().map_err(|e| e.to_string())?;
        self.seal
            .write(next)
            .map_err(|e| format!("writing the seal: {e}"))?;
        self.seq.store(next, Ordering::SeqCst);
        Ok(())
    }
}
