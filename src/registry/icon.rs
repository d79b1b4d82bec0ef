//! App icons on disk: the names an `icon` key may give (a file in the `icons/` folder next to
//! `apps.toml`, nothing else) and the one reader of icon files, which reads a file only when its
//! real path lies inside the real `icons/` folder, so no name or symlink reaches further.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The folder, next to `apps.toml`, that holds every icon.
pub const FOLDER: &str = "icons";

/// An app's icon: the file and the folder it must stay in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icon {
    path: PathBuf,
    folder: PathBuf,
}

/// The format of PNG, JPEG or GIF bytes (the formats icons may have), by their signature.
pub fn sniff(bytes: &[u8]) -> Option<image::ImageFormat> {
    use image::ImageFormat::{Gif, Jpeg, Png};
    image::guess_format(bytes)
        .ok()
        .filter(|f| matches!(f, Png | Jpeg | Gif))
}

/// Why an `icon` value is refused, in the words problems and API errors use.
const RULE: &str = "must name a file in the icons/ folder next to apps.toml, as icons/NAME \
                    (letters, digits, '-', '_', '.'; no '..', '\\', '%' or absolute paths)";

/// Checks an `icon` value as written, relative to `base` (the folder of `apps.toml`): the name
/// must be `icons/` and plain path parts, and an existing file must really lie in the folder.
///
/// ```
/// use crmgate::registry::icon::check;
/// let base = std::path::Path::new("/nonexistent");
/// assert!(check(base, "icons/gestionale.png").is_ok());
/// for bad in ["../x.png", "/etc/x.png", "icons/../../x.png", "icons\\x.png", "icons/%2e%2e/x.png", "x.png"] {
///     assert!(check(base, bad).is_err(), "{bad}");
/// }
/// ```
pub fn check(base: &Path, name: &str) -> Result<Icon, String> {
    let mut parts = name.split('/');
    let in_folder = parts.next() == Some(FOLDER);
    let rest: Vec<&str> = parts.collect();
    if !in_folder || rest.is_empty() || !rest.iter().all(|p| plain_part(p)) {
        return Err(RULE.to_string());
    }
    let icon = Icon {
        path: base.join(name),
        folder: base.join(FOLDER),
    };
    if icon.path.symlink_metadata().is_ok() && icon.real_path().is_none() {
        return Err(format!(
            "{name} leads outside the icons/ folder (a symbolic link out of it?)"
        ));
    }
    Ok(icon)
}

/// The name under `icons/` of an icon uploaded for `client_id`.
pub fn own_name(client_id: &str) -> String {
    format!("{client_id}.png")
}

/// The file of `name` (a path under `icons/`) next to `base`, if the name is plain.
fn file_of(base: &Path, name: &str) -> Option<PathBuf> {
    let ok = !name.is_empty() && name.split('/').all(plain_part);
    ok.then(|| base.join(FOLDER).join(name))
}

/// Writes an icon file atomically as `icons/<name>` next to `base`, creating folders.
pub fn write(base: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let path = file_of(base, name).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("icon {name:?}: {RULE}"),
        )
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::read(&path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    crate::fsutil::write_atomic(&path, bytes, None)
}

/// Removes `icons/<name>` next to `base` (a missing file is fine).
pub fn remove(base: &Path, name: &str) {
    if let Some(path) = file_of(base, name) {
        let _ = std::fs::remove_file(path);
    }
}

/// The bytes of `icons/<name>` next to `base`, when it lies inside the folder and is an image.
pub fn read(base: &Path, name: &str, max_bytes: u64) -> Option<Vec<u8>> {
    let icon = check(base, &format!("{FOLDER}/{name}")).ok()?;
    let file = std::fs::File::open(icon.real_path()?).ok()?;
    let mut bytes = Vec::new();
    file.take(max_bytes + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= max_bytes && sniff(&bytes).is_some()).then_some(bytes)
}

fn plain_part(p: &str) -> bool {
    !p.is_empty()
        && p != "."
        && p != ".."
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl Icon {
    /// The real path of the file, when it lies inside the real icons folder.
    fn real_path(&self) -> Option<PathBuf> {
        let folder = std::fs::canonicalize(&self.folder).ok()?;
        let real = std::fs::canonicalize(&self.path).ok()?;
        (real.starts_with(&folder) && real != folder).then_some(real)
    }

    /// The icon as a `data:` URI, when the file lies inside the icons folder (resolved now, so
    /// a file replaced by a symlink out of it since the registry was loaded is not read), is a
    /// PNG, JPEG or GIF, and has at most `max_bytes`.
    pub fn data_uri(&self, max_bytes: u64) -> Option<String> {
        let file = std::fs::File::open(self.real_path()?).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > max_bytes {
            return None;
        }
        let mut bytes = Vec::new();
        file.take(max_bytes).read_to_end(&mut bytes).ok()?;
        let mime = sniff(&bytes)?.to_mime_type();
        Some(format!("data:{mime};base64,{}", STANDARD.encode(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_really_inside_the_folder_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
        std::fs::create_dir(dir.path().join(FOLDER)).unwrap();
        std::fs::write(dir.path().join("icons/a.png"), &png).unwrap();
        std::fs::write(outside.path().join("s.png"), &png).unwrap();
        let link = dir.path().join("icons/out.png");
        std::os::unix::fs::symlink(outside.path().join("s.png"), &link).unwrap();
        let icon = check(dir.path(), "icons/a.png").unwrap();
        assert!(
            icon.data_uri(1024)
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
        assert_eq!(icon.data_uri(4), None, "larger than the limit");
        assert!(check(dir.path(), "icons/out.png").is_err());
        assert!(
            check(dir.path(), "icons/missing.png").is_ok(),
            "not there yet"
        );
        // A file that becomes a symlink out after the check is not read.
        std::fs::remove_file(dir.path().join("icons/a.png")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("s.png"), dir.path().join("icons/a.png"))
            .unwrap();
        assert_eq!(icon.data_uri(1024), None);
        for bad in [
            "icons",
            "icons/",
            "icons//a.png",
            "icons/./a.png",
            "./icons/a.png",
        ] {
            assert!(check(dir.path(), bad).is_err(), "{bad}");
        }
    }
}
