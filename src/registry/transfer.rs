//! `crmgate registry pull FILE` and `push FILE`: the shared registry (or users, `--users`) as
//! TOML text an operator edits. `pull` writes the document with a first line naming its
//! version; `push` validates the file as the gateways would (problems as `FILE:line`), refuses
//! it when the shared document changed since that version, stores it with the icons it names
//! (from `icons/` next to the file) and writes the new version line back into the file.

use std::path::Path;

use super::shared::local_icons;
use super::version_of;
use crate::config::Problems;
use crate::keys::KeyedHash;
use crate::store::documents::{Base, DocName, SharedDocs};
use crate::users::{self, Users};

/// The first line `pull` writes; `push` reads the version after it.
const MARK: &str = "# crmgate registry pull: version ";
/// What follows the version on that line.
const MARK_TAIL: &str = " (keep this line for `crmgate registry push`)";

/// What a push needs besides the file.
pub struct PushContext<'a> {
    /// The document to replace.
    pub doc: DocName,
    /// Hashes secrets as the gateways do.
    pub hasher: &'a KeyedHash,
    /// Users to validate a registry against when the store has no users document.
    pub local_users: Users,
    /// Replace whatever is stored, ignoring the version line.
    pub force: bool,
}

fn marked(version: &str, text: &str) -> String {
    format!("{MARK}{version}{MARK_TAIL}\n{text}")
}

/// The version the file was pulled at and the text without that line.
fn unmark(raw: &str) -> (Option<&str>, &str) {
    let Some(rest) = raw.strip_prefix(MARK) else {
        return (None, raw);
    };
    let (line, text) = rest.split_once('\n').unwrap_or((rest, ""));
    let version = line.split_whitespace().next().filter(|v| !v.is_empty());
    (version, text)
}

/// Writes the shared `doc` into `file`; the message to print.
pub async fn pull(docs: &dyn SharedDocs, doc: DocName, file: &Path) -> Result<String, String> {
    let stored = docs
        .read(doc)
        .await
        .map_err(|e| format!("cannot read the shared {}: {e}", doc.as_str()))?
        .ok_or_else(|| {
            format!(
                "the shared store has no {} yet: a gateway seeds it from its file at start, or \
                 push one",
                doc.as_str()
            )
        })?;
    crate::fsutil::write_atomic(
        file,
        marked(&stored.version, &stored.text).as_bytes(),
        Some(0o600),
    )
    .map_err(|e| format!("{}: cannot write: {e}", file.display()))?;
    Ok(format!(
        "pulled {} revision {} (version {}) into {}",
        doc.as_str(),
        stored.revision,
        stored.version,
        file.display()
    ))
}

/// Validates `file` and stores it as the shared `doc`; the message to print.
pub async fn push(
    docs: &dyn SharedDocs,
    ctx: PushContext<'_>,
    file: &Path,
) -> Result<String, String> {
    let name = file.display().to_string();
    let raw = std::fs::read_to_string(file).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let (pulled_at, text) = unmark(&raw);
    let fail = |e: crate::store::StoreError| format!("shared store: {e}");
    let current = docs.read(ctx.doc).await.map_err(fail)?;
    let base = match (ctx.force, pulled_at, &current) {
        (true, _, _) => Base::Any,
        (false, Some(v), _) => Base::Version(v),
        (false, None, None) => Base::Absent,
        (false, None, Some(_)) => {
            return Err(format!(
                "{name}: has no version line, so it was not pulled from this store: pull first \
                 and edit that, or push --force to replace the shared {}",
                ctx.doc.as_str()
            ));
        }
    };
    let icons = validate(docs, &ctx, &name, &raw, file).await?;
    let version = version_of(text);
    let written = docs
        .write(ctx.doc, base, text, &version, icons)
        .await
        .map_err(fail)?;
    let Some(revision) = written else {
        let now = current.map_or_else(|| "none".to_string(), |d| d.version);
        return Err(format!(
            "{name}: the shared {} changed since it was pulled (version {}, now {now}): pull \
             again and redo the change",
            ctx.doc.as_str(),
            pulled_at.unwrap_or("none"),
        ));
    };
    crate::fsutil::write_atomic(file, marked(&version, text).as_bytes(), Some(0o600))
        .map_err(|e| format!("pushed, but {name}: cannot write the new version line: {e}"))?;
    Ok(format!(
        "pushed {name}: {} revision {revision} (version {version}); every gateway applies it \
         within a second",
        ctx.doc.as_str()
    ))
}

/// Checks the file as the gateways would; the icons to upload with a registry.
async fn validate(
    docs: &dyn SharedDocs,
    ctx: &PushContext<'_>,
    name: &str,
    raw: &str,
    file: &Path,
) -> Result<Vec<crate::store::documents::IconChange>, String> {
    let base = file.parent().unwrap_or(Path::new("."));
    let fail = |e: crate::store::StoreError| format!("shared store: {e}");
    match ctx.doc {
        DocName::Apps => {
            let users = match docs.read(DocName::Users).await.map_err(fail)? {
                Some(d) => users::parse("shared users", &d.text).map_err(|p| p.to_string())?,
                None => ctx.local_users.clone(),
            };
            let registry =
                super::parse(name, raw, base, ctx.hasher, &users).map_err(|p| refused(name, &p))?;
            Ok(local_icons(&registry, base))
        }
        DocName::Users => {
            let users = users::parse(name, raw).map_err(|p| refused(name, &p))?;
            if let Some(apps) = docs.read(DocName::Apps).await.map_err(fail)? {
                super::parse("shared registry", &apps.text, base, ctx.hasher, &users).map_err(
                    |p| format!("with these users the shared registry would be invalid:\n{p}"),
                )?;
            }
            Ok(Vec::new())
        }
    }
}

fn refused(name: &str, p: &Problems) -> String {
    format!("{name}: not pushed:\n{p}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_line_round_trips_and_keeps_line_numbers_for_problems() {
        let text = "[settings]\noauth_enabled = true\n";
        let file = marked("abc123", text);
        assert_eq!(unmark(&file), (Some("abc123"), text));
        assert_eq!(file.lines().nth(1), Some("[settings]"));
        assert_eq!(unmark(text), (None, text));
        assert_eq!(unmark(MARK), (None, ""));
    }
}
