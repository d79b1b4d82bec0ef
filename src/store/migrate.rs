//! `crmgate store migrate --config FILE`: moves a stopped gateway's sled store to redb, offline
//! and safe to interrupt. Every live record is copied into `data_dir/store-redb.migrating`
//! (durable commits of a few thousand records), the copy is counted against the source space by
//! space, then renamed to `store-redb`; only after that the sled folder is renamed to
//! `store.migrated` (kept as the backup). Interrupted before the first rename, the sled store is
//! untouched and still in use; between the renames both exist and the sled one (complete) is
//! what a gateway opens, and the next run asks for the leftover copy to be removed.

use std::collections::HashMap;
use std::path::Path;

use super::open::{REDB_DIR, SLED_DIR};
use super::redb_store::RedbStore;
use super::sled_store::SledStore;
use super::{Space, StoreError, TokenStore, Write};
use crate::clock::UnixTime;

/// Records per durable commit of the copy.
const BATCH: usize = 5000;
/// The copy while it is being written.
const STAGING: &str = "store-redb.migrating";
/// The sled folder after the migration (the backup).
const BACKUP: &str = "store.migrated";

fn io(what: &str, path: &Path) -> impl Fn(std::io::Error) -> String {
    let at = format!("{what} {}", path.display());
    move |e| format!("{at}: {e}")
}

fn store(e: StoreError) -> String {
    e.to_string()
}

/// Migrates the sled store of `data_dir` to redb, records expired before `now` left out; the
/// message to print.
pub async fn sled_to_redb(data_dir: &Path, now: UnixTime) -> Result<String, String> {
    let (sled_dir, redb_dir) = (data_dir.join(SLED_DIR), data_dir.join(REDB_DIR));
    let staging = data_dir.join(STAGING);
    if !sled_dir.exists() {
        return Err(format!(
            "no sled store to migrate: {} does not exist",
            sled_dir.display()
        ));
    }
    if redb_dir.exists() {
        return Err(format!(
            "{} exists already (an interrupted migration leaves it beside the sled store, which \
             stays in use): remove it and run the migration again",
            redb_dir.display()
        ));
    }
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io("cannot remove the leftover", &staging))?;
    }
    let source = SledStore::open_checked(&sled_dir, true)
        .map_err(|e| format!("{e} (a running gateway locks its store: stop it first)"))?;
    let copied = copy(&source, &staging, now).await?;
    drop(source);
    std::fs::rename(&staging, &redb_dir).map_err(io("cannot rename", &staging))?;
    sync_dir(data_dir)?;
    let backup = data_dir.join(BACKUP);
    std::fs::rename(&sled_dir, &backup).map_err(io("cannot rename", &sled_dir))?;
    sync_dir(data_dir)?;
    let total: usize = copied.values().sum();
    Ok(format!(
        "migrated {total} live records from sled to redb ({}); the sled store is kept as {}. \
         With [store] backend unset the gateway now opens the redb store; if the config says \
         backend = \"sled\", change it to \"redb\".",
        redb_dir.display(),
        backup.display()
    ))
}

fn sync_dir(dir: &Path) -> Result<(), String> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("cannot sync", dir))
}

/// Copies every live record into a new redb store at `dir` and checks the counts.
async fn copy(
    source: &SledStore,
    dir: &Path,
    now: UnixTime,
) -> Result<HashMap<Space, usize>, String> {
    let target = RedbStore::open_checked(dir, false).map_err(store)?;
    let mut copied: HashMap<Space, usize> = HashMap::new();
    let mut batch = Vec::with_capacity(BATCH);
    for record in source.export() {
        let r = record.map_err(store)?;
        if r.expires_at <= now {
            continue;
        }
        *copied.entry(r.space).or_default() += 1;
        batch.push(Write::Put {
            space: r.space,
            key: r.key,
            value: r.value,
            expires_at: r.expires_at,
        });
        if batch.len() == BATCH {
            target
                .commit(Vec::new(), std::mem::take(&mut batch))
                .await
                .map_err(store)?;
        }
    }
    if !batch.is_empty() {
        target.commit(Vec::new(), batch).await.map_err(store)?;
    }
    for space in Space::ALL {
        let want = copied.get(&space).copied().unwrap_or(0);
        let got = target.count(space).map_err(store)?;
        if got != want {
            return Err(format!(
                "the copy holds {got} records of {space:?}, not {want}: nothing was changed; \
                 the sled store stays in use"
            ));
        }
    }
    Ok(copied)
}
