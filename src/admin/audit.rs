//! The audit log: one JSON object per admin change (time, user, action, client id, changed
//! keys; never a secret), appended durably to the deployment's [`Journal`] (`data_dir/audit.log`,
//! or the shared Redis stream `<prefix>audit`), and logged.

use serde_json::{Value, json};

use crate::clock::UnixTime;
use crate::store::journal::Journal;

/// Appends one entry; a failure is logged (the change itself already happened).
pub fn record(
    journal: &dyn Journal,
    at: UnixTime,
    user: &str,
    action: &str,
    client_id: Option<&str>,
    keys: &[&str],
) {
    let entry: Value =
        json!({"at": at, "user": user, "action": action, "client_id": client_id, "keys": keys});
    tracing::info!(target: "crmgate::audit", %user, action, client_id = client_id.unwrap_or(""), keys = ?keys, "admin change");
    if let Err(e) = journal.append(&entry.to_string()) {
        tracing::error!(error = %e, "cannot write the audit log");
    }
}
