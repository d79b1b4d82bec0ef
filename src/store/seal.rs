//! The seal: a witness, outside sled, of how far acknowledged writes go.
//!
//! sled recovers its log up to the first record that fails its checksum and silently drops the
//! rest, so a damaged log can lose writes that were flushed and acknowledged (revoked tokens
//! would come back). Every group commit therefore stores a sequence number in the store, flushes
//! sled, then writes the same number here (`fdatasync`) before any writer of that commit is
//! answered. At open the store's number must be at least the sealed one; when it is lower, sled
//! lost acknowledged writes and the gateway refuses to start.
//!
//! The file is 24 bytes at offset 0 (one sector, so a write is never torn): a magic, the number
//! (big endian) and the first 8 bytes of SHA-256 over both.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::StoreError;

/// Name of the seal file, next to sled's files.
pub const SEAL_FILE: &str = "crmgate.seal";

const MAGIC: &[u8; 8] = b"crmseal1";
const LEN: usize = 24;

fn encode(seq: u64) -> [u8; LEN] {
    let mut out = [0u8; LEN];
    out[..8].copy_from_slice(MAGIC);
    out[8..16].copy_from_slice(&seq.to_be_bytes());
    let sum = Sha256::digest(&out[..16]);
    out[16..].copy_from_slice(&sum[..8]);
    out
}

fn decode(bytes: &[u8]) -> Option<u64> {
    let seq = u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
    (bytes.len() == LEN && encode(seq)[..] == *bytes).then_some(seq)
}

/// What the seal file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    /// There is none.
    Missing,
    /// Every commit up to this one was acknowledged.
    At(u64),
    /// It is there but unreadable.
    Damaged,
}

/// Path of the seal of the store in `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(SEAL_FILE)
}

/// Reads the seal of the store in `dir`.
pub fn read(dir: &Path) -> Result<Sealed, StoreError> {
    match std::fs::read(path(dir)) {
        Ok(bytes) => Ok(decode(&bytes).map_or(Sealed::Damaged, Sealed::At)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Sealed::Missing),
        Err(e) => Err(StoreError::Backend(format!(
            "cannot read {}: {e}",
            path(dir).display()
        ))),
    }
}

/// The open seal file.
pub struct Seal {
    file: File,
}

impl Seal {
    /// Opens (creating it if needed) the seal of the store in `dir` and writes `seq`, durably.
    pub fn create(dir: &Path, seq: u64) -> Result<Self, StoreError> {
        let p = path(dir);
        let fail = |e: std::io::Error| StoreError::Flush(format!("{}: {e}", p.display()));
        let existed = p.exists();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(fail)?;
        let seal = Self { file };
        seal.write(seq).map_err(fail)?;
        if !existed {
            File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
        }
        Ok(seal)
    }

    /// Records that every commit up to `seq` is durable; returns once that is on disk.
    pub fn write(&self, seq: u64) -> std::io::Result<()> {
        self.file.write_all_at(&encode(seq), 0)?;
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), Sealed::Missing);
        let seal = Seal::create(dir.path(), 7).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Sealed::At(7));
        seal.write(8).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Sealed::At(8));
        let mut bytes = std::fs::read(path(dir.path())).unwrap();
        bytes[12] ^= 1;
        std::fs::write(path(dir.path()), &bytes).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Sealed::Damaged);
        std::fs::write(path(dir.path()), &bytes[..10]).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Sealed::Damaged);
    }
}
