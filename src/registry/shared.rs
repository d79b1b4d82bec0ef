//! The registry and users on a shared store (`[store] backend = "redis"`): the documents of
//! record are the shared ones; a node's `apps.toml` and `users.toml` seed an empty store and are
//! then this node's copies, rewritten whenever the shared documents change (a copy that was
//! edited locally is kept as `<file>.replaced`, never applied). Every node applies a change when
//! the store announces it, and checks twice a second in case it missed one.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::edit::{EditError, IconEdit};
use super::icon::{self, FOLDER};
use super::live::{Directory, Reload, fingerprint};
use super::version_of;
use crate::config::Problems;
use crate::keys::KeyedHash;
use crate::metrics::Metrics;
use crate::store::StoreError;
use crate::store::documents::{Base, DocName, Document, IconChange, SharedDocs};
use crate::users::{self, Users};

/// Largest icon file a node uploads with its registry.
const MAX_ICON: u64 = 1024 * 1024;

/// Versions of the documents this node applies.
#[derive(Default)]
struct Applied {
    apps: Option<String>,
    users: Option<String>,
    warned: Option<String>,
}

/// A directory's link to the shared documents.
pub struct Shared {
    docs: Arc<dyn SharedDocs>,
    applied: Mutex<Applied>,
    wake: Arc<Notify>,
    failing: AtomicBool,
}

fn store_problem(what: &str, e: &StoreError) -> Problems {
    Problems::single("store", "", format!("{what}: {e}"))
}

fn read_text(path: &Path) -> Result<String, Problems> {
    std::fs::read_to_string(path)
        .map_err(|e| Problems::single(&path.display().to_string(), "", format!("cannot read: {e}")))
}

/// Writes a node's copy of a shared document; a copy edited since it was last written here (or,
/// at start, any copy that differs) is kept as `<file>.replaced` first.
fn write_copy(path: &Path, text: &str, last: Option<[u8; 32]>, mode: Option<u32>) {
    let now = fingerprint(path);
    let wanted = Some(version_bytes(text));
    if now == wanted {
        return;
    }
    if now.is_some() && now != last {
        let mut kept = path.as_os_str().to_owned();
        kept.push(".replaced");
        if std::fs::rename(path, &kept).is_ok() {
            tracing::warn!(
                file = %path.display(),
                kept = %Path::new(&kept).display(),
                "this node's copy differs from the shared document, which applies; the copy is kept"
            );
        }
    }
    if let Err(e) = crate::fsutil::write_atomic(path, text.as_bytes(), mode) {
        tracing::warn!(file = %path.display(), error = %e, "cannot write this node's copy of a shared document");
    }
}

fn version_bytes(text: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes()).into()
}

/// Writes every shared icon into this node's `icons/` folder.
async fn copy_icons(docs: &dyn SharedDocs, base: &Path) -> Result<(), StoreError> {
    for (name, bytes) in docs.icons().await? {
        if let Err(e) = icon::write(base, &name, &bytes) {
            tracing::warn!(icon = %name, error = %e, "cannot write a shared icon here");
        }
    }
    Ok(())
}

/// The icons a registry names that exist under `base`, to upload with it.
pub fn local_icons(registry: &super::Registry, base: &Path) -> Vec<IconChange> {
    let prefix = format!("{FOLDER}/");
    registry
        .apps
        .values()
        .filter_map(|a| a.icon_name.as_deref()?.strip_prefix(&prefix))
        .filter_map(|name| {
            let bytes = icon::read(base, name, MAX_ICON)?;
            Some(IconChange {
                name: name.to_string(),
                bytes: Some(bytes),
            })
        })
        .collect()
}

/// Stores `text` as a document nobody wrote yet; the stored one when another node was first.
async fn seed(
    docs: &dyn SharedDocs,
    doc: DocName,
    text: &str,
    icons: Vec<IconChange>,
) -> Result<String, Problems> {
    let fail =
        |e: StoreError| store_problem(&format!("cannot seed the shared {}", doc.as_str()), &e);
    let written = docs
        .write(doc, Base::Absent, text, &version_of(text), icons)
        .await
        .map_err(fail)?;
    if written.is_some() {
        tracing::info!(
            document = doc.as_str(),
            "shared store seeded from this node's file"
        );
        return Ok(text.to_string());
    }
    let stored = docs.read(doc).await.map_err(fail)?;
    Ok(stored.map(|d| d.text).unwrap_or_else(|| text.to_string()))
}

/// The shared users text, seeded from `path` when the store has none; `None` when neither
/// exists and none is required.
async fn users_text(
    docs: &dyn SharedDocs,
    path: &Path,
    required: bool,
) -> Result<Option<String>, Problems> {
    let stored = docs
        .read(DocName::Users)
        .await
        .map_err(|e| store_problem("cannot read the shared users", &e))?;
    if let Some(d) = stored {
        return Ok(Some(d.text));
    }
    if !required && !path.exists() {
        return Ok(None);
    }
    let text = read_text(path)?;
    users::parse(&path.display().to_string(), &text)?;
    seed(docs, DocName::Users, &text, Vec::new())
        .await
        .map(Some)
}

