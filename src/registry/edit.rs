//! Writing `apps.toml` back from the admin API with `toml_edit`, so the admin's comments, order
//! and formatting stay: one edit at a time, refused when the file changed since the version the
//! caller saw, validated before it is written, written atomically (the file, or compare-and-set
//! on the shared document), applied at once.

use std::sync::Arc;

use serde_json::Value as Json;
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use super::live::Directory;
use super::{Registry, version_of};
use crate::config::Problems;

/// Why an edit was not made.
#[derive(Debug)]
pub enum EditError {
    /// The file changed since the caller's version.
    Stale,
    /// The result would not validate (or the file on disk does not).
    Invalid(Problems),
    /// The app to change does not exist.
    NotFound,
    /// A request value has the wrong shape.
    BadValue(String),
    /// Reading or writing the file failed.
    Io(String),
    /// The entry to add exists already.
    Exists(String),
}

/// What an edit does to the app's icon besides the registry text.
#[derive(Debug, Clone, Copy)]
pub enum IconEdit<'a> {
    /// Nothing.
    Keep,
    /// Store `png` as `icons/<client_id>.png` (written before the registry that names it).
    Put {
        /// The app.
        client_id: &'a str,
        /// The PNG.
        png: &'a [u8],
    },
    /// Remove `icons/<client_id>.png` (after the registry no longer names it).
    Remove {
        /// The app.
        client_id: &'a str,
    },
}

/// Edits retried when another gateway changed the shared registry between read and write
/// (only without `If-Match`: with it, that is a conflict).
const ATTEMPTS: usize = 5;

/// True when `if_match` names a version other than `current` (`*` matches any).
fn stale(if_match: &str, current: &str) -> bool {
    let v = if_match.trim();
    v != "*" && v.trim_matches('"') != current
}

impl Directory {
    /// The current version of `apps.toml` if `if_match` (when given) still names it; for
    /// changes that write no file but must not act on a stale view.
    pub async fn check_version(&self, if_match: Option<&str>) -> Result<String, EditError> {
        let _one_at_a_time = self.edit_lock().await;
        let (_, current) = self.current_apps().await?;
        match if_match {
            Some(v) if stale(v, &current) => Err(EditError::Stale),
            _ => Ok(current),
        }
    }

    /// Applies `f` to the current `apps.toml`, validates, writes and applies the result.
    /// Returns what `f` returned and the new registry.
    pub async fn edit_apps<T>(
        &self,
        if_match: Option<&str>,
        f: impl FnMut(&mut DocumentMut) -> Result<T, EditError>,
    ) -> Result<(T, Arc<Registry>), EditError> {
        self.edit_apps_icon(if_match, f, IconEdit::Keep).await
    }

    /// Like [`Self::edit_apps`], storing or removing an icon with the same write.
    pub async fn edit_apps_icon<T>(
        &self,
        if_match: Option<&str>,
        mut f: impl FnMut(&mut DocumentMut) -> Result<T, EditError>,
        icon: IconEdit<'_>,
    ) -> Result<(T, Arc<Registry>), EditError> {
        let _one_at_a_time = self.edit_lock().await;
        for _ in 0..ATTEMPTS {
            let (raw, version) = self.current_apps().await?;
            if if_match.is_some_and(|v| stale(v, &version)) {
                return Err(EditError::Stale);
            }
            let mut doc: DocumentMut = raw.parse().map_err(|e: toml_edit::TomlError| {
                let name = self.apps_path().display().to_string();
                EditError::Invalid(Problems::single(&name, "", e.to_string()))
            })?;
            let out = f(&mut doc)?;
            let text = doc.to_string();
            let registry = Arc::new(self.validate_apps(&text).map_err(EditError::Invalid)?);
            if self.store_apps(&version, &text, icon).await? {
                self.apply_apps(registry.clone(), &text);
                return Ok((out, registry));
            }
            if if_match.is_some() {
                return Err(EditError::Stale);
            }
        }
        Err(EditError::Stale)
    }

    /// The registry text of record and its version: the file, or the shared document.
    async fn current_apps(&self) -> Result<(String, String), EditError> {
        if let Some(shared) = self.shared() {
            return shared.current_apps().await;
        }
        let raw =
            std::fs::read_to_string(self.apps_path()).map_err(|e| EditError::Io(e.to_string()))?;
        let version = version_of(&raw);
        Ok((raw, version))
    }

    /// Writes `text` as the registry of record if it is still at `base`; `false` when another
    /// gateway changed it first.
    async fn store_apps(
        &self,
        base: &str,
        text: &str,
        icon: IconEdit<'_>,
    ) -> Result<bool, EditError> {
        if let Some(shared) = self.shared() {
            return shared.store_apps(self, base, text, icon).await;
        }
        let folder = self
            .apps_path()
            .parent()
            .unwrap_or(std::path::Path::new("."));
        let io = |e: std::io::Error| EditError::Io(e.to_string());
        if let IconEdit::Put { client_id, png } = icon {
            super::icon::write(folder, &super::icon::own_name(client_id), png).map_err(io)?;
        }
        crate::fsutil::write_atomic(self.apps_path(), text.as_bytes(), None).map_err(io)?;
        if let IconEdit::Remove { client_id } = icon {
            super::icon::remove(folder, &super::icon::own_name(client_id));
        }
        Ok(true)
    }
}

