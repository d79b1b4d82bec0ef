//! The damages `store_corrupt` applies, per backend, and the tests that apply them: flipped
//! bytes, truncations, other files damaged or deleted, a store behind its seal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::store_corrupt::*;

use common::*;

/// Each of `report` was refused, and its message says `saying` (when not empty).
fn refused(report: &[(Damage, String)], what: &str, saying: &str) {
    for (d, note) in report {
        assert!(note.starts_with("refused"), "{what}: {d:?} -> {note}");
        assert!(note.contains(saying), "{what}: {d:?} -> {note}");
    }
}

// ---------------------------------------------------------------------------------------------
// The damages, per backend. redb's file: page 0 holds the header: the magic (bytes 0..9), the
// "god byte" (9: which commit slot is the primary, whether it was written with two-phase commit,
// whether recovery is needed), the page size and region geometry (12..32), then two 128-byte
// commit slots at 64 and 192 (roots at +8 and +40, transaction id at +104, slot checksum at
// +112). Every commit of the gateway is two-phase (quick repair), so redb reads only the
// primary slot: a damaged primary slot is refused by redb ("Primary is corrupted despite
// 2-phase commit"), a damaged secondary slot is never read (harmless). Past the header come the
// region header and the B-tree pages; many pages are free (redb grows the file in steps), and
// a byte inverted in a free page is harmless.

/// The offsets in redb's header page the tests damage.
const REDB_HEADER: [u64; 13] = [0, 4, 8, 12, 20, 28, 64, 72, 168, 176, 192, 200, 304];

fn flips(backend: Backend) -> (Vec<Damage>, usize) {
    use Damage::*;
    let file = match backend {
        Backend::Sled => "db",
        Backend::Redb => "redb",
    };
    let mut damages: Vec<Damage> = [0, 1, 5, 20, 50, 100, 200, 300, 400, 500, 600, 700]
        .into_iter()
        .map(|m| Flip(file, m))
        .collect();
    damages.extend([800, 900, 950, 990, 999].map(|m| Flip(file, m)));
    damages.extend([1, 16, 100, 1000, 4096, 20_000].map(|b| FlipFromEnd(file, b)));
    if backend == Backend::Redb {
        damages.extend(REDB_HEADER.map(|at| XorAt("redb", at, 0xff)));
        // The first B-tree pages, where a small store keeps its records.
        damages.extend(
            [4096, 8192, 8200, 12_288, 16_400, 20_480, 24_600].map(|at| XorAt("redb", at, 0xff)),
        );
    }
    let min = damages.len() - 3;
    (damages, min)
}

fn truncations(backend: Backend) -> (Vec<Damage>, usize) {
    use Damage::*;
    let mut damages = match backend {
        Backend::Sled => vec![
            Truncate("db", 0),
            Truncate("db", 100),
            Truncate("db", 500),
            Truncate("db", 900),
            Chop("db", 1),
            Chop("db", 100),
            Chop("db", 1000),
            Chop("db", 10_000),
            Truncate("conf", 0),
            Truncate("conf", 500),
            Truncate("snap", 0),
            Truncate("snap", 500),
            Chop("snap", 1),
        ],
        Backend::Redb => vec![
            Truncate("redb", 0),
            Chop("redb", 1),
            Chop("redb", 100),
            Truncate("redb", 100),
            Truncate("redb", 500),
            Truncate("redb", 900),
            Truncate("redb", 999),
            Chop("redb", 4096),
            Chop("redb", 65_536),
        ],
    };
    damages.extend([Truncate("seal", 0), Chop("seal", 1)]);
    let min = damages.len() - 3;
    (damages, min)
}

fn others(backend: Backend) -> (Vec<Damage>, usize) {
    use Damage::*;
    let seal = [Flip("seal", 0), Flip("seal", 500), FlipFromEnd("seal", 1)];
    let damages: Vec<Damage> = match backend {
        Backend::Sled => [
            Delete("db"),
            Delete("seal"),
            Delete("conf"),
            Delete("snap"),
            Delete("blobs"),
            Flip("conf", 0),
            Flip("conf", 500),
            FlipFromEnd("conf", 1),
            Flip("snap", 0),
            Flip("snap", 500),
            FlipFromEnd("snap", 1),
        ]
        .into_iter()
        .chain(seal)
        .collect(),
        Backend::Redb => [Delete("redb"), Delete("seal")]
            .into_iter()
            .chain(seal)
            .collect(),
    };
    let min = damages.len() - 4;
    (damages, min)
}

