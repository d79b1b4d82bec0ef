//! `crmgate store --config FILE`: what the data dir's token store holds, for operators: the
//! backend and its files, records by kind, size on disk and per live token, the last commit
//! against the seal, and an integrity check (sled: every record read; redb: every page's
//! checksum). The gateway must be stopped: both engines lock their files.

use std::fmt::Write as _;
use std::path::Path;

use super::open::{Backend, REDB_DIR, SLED_DIR};
use super::redb_store::RedbStore;
use super::seal::{self, Sealed};
use super::sled_store::SledStore;
use super::{Space, StoreError};

/// What a space's records are called in the report.
fn kind(space: Space) -> &'static str {
    match space {
        Space::Token => "tokens (access and refresh)",
        Space::Once => "used assertion ids",
        Space::Code => "authorization codes",
        Space::Grant => "grants",
        Space::Family => "grant index entries",
        Space::UserGrant => "user index entries",
        Space::ClientToken => "client token index entries",
        Space::ClientGrant => "client grant index entries",
    }
}

/// Bytes of every file under `dir`.
fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => size_of(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn locked_hint(e: &StoreError) -> String {
    format!("{e} (a running gateway locks its store: stop it first)")
}

/// The report for the embedded store of `data_dir`; `Err` when it cannot be read or fails its
/// check (the message says why).
pub fn report(backend: Backend, data_dir: &Path) -> Result<String, String> {
    let marker = match backend {
        Backend::Sled => data_dir.join(SLED_DIR),
        _ => data_dir.join(REDB_DIR).join(super::redb_store::FILE),
    };
    if backend != Backend::Redis && !marker.exists() {
        return Err(format!(
            "no {} store here: {} does not exist",
            backend.name(),
            marker.display()
        ));
    }
    let (dir, counts) = match backend {
        Backend::Sled => {
            let dir = data_dir.join(SLED_DIR);
            let store = SledStore::open_checked(&dir, true).map_err(|e| locked_hint(&e))?;
            let counts: Vec<(Space, usize)> =
                Space::ALL.iter().map(|s| (*s, store.count(*s))).collect();
            (dir, counts)
        }
        Backend::Redb => {
            let dir = data_dir.join(REDB_DIR);
            let store = RedbStore::open_checked(&dir, true).map_err(|e| locked_hint(&e))?;
            let mut counts = Vec::new();
            for s in Space::ALL {
                counts.push((s, store.count(s).map_err(|e| e.to_string())?));
            }
            (dir, counts)
        }
        Backend::Redis => {
            return Err(
                "the Redis store is reported by Redis itself (redis-cli INFO, DBSIZE); \
                        `crmgate check` says whether it makes writes durable"
                    .into(),
            );
        }
    };
    Ok(render(backend, &dir, &counts))
}

fn render(backend: Backend, dir: &Path, counts: &[(Space, usize)]) -> String {
    let bytes = size_of(dir);
    let mut out = format!(
        "store: {} in {} ({:.1} MiB on disk)\n",
        backend.name(),
        dir.display(),
        bytes as f64 / (1024.0 * 1024.0)
    );
    for (space, n) in counts {
        let _ = writeln!(out, "  {:>10}  {}", n, kind(*space));
    }
    let tokens = counts
        .iter()
        .find(|(s, _)| *s == Space::Token)
        .map_or(0, |(_, n)| *n);
    if tokens > 0 {
        let _ = writeln!(
            out,
            "bytes on disk per token record: {}",
            bytes / tokens as u64
        );
    }
    let sealed = match seal::read(dir) {
        Ok(Sealed::At(n)) => format!("commit {n} acknowledged, and the store holds it"),
        Ok(Sealed::Missing) => "no commit yet".into(),
        Ok(Sealed::Damaged) | Err(_) => "unreadable".into(),
    };
    let _ = writeln!(out, "seal: {sealed}");
    let check = match backend {
        Backend::Sled => "every record read back",
        _ => "the checksum of every page verified",
    };
    let _ = writeln!(out, "integrity: ok ({check})");
    out
}
