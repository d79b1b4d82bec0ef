//! The redb store's one writer: group commit (every commit waiting when a transaction starts
//! joins it; one durable commit and one seal write answer them all), the purge in batches, and
//! the checks at open (marker, commit sequence against the seal).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use redb::{Database, ReadableTable, ReadableTableMetadata, Table, WriteTransaction};
use tokio::sync::oneshot;

use super::layout::{full_key, split_expiry};
use super::redb_store::{EXPIRY, MARKER, RECORDS, SEQ, put_entries};
use super::seal::{self, Seal, Sealed};
use super::{Expect, StoreError, Write};
use crate::clock::UnixTime;

/// Commits joined into one transaction at most.
const MAX_GROUP: usize = 1024;
/// Expired index entries one purge job removes at most.
const PURGE_BATCH: usize = 1024;

/// Work for the writer.
pub enum Job {
    /// A conditional atomic commit.
    Commit {
        /// Must hold first.
        expect: Vec<Expect>,
        /// Applied when they hold.
        writes: Vec<Write>,
        /// `Ok(false)`: an expectation did not hold.
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    /// One batch of the purge: values removed, and whether more may be due.
    Purge {
        /// Values that expired before this go.
        now: UnixTime,
        /// `(removed, more)`.
        reply: oneshot::Sender<Result<(usize, bool), StoreError>>,
    },
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn damaged(e: impl std::fmt::Display) -> StoreError {
    StoreError::Damaged(e.to_string())
}

fn stored_seq(
    records: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<u64, StoreError> {
    match records.get(SEQ).map_err(damaged)? {
        None => Ok(0),
        Some(v) => <[u8; 8]>::try_from(v.value())
            .map(u64::from_be_bytes)
            .map_err(|_| damaged("the commit sequence record is malformed")),
    }
}

/// Creates the tables and the marker of a new store (unless `must_exist`), refuses a file that
/// is not ours, and checks the commit sequence against the seal. Returns `(created, seq)`.
pub fn prepare(db: &Database, dir: &Path, must_exist: bool) -> Result<(bool, u64), StoreError> {
    let txn = db.begin_write().map_err(backend)?;
    let (created, seq) = {
        let mut records = txn.open_table(RECORDS).map_err(damaged)?;
        txn.open_table(EXPIRY).map_err(damaged)?;
        let marked = records.get(MARKER).map_err(damaged)?.is_some();
        let empty = records.is_empty().map_err(damaged)?;
        let created = !marked && empty;
        if created && !must_exist {
            records.insert(MARKER, &b"1"[..]).map_err(backend)?;
        } else if !created && !marked {
            return Err(damaged(format!(
                "{} is not a crmgate token store, or it is damaged",
                dir.display()
            )));
        }
        (created, stored_seq(&records)?)
    };
    if created && must_exist {
        // An empty file where a store must be: the caller refuses it as an empty store (the
        // seal would only add that acknowledged commits are missing).
        txn.abort().map_err(backend)?;
        return Ok((created, seq));
    }
    txn.commit().map_err(|e| StoreError::Flush(e.to_string()))?;
    check_seal(dir, seq)?;
    Ok((created, seq))
}

fn check_seal(dir: &Path, seq: u64) -> Result<(), StoreError> {
    let file = seal::path(dir);
    match seal::read(dir)? {
        Sealed::At(sealed) if sealed > seq => Err(damaged(format!(
            "acknowledged writes are missing: the store ends at commit {seq}, but commit \
             {sealed} was acknowledged ({}); the last commit slot was damaged and redb fell back",
            file.display()
        ))),
        Sealed::Damaged => Err(damaged(format!("{} is damaged", file.display()))),
        Sealed::Missing if seq > 0 => Err(damaged(format!(
            "{} is missing, so lost writes cannot be ruled out",
            file.display()
        ))),
        _ => Ok(()),
    }
}

/// The writer thread's job queue and handle.
pub type Started = (mpsc::Sender<Job>, std::thread::JoinHandle<()>);

/// Starts the writer thread; the sender of its jobs (dropping every sender stops it).
pub fn start(
    db: Arc<Database>,
    dir: &Path,
    seq: u64,
    failed: Arc<AtomicBool>,
) -> Result<Started, StoreError> {
    let seal = Seal::create(dir, seq)?;
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("crmgate-redb".into())
        .spawn(move || {
            let mut writer = Writer {
                db,
                seal,
                seq,
                failed,
            };
            while let Ok(first) = rx.recv() {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                writer.run(group);
            }
        })
        .map_err(backend)?;
    Ok((tx, handle))
}

struct Writer {
    db: Arc<Database>,
    seal: Seal,
    seq: u64,
    failed: Arc<AtomicBool>,
}

/// What one job of a group came to, before the group is durable.
enum Outcome {
    Commit(Result<bool, StoreError>),
    Purge(Result<(usize, bool), StoreError>),
}

impl Writer {
    fn run(&mut self, group: Vec<Job>) {
        if self.failed.load(Ordering::SeqCst) {
            return answer(
                group,
                None,
                &StoreError::Flush("an earlier commit failed".into()),
            );
        }
        match self.group_commit(&group) {
            Ok(outcomes) => answer(group, Some(outcomes), &StoreError::Flush(String::new())),
            Err(e) => {
                if matches!(e, StoreError::Flush(_)) {
                    self.failed.store(true, Ordering::SeqCst);
                    tracing::error!(error = %e, "token store commit failed: every store access now fails until the gateway is restarted");
                }
                answer(group, None, &e);
            }
        }
    }

    /// Applies every job in one transaction, commits it durably and seals it.
    fn group_commit(&mut self, group: &[Job]) -> Result<Vec<Outcome>, StoreError> {
        let mut txn = self.db.begin_write().map_err(backend)?;
        txn.set_quick_repair(true);
        let next = self.seq + 1;
        let outcomes = apply_group(&txn, group, next)?;
        txn.commit().map_err(|e| StoreError::Flush(e.to_string()))?;
        self.seal
            .write(next)
            .map_err(|e| StoreError::Flush(format!("writing the seal: {e}")))?;
        self.seq = next;
        Ok(outcomes)
    }
}

fn apply_group(
    txn: &WriteTransaction,
    group: &[Job],
    next: u64,
) -> Result<Vec<Outcome>, StoreError> {
    let mut records = txn.open_table(RECORDS).map_err(backend)?;
    let mut expiry = txn.open_table(EXPIRY).map_err(backend)?;
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        outcomes.push(match job {
            Job::Commit { expect, writes, .. } => Outcome::Commit(match holds(&records, expect) {
                Ok(true) => apply(&mut records, &mut expiry, writes).map(|()| true),
                other => other,
            }),
            Job::Purge { now, .. } => Outcome::Purge(purge(&mut records, &mut expiry, *now)),
        });
        // A storage error inside the transaction spoils it for everyone.
        if let Some(
            Outcome::Commit(Err(StoreError::Backend(e)))
            | Outcome::Purge(Err(StoreError::Backend(e))),
        ) = outcomes.last()
        {
            return Err(StoreError::Backend(e.clone()));
        }
    }
    records
        .insert(SEQ, &next.to_be_bytes()[..])
        .map_err(backend)?;
    Ok(outcomes)
}

fn holds(records: &Table<&[u8], &[u8]>, expect: &[Expect]) -> Result<bool, StoreError> {
    for e in expect {
        let current = records
            .get(full_key(e.space, &e.key).as_slice())
            .map_err(backend)?;
        let value = match &current {
            None => None,
            Some(stored) => Some(split_expiry(stored.value())?.1.to_vec()),
        };
        if value.as_deref() != e.value.as_deref() {
            return Ok(false);
        }
    }
    Ok(true)
}

fn apply(
    records: &mut Table<&[u8], &[u8]>,
    expiry: &mut Table<&[u8], ()>,
    writes: &[Write],
) -> Result<(), StoreError> {
    for w in writes {
        match w {
            Write::Put {
                space,
                key,
                value,
                expires_at,
            } => {
                let (k, stored, index) = put_entries(*space, key, value, *expires_at);
                expiry.insert(index.as_slice(), ()).map_err(backend)?;
                records
                    .insert(k.as_slice(), stored.as_slice())
                    .map_err(backend)?;
            }
            Write::Delete { space, key } => {
                records
                    .remove(full_key(*space, key).as_slice())
                    .map_err(backend)?;
            }
        }
    }
    Ok(())
}

/// Removes up to [`PURGE_BATCH`] index entries due before `now`, and each value whose stored
/// expiry is still the indexed one (a value re-put with a later expiry stays).
fn purge(
    records: &mut Table<&[u8], &[u8]>,
    expiry: &mut Table<&[u8], ()>,
    now: UnixTime,
) -> Result<(usize, bool), StoreError> {
    let end = now.to_be_bytes();
    let due: Vec<Vec<u8>> = expiry
        .range(..end.as_slice())
        .map_err(backend)?
        .take(PURGE_BATCH)
        .map(|item| item.map(|(k, _)| k.value().to_vec()).map_err(backend))
        .collect::<Result<_, _>>()?;
    let mut removed = 0;
    for index in &due {
        expiry.remove(index.as_slice()).map_err(backend)?;
        let (indexed, target) = index.split_at(8.min(index.len()));
        let current = records
            .get(target)
            .map_err(backend)?
            .map(|v| v.value().to_vec());
        if current.is_some_and(|v| v.len() >= 8 && v[..8] == *indexed) {
            records.remove(target).map_err(backend)?;
            removed += 1;
        }
    }
    Ok((removed, due.len() == PURGE_BATCH))
}

/// Sends each job its outcome, or `error` to all when the group did not become durable.
fn answer(group: Vec<Job>, outcomes: Option<Vec<Outcome>>, error: &StoreError) {
    let mut outcomes = outcomes.map(Vec::into_iter);
    for job in group {
        let outcome = outcomes.as_mut().and_then(Iterator::next);
        match (job, outcome) {
            (Job::Commit { reply, .. }, Some(Outcome::Commit(r))) => {
                let _ = reply.send(r);
            }
            (Job::Purge { reply, .. }, Some(Outcome::Purge(r))) => {
                let _ = reply.send(r);
            }
            (Job::Commit { reply, .. }, _) => {
                let _ = reply.send(Err(error.clone()));
            }
            (Job::Purge { reply, .. }, _) => {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