// ---------------------------------------------------------------------------------------------
// Tests, each once per backend.

fn flipped_bytes_are_refused_or_harmless(backend: Backend) {
    let (damages, min) = flips(backend);
    let report = run_damages(backend, &damages, min);
    // The magic number of redb's header.
    if backend == Backend::Redb {
        refused(&report[..1], "redb's magic inverted", "");
    }
}

fn truncated_files_are_refused_or_harmless(backend: Backend) {
    let (damages, min) = truncations(backend);
    let report = run_damages(backend, &damages, min);
    refused(&report[..1], "an emptied store file", "");
    if backend == Backend::Redb {
        // An empty tokens.redb is a new database to redb: the gateway refuses it as an empty
        // store. A length that is no region layout redb could have written (a cut inside a page)
        // is refused; whole pages cut off the end (or a cut to a fraction that falls on a page
        // boundary) are harmless when no committed tree uses them, since every page of the
        // committed trees is verified at open. A cut seal is unreadable.
        refused(&report[..1], "an emptied tokens.redb", "empty token store");
        refused(&report[1..3], "tokens.redb cut off a page boundary", "");
        refused(&report[report.len() - 2..], "a cut seal", "is damaged");
    }
}

fn other_files_damaged_or_deleted_are_refused_or_harmless(backend: Backend) {
    let (damages, min) = others(backend);
    let report = run_damages(backend, &damages, min);
    refused(&report[..1], "a deleted store file", "");
    if backend == Backend::Redb {
        // The redb store refuses to start without a readable seal once it committed anything.
        refused(&report[1..2], "a deleted seal", "is missing");
        refused(&report[2..], "a damaged seal", "is damaged");
    }
}

/// The seal says a later commit than the store holds: refused as missing acknowledged writes.
/// On redb also the real thing: the god byte's primary bit flipped, so that redb opens the
/// previous commit slot (the fallback the seal is there to catch).
fn a_store_behind_its_seal_is_refused(backend: Backend) {
    use Damage::*;
    let mut damages = vec![SealAhead(1), SealAhead(1_000_000)];
    if backend == Backend::Redb {
        damages.push(XorAt("redb", 9, 0x01));
    }
    let report = run_damages(backend, &damages, damages.len());
    refused(
        &report[..2],
        "a seal ahead of the store",
        "acknowledged writes are missing",
    );
    refused(&report[2..], "a rolled-back commit slot", "");
}

#[test]
fn flipped_bytes_are_refused_or_harmless_sled() {
    flipped_bytes_are_refused_or_harmless(Backend::Sled);
}

#[test]
fn flipped_bytes_are_refused_or_harmless_redb() {
    flipped_bytes_are_refused_or_harmless(Backend::Redb);
}

#[test]
fn truncated_files_are_refused_or_harmless_sled() {
    truncated_files_are_refused_or_harmless(Backend::Sled);
}

#[test]
fn truncated_files_are_refused_or_harmless_redb() {
    truncated_files_are_refused_or_harmless(Backend::Redb);
}

#[test]
fn other_files_damaged_or_deleted_are_refused_or_harmless_sled() {
    other_files_damaged_or_deleted_are_refused_or_harmless(Backend::Sled);
}

#[test]
fn other_files_damaged_or_deleted_are_refused_or_harmless_redb() {
    other_files_damaged_or_deleted_are_refused_or_harmless(Backend::Redb);
}

#[test]
fn a_store_behind_its_seal_is_refused_sled() {
    a_store_behind_its_seal_is_refused(Backend::Sled);
}

#[test]
fn a_store_behind_its_seal_is_refused_redb() {
    a_store_behind_its_seal_is_refused(Backend::Redb);
}