/// The shared registry text, seeded (with its icons) from `path` when the store has none.
async fn apps_text(
    docs: &dyn SharedDocs,
    path: &Path,
    hasher: &KeyedHash,
    users: &Users,
) -> Result<String, Problems> {
    let stored = docs
        .read(DocName::Apps)
        .await
        .map_err(|e| store_problem("cannot read the shared registry", &e))?;
    if let Some(d) = stored {
        return Ok(d.text);
    }
    let text = read_text(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let registry = super::parse(&path.display().to_string(), &text, base, hasher, users)?;
    seed(docs, DocName::Apps, &text, local_icons(&registry, base)).await
}

impl Directory {
    /// Loads the shared registry and users (seeding them from the files when the store has
    /// none), writes this node's copies and icons, and follows every later change.
    pub async fn load_shared(
        apps_path: &Path,
        users_path: &Path,
        hasher: KeyedHash,
        users_required: bool,
        docs: Arc<dyn SharedDocs>,
    ) -> Result<Self, Problems> {
        let users = users_text(&*docs, users_path, users_required).await?;
        let parsed = match &users {
            Some(text) => users::parse(&users_path.display().to_string(), text)?,
            None => Users::default(),
        };
        let apps = apps_text(&*docs, apps_path, &hasher, &parsed).await?;
        let base = apps_path.parent().unwrap_or(Path::new("."));
        copy_icons(&*docs, base)
            .await
            .map_err(|e| store_problem("cannot read the shared icons", &e))?;
        if let Some(text) = &users {
            write_copy(users_path, text, None, Some(0o600));
        }
        write_copy(apps_path, &apps, None, None);
        let dir = Directory::load(apps_path, users_path, hasher, users_required)?;
        let wake = Arc::new(Notify::new());
        let woken = wake.clone();
        docs.watch(Arc::new(move || woken.notify_one()));
        let applied = Applied {
            apps: Some(version_of(&apps)),
            users: users.as_deref().map(version_of),
            warned: None,
        };
        let shared = Shared {
            docs,
            applied: Mutex::new(applied),
            wake,
            failing: AtomicBool::new(false),
        };
        Ok(dir.into_shared(shared))
    }

    /// Applies what changed: the shared documents when there are some, else the files.
    pub async fn refresh(&self, metrics: &Metrics) {
        match self.shared() {
            None => self.reload_and_log(metrics),
            Some(shared) => {
                let _one_at_a_time = self.edit_lock().await;
                shared.warn_local_edits(self);
                shared.sync(self, metrics).await;
            }
        }
    }

    /// Woken when the shared documents change (none for files, which are polled).
    pub fn wake(&self) -> Option<Arc<Notify>> {
        self.shared().map(|s| s.wake.clone())
    }
}

impl Shared {
    /// The registry of record and its version.
    pub(super) async fn current_apps(&self) -> Result<(String, String), EditError> {
        match self.docs.read(DocName::Apps).await {
            Ok(Some(d)) => Ok((d.text, d.version)),
            Ok(None) => Err(EditError::Io(
                "the shared store has no registry: push one with `crmgate registry push`".into(),
            )),
            Err(e) => Err(EditError::Io(e.to_string())),
        }
    }

    /// Stores `text` if the shared registry is still at `base`, then this node's copy.
    pub(super) async fn store_apps(
        &self,
        dir: &Directory,
        base: &str,
        text: &str,
        icon: IconEdit<'_>,
    ) -> Result<bool, EditError> {
        let icons = match icon {
            IconEdit::Keep => Vec::new(),
            IconEdit::Put { client_id, png } => vec![IconChange {
                name: icon::own_name(client_id),
                bytes: Some(png.to_vec()),
            }],
            IconEdit::Remove { client_id } => vec![IconChange {
                name: icon::own_name(client_id),
                bytes: None,
            }],
        };
        let version = version_of(text);
        let written = self
            .docs
            .write(DocName::Apps, Base::Version(base), text, &version, icons)
            .await
            .map_err(|e| EditError::Io(e.to_string()))?;
        if written.is_none() {
            return Ok(false);
        }
        let folder = dir.apps_path().parent().unwrap_or(Path::new("."));
        match icon {
            IconEdit::Put { client_id, png } => {
                let _ = icon::write(folder, &icon::own_name(client_id), png);
            }
            IconEdit::Remove { client_id } => icon::remove(folder, &icon::own_name(client_id)),
            IconEdit::Keep => {}
        }
        self.copy_apps(dir, text);
        if let Ok(mut a) = self.applied.lock() {
            a.apps = Some(version);
        }
        Ok(true)
    }

    fn copy_apps(&self, dir: &Directory, text: &str) {
        write_copy(dir.apps_path(), text, dir.remembered().0, None);
        dir.remember(true, false);
    }

    /// Reads both documents and applies each one that changed (the registry again after new
    /// users, since it is validated against them); a document this node refuses is logged and
    /// the last good one stays.
    async fn sync(&self, dir: &Directory, metrics: &Metrics) {
        let (seen_apps, seen_users) = match self.applied.lock() {
            Ok(a) => (a.apps.clone(), a.users.clone()),
            Err(_) => return,
        };
        if self.unchanged(&seen_apps, &seen_users).await {
            return;
        }
        let Some((users, apps)) = self.read_both().await else {
            return;
        };
        let mut out = Reload::default();
        if let Some(d) = users.filter(|d| Some(&d.version) != seen_users.as_ref()) {
            match users::parse(&dir.users_path().display().to_string(), &d.text) {
                Ok(u) => {
                    write_copy(dir.users_path(), &d.text, dir.remembered().1, Some(0o600));
                    dir.remember(false, true);
                    dir.apply_users(u);
                    out.users_applied = true;
                    tracing::info!(revision = d.revision, "shared users applied");
                }
                Err(p) => out.users_refused = Some(p),
            }
            self.set_applied(None, Some(d.version));
        }
        if let Some(d) =
            apps.filter(|d| out.users_applied || Some(&d.version) != seen_apps.as_ref())
        {
            self.apply_apps_doc(dir, &d, &mut out).await;
        }
        for problem in out
            .users_refused
            .iter()
            .chain(&out.apps_refused)
            .flat_map(|p| &p.0)
        {
            tracing::warn!(%problem, "shared document not applied on this node; the last good one stays");
        }
        super::live::count(&out, metrics);
    }

    /// True when both stored versions are the ones applied (two small reads, no text).
    async fn unchanged(&self, apps: &Option<String>, users: &Option<String>) -> bool {
        let (Ok(a), Ok(u)) = (
            self.docs.version(DocName::Apps).await,
            self.docs.version(DocName::Users).await,
        ) else {
            return false;
        };
        a == *apps && u == *users
    }

    /// Both documents, or `None` (said once per outage) when the store cannot be read.
    async fn read_both(&self) -> Option<(Option<Document>, Option<Document>)> {
        let read = async {
            let users = self.docs.read(DocName::Users).await?;
            let apps = self.docs.read(DocName::Apps).await?;
            Ok::<_, StoreError>((users, apps))
        };
        match read.await {
            Ok(both) => {
                if self.failing.swap(false, Ordering::SeqCst) {
                    tracing::info!("the shared registry is readable again");
                }
                Some(both)
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::SeqCst) {
                    tracing::warn!(error = %e, "cannot read the shared registry; the last one applied stays");
                }
                None
            }
        }
    }

    /// Copies the icons, validates the registry against the current users and applies it.
    async fn apply_apps_doc(&self, dir: &Directory, d: &Document, out: &mut Reload) {
        let base = dir.apps_path().parent().unwrap_or(Path::new("."));
        if let Err(e) = copy_icons(&*self.docs, base).await {
            tracing::warn!(error = %e, "cannot read the shared icons");
        }
        match dir.validate_apps(&d.text) {
            Ok(r) => {
                self.copy_apps(dir, &d.text);
                dir.apply_apps(Arc::new(r), &d.text);
                out.apps_applied = true;
                tracing::info!(revision = d.revision, "shared registry applied");
            }
            Err(p) => out.apps_refused = Some(p),
        }
        self.set_applied(Some(d.version.clone()), None);
    }

    fn set_applied(&self, apps: Option<String>, users: Option<String>) {
        if let Ok(mut a) = self.applied.lock() {
            if apps.is_some() {
                a.apps = apps;
            }
            if users.is_some() {
                a.users = users;
            }
        }
    }

    /// Forgets what was applied, so the next refresh applies both documents again (SIGHUP).
    pub fn force(&self) {
        if let Ok(mut a) = self.applied.lock() {
            a.apps = None;
            a.users = None;
        }
        self.wake.notify_one();
    }

    /// Says once per edit that a local copy was changed and is not applied.
    fn warn_local_edits(&self, dir: &Directory) {
        let (apps, users) = dir.files_changed();
        let key = format!(
            "{:?}{:?}",
            apps.then(|| fingerprint(dir.apps_path())),
            users.then(|| fingerprint(dir.users_path()))
        );
        let Ok(mut a) = self.applied.lock() else {
            return;
        };
        if (apps || users) && a.warned.as_deref() != Some(&key) {
            let file = if apps {
                dir.apps_path()
            } else {
                dir.users_path()
            };
            tracing::warn!(
                file = %file.display(),
                "this file changed here, but with a shared store the document of record is in the \
                 store: push it with `crmgate registry push` (it is not applied, and is kept as \
                 .replaced when the shared document changes)"
            );
            a.warned = Some(key);
        }
    }
}
