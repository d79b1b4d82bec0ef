//! The live registry and user directory: read lock-free on every request, replaced atomically
//! when `apps.toml` or `users.toml` change on disk (or, on a shared store, when the shared
//! documents change: [`super::shared`]); an invalid edit is logged and not applied.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Guard};
use sha2::{Digest as _, Sha256};

use super::Registry;
use crate::config::Problems;
use crate::keys::KeyedHash;
use crate::metrics::Metrics;
use crate::users::{self, Users};

/// A file's SHA-256, `None` when it cannot be read.
pub(super) type Fingerprint = Option<[u8; 32]>;

/// The fingerprint of the file at `path`.
pub(super) fn fingerprint(path: &Path) -> Fingerprint {
    std::fs::read(path).ok().map(|b| Sha256::digest(&b).into())
}

/// A file edited down to nothing (or to whitespace) is refused rather than applied: that is what
/// an editor's truncate-then-write or an interrupted copy looks like mid-way, and applying it
/// would drop every app or user at once. Deliberately empty files are written as `[settings]`.
fn refuse_blank(path: &Path) -> Result<(), Problems> {
    match std::fs::read(path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Err(Problems::single(
            &path.display().to_string(),
            "",
            "the file is empty; not applied",
        )),
        _ => Ok(()),
    }
}

/// What a reload attempt did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reload {
    /// A new users directory was applied.
    pub users_applied: bool,
    /// A new registry was applied.
    pub apps_applied: bool,
    /// Problems that kept the users file from being applied.
    pub users_refused: Option<Problems>,
    /// Problems that kept the apps file from being applied.
    pub apps_refused: Option<Problems>,
}

/// Apps and users as the gateway currently sees them.
pub struct Directory {
    registry: ArcSwap<Registry>,
    users: ArcSwap<Users>,
    apps_path: PathBuf,
    users_path: PathBuf,
    hasher: KeyedHash,
    users_required: bool,
    seen: Mutex<(Fingerprint, Fingerprint)>,
    edits: tokio::sync::Mutex<()>,
    shared: Option<super::shared::Shared>,
}

impl Directory {
    /// Loads both files (the users file may be absent unless `users_required`); any problem
    /// stops start-up.
    pub fn load(
        apps_path: &Path,
        users_path: &Path,
        hasher: KeyedHash,
        users_required: bool,
    ) -> Result<Self, Problems> {
        let seen = (fingerprint(apps_path), fingerprint(users_path));
        let users = users::load_if(users_path, users_required);
        let registry = match &users {
            Ok(u) => super::load(apps_path, &hasher, u),
            Err(_) => super::load(apps_path, &hasher, &Users::default()),
        };
        let (users, registry) = match (users, registry) {
            (Ok(u), Ok(r)) => (u, r),
            (u, r) => {
                let mut p = Problems::default();
                p.extend(u.err().unwrap_or_default());
                p.extend(r.err().unwrap_or_default());
                return Err(p);
            }
        };
        Ok(Self {
            registry: ArcSwap::from_pointee(registry),
            users: ArcSwap::from_pointee(users),
            apps_path: apps_path.to_path_buf(),
            users_path: users_path.to_path_buf(),
            hasher,
            users_required,
            seen: Mutex::new(seen),
            edits: tokio::sync::Mutex::new(()),
            shared: None,
        })
    }

    /// Makes this directory follow the shared documents (`shared` holds the versions applied).
    pub(super) fn into_shared(mut self, shared: super::shared::Shared) -> Self {
        self.shared = Some(shared);
        self.remember_files();
        self
    }

    /// The shared documents this directory follows, if any.
    pub(super) fn shared(&self) -> Option<&super::shared::Shared> {
        self.shared.as_ref()
    }

    /// Replaces the users (the registry must then be validated against them again).
    pub(super) fn apply_users(&self, users: Users) {
        self.users.store(Arc::new(users));
    }

    /// Remembers both files as they are now, so a later change of either can be told apart.
    pub(super) fn remember_files(&self) {
        self.remember(true, true);
    }

    /// Remembers the apps file, the users file, or both, as they are now.
    pub(super) fn remember(&self, apps: bool, users: bool) {
        if let Ok(mut seen) = self.seen.lock() {
            if apps {
                seen.0 = fingerprint(&self.apps_path);
            }
            if users {
                seen.1 = fingerprint(&self.users_path);
            }
        }
    }

    /// The fingerprints last remembered: `(apps, users)`.
    pub(super) fn remembered(&self) -> (Fingerprint, Fingerprint) {
        self.seen.lock().map(|s| *s).unwrap_or_default()
    }

    /// Which files differ from what was last read or written: `(apps, users)`.
    pub(super) fn files_changed(&self) -> (bool, bool) {
        let Ok(seen) = self.seen.lock() else {
            return (false, false);
        };
        (
            fingerprint(&self.apps_path) != seen.0,
            fingerprint(&self.users_path) != seen.1,
        )
    }

    /// The current registry (cheap; hold it for one request).
    pub fn registry(&self) -> Guard<Arc<Registry>> {
        self.registry.load()
    }

    /// The current registry as an owned pointer, for use across `.await`.
    pub fn registry_full(&self) -> Arc<Registry> {
        self.registry.load_full()
    }

