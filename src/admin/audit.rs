//! The audit log: one JSON object per admin change in `data_dir/audit.log` (time, user, action,
//! client id, changed keys; never a secret), appended and synced, and logged.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use crate::clock::UnixTime;

/// Appends one entry; a failure is logged (the change itself already happened).
pub fn record(
    data_dir: &Path,
    at: UnixTime,
    user: &str,
    action: &str,
    client_id: Option<&str>,
    keys: &[&str],
) {
    let entry: Value =
        json!({"at": at, "user": user, "action": action, "client_id": client_id, "keys": keys});
    tracing::info!(target: "crmgate::audit", %user, action, client_id = client_id.unwrap_or(""), keys = ?keys, "admin change");
    let line = format!("{entry}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("audit.log"))
        .and_then(|mut f| {
            f.write_all(line.as_bytes())?;
            f.sync_data()
        });
    if let Err(e) = written {
        tracing::error!(error = %e, "cannot write the audit log");
    }
}