/// Converts a JSON request value into a TOML value: strings, booleans, integers, arrays of
/// those, and objects as inline tables.
pub fn to_toml(v: &Json) -> Result<Value, EditError> {
    Ok(match v {
        Json::String(s) => Value::from(s.as_str()),
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => Value::from(n.as_i64().ok_or_else(|| bad("numbers must be integers"))?),
        Json::Array(items) => {
            let mut a = Array::new();
            for item in items {
                a.push(to_toml(item)?);
            }
            Value::Array(a)
        }
        Json::Object(map) => {
            let mut t = InlineTable::new();
            for (k, v) in map {
                t.insert(k, to_toml(v)?);
            }
            Value::InlineTable(t)
        }
        Json::Null => return Err(bad("null is not a value")),
    })
}

fn bad(msg: &str) -> EditError {
    EditError::BadValue(msg.to_string())
}

/// Sets `key` in `table` (keeping the key's decor when it exists), or removes it for `null`.
pub fn set_key(table: &mut Table, key: &str, v: &Json) -> Result<(), EditError> {
    if v.is_null() {
        table.remove(key);
        return Ok(());
    }
    let value = to_toml(v)?;
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(existing) => {
            let decor = existing.decor().clone();
            *existing = value;
            *existing.decor_mut() = decor;
        }
        None => {
            table.insert(key, Item::Value(value));
        }
    }
    Ok(())
}

/// The `[settings]` table, created when absent.
pub fn settings_table(doc: &mut DocumentMut) -> Result<&mut Table, EditError> {
    let item = doc.entry("settings").or_insert(Item::Table(Table::new()));
    item.as_table_mut()
        .ok_or_else(|| bad("[settings] is not a table"))
}

fn apps(doc: &mut DocumentMut) -> Result<&mut ArrayOfTables, EditError> {
    let item = doc
        .entry("apps")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
    item.as_array_of_tables_mut()
        .ok_or_else(|| bad("apps is not an array of tables"))
}

/// Index of the `[[apps]]` entry with `client_id`.
pub fn find_app(doc: &mut DocumentMut, client_id: &str) -> Result<usize, EditError> {
    apps(doc)?
        .iter()
        .position(|t| t.get("client_id").and_then(Item::as_str) == Some(client_id))
        .ok_or(EditError::NotFound)
}

/// The `[[apps]]` entry with `client_id`.
pub fn app_table<'d>(
    doc: &'d mut DocumentMut,
    client_id: &str,
) -> Result<&'d mut Table, EditError> {
    let i = find_app(doc, client_id)?;
    apps(doc)?.get_mut(i).ok_or(EditError::NotFound)
}

/// Appends a new `[[apps]]` entry with `keys` in order (its `client_id` must be new).
pub fn push_app(doc: &mut DocumentMut, keys: &[(&str, Json)]) -> Result<(), EditError> {
    if let Some((_, Json::String(id))) = keys.iter().find(|(k, _)| *k == "client_id")
        && find_app(doc, id).is_ok()
    {
        return Err(EditError::Exists(id.clone()));
    }
    let mut table = Table::new();
    for (k, v) in keys {
        if !v.is_null() {
            table.insert(k, Item::Value(to_toml(v)?));
        }
    }
    apps(doc)?.push(table);
    Ok(())
}

/// Removes the `[[apps]]` entry with `client_id`.
pub fn remove_app(doc: &mut DocumentMut, client_id: &str) -> Result<(), EditError> {
    let i = find_app(doc, client_id)?;
    apps(doc)?.remove(i);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FILE: &str = "# my apps\n[settings]\noauth_enabled = true # on\n\n# the ERP\n[[apps]]\nclient_id = \"a\"\nname = \"A\" # display\nenabled = true\n\n[[apps]]\nclient_id = \"b\"\nname = \"B\"\n";

    #[test]
    fn edits_keep_comments_and_order() {
        let mut doc: DocumentMut = FILE.parse().unwrap();
        set_key(
            settings_table(&mut doc).unwrap(),
            "oauth_enabled",
            &json!(false),
        )
        .unwrap();
        set_key(app_table(&mut doc, "a").unwrap(), "name", &json!("A2")).unwrap();
        set_key(app_table(&mut doc, "a").unwrap(), "enabled", &Json::Null).unwrap();
        push_app(
            &mut doc,
            &[("client_id", json!("c")), ("redirect_uris", json!(["x"]))],
        )
        .unwrap();
        remove_app(&mut doc, "b").unwrap();
        let text = doc.to_string();
        assert!(
            text.starts_with("# my apps\n[settings]\noauth_enabled = false # on\n"),
            "{text}"
        );
        assert!(
            text.contains("# the ERP\n[[apps]]\nclient_id = \"a\"\nname = \"A2\" # display\n"),
            "{text}"
        );
        assert!(!text.contains("enabled = true\n\n"), "{text}");
        assert!(!text.contains("\"b\""), "{text}");
        assert!(
            text.contains("client_id = \"c\"\nredirect_uris = [\"x\"]"),
            "{text}"
        );
        assert!(matches!(
            app_table(&mut doc, "zz"),
            Err(EditError::NotFound)
        ));
    }
}