    /// The current users as an owned pointer.
    pub fn users_full(&self) -> Arc<Users> {
        self.users.load_full()
    }

    /// The current users.
    pub fn users(&self) -> Guard<Arc<Users>> {
        self.users.load()
    }

    /// Path of `apps.toml`.
    pub fn apps_path(&self) -> &Path {
        &self.apps_path
    }

    /// Serialises edits made through the admin API (and, on a shared store, applying them).
    pub async fn edit_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.edits.lock().await
    }

    /// Validates apps-file text against the current users, as the file at `apps_path` would be.
    pub fn validate_apps(&self, text: &str) -> Result<Registry, Problems> {
        // Problems go back to API callers: name the file, not the server's folders.
        let name = self.apps_path.file_name().map_or_else(
            || "apps.toml".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let base = self.apps_path.parent().unwrap_or(Path::new("."));
        super::parse(&name, text, base, &self.hasher, &self.users.load())
    }

    /// Applies a registry just written as `text`, so the watcher does not read it again.
    pub fn apply_apps(&self, registry: Arc<Registry>, text: &str) {
        self.registry.store(registry);
        if let Ok(mut seen) = self.seen.lock() {
            seen.0 = Some(Sha256::digest(text.as_bytes()).into());
        }
    }

    /// The users file's path.
    pub fn users_path(&self) -> &Path {
        &self.users_path
    }

    /// Re-reads whichever file changed since the last look, and applies it if it is valid.
    pub fn reload_if_changed(&self) -> Reload {
        self.reload(false)
    }

    /// Re-reads both files now, changed or not (SIGHUP), and applies each one that is valid.
    pub fn reload_all(&self) -> Reload {
        self.reload(true)
    }

    fn reload(&self, all: bool) -> Reload {
        let Ok(mut seen) = self.seen.lock() else {
            return Reload::default();
        };
        let now = (fingerprint(&self.apps_path), fingerprint(&self.users_path));
        if !all && now == *seen {
            return Reload::default();
        }
        let users_changed = all || now.1 != seen.1;
        *seen = now;
        let mut out = Reload::default();
        if users_changed {
            let loaded = refuse_blank(&self.users_path)
                .and_then(|()| users::load_if(&self.users_path, self.users_required));
            match loaded {
                Ok(u) => {
                    self.users.store(Arc::new(u));
                    out.users_applied = true;
                }
                Err(p) => out.users_refused = Some(p),
            }
        }
        let loaded = refuse_blank(&self.apps_path)
            .and_then(|()| super::load(&self.apps_path, &self.hasher, &self.users.load()));
        match loaded {
            Ok(r) => {
                self.registry.store(Arc::new(r));
                out.apps_applied = true;
            }
            Err(p) => out.apps_refused = Some(p),
        }
        out
    }

    /// Reloads what changed and reports the outcome in the log and the metrics.
    pub fn reload_and_log(&self, metrics: &Metrics) {
        let r = self.reload_if_changed();
        if r.users_applied {
            tracing::info!(file = %self.users_path.display(), "users reloaded");
        }
        if r.apps_applied {
            tracing::info!(file = %self.apps_path.display(), "applications reloaded");
        }
        for problem in r
            .users_refused
            .iter()
            .chain(&r.apps_refused)
            .flat_map(|p| &p.0)
        {
            tracing::warn!(%problem, "configuration edit not applied; the last good one stays");
        }
        count(&r, metrics);
    }

    /// Reloads both files on SIGHUP and says in the log what was applied and what was not (on
    /// a shared store: reads both shared documents again).
    pub fn reload_on_signal_and_log(&self, metrics: &Metrics) {
        if let Some(shared) = self.shared() {
            tracing::info!("SIGHUP: reading the shared registry and users again");
            shared.force();
            return;
        }
        let r = self.reload_all();
        let mut applied = Vec::new();
        if r.apps_applied {
            let n = self.registry().apps.len();
            applied.push(format!("{} ({n} apps)", file_name(&self.apps_path)));
        }
        if r.users_applied {
            let n = self.users().len();
            applied.push(format!("{} ({n} users)", file_name(&self.users_path)));
        }
        if !applied.is_empty() {
            tracing::info!("reloaded on SIGHUP: {}", applied.join(", "));
        }
        for (path, refused) in [
            (&self.apps_path, &r.apps_refused),
            (&self.users_path, &r.users_refused),
        ] {
            let name = file_name(path);
            for problem in refused.iter().flat_map(|p| &p.0) {
                tracing::warn!(%problem, "not applied on SIGHUP: {name}; the last good version stays");
            }
        }
        count(&r, metrics);
    }
}

/// The file name of `path`, as the reload messages name it.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Counts a reload's outcome in `crmgate_config_reloads_total`.
pub(super) fn count(r: &Reload, metrics: &Metrics) {
    if r.users_applied {
        metrics
            .reloads
            .with_label_values(&["users", "applied"])
            .inc();
    }
    if r.apps_applied {
        metrics
            .reloads
            .with_label_values(&["apps", "applied"])
            .inc();
    }
    if r.users_refused.is_some() || r.apps_refused.is_some() {
        metrics.reloads.with_label_values(&["any", "refused"]).inc();
    }
}
