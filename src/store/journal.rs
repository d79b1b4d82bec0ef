//! Where the audit log goes: `data_dir/audit.log` with one gateway ([`FileJournal`], appended
//! and synced), the stream `<prefix>audit` on the shared Redis when several gateways share a
//! store (one log for all of them, durable with `appendfsync always`). Both take one JSON line
//! per admin change and are done before the change is answered.

use std::io::Write;
use std::path::PathBuf;

/// An append-only log of admin changes.
pub trait Journal: Send + Sync + 'static {
    /// Appends one entry, durably; the error says why not.
    fn append(&self, entry: &str) -> Result<(), String>;
}

/// The audit log in a file, one entry per line.
pub struct FileJournal {
    path: PathBuf,
}

impl FileJournal {
    /// The log at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl Journal for FileJournal {
    fn append(&self, entry: &str) -> Result<(), String> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| {
                f.write_all(format!("{entry}\n").as_bytes())?;
                f.sync_data()
            })
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}
