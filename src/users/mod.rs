//! The user directory of the `local` backend: `users.toml`, validated, looked up by username.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::config::Problems;
use crate::config::secret::SecretFile;
use crate::config::toml_doc::TomlDoc;

/// One `[[users]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    /// Login name, as in the CRM.
    username: String,
    /// Display name.
    #[serde(default)]
    name: String,
    /// argon2id PHC string from `crmgate hash-password`; without it the user cannot log in.
    password_hash: Option<String>,
    /// CRM administrator.
    #[serde(default)]
    admin: bool,
    /// CRM groups.
    #[serde(default)]
    groups: Vec<String>,
    /// The user's CRM access key, for upstream auth `basic`.
    crm_access_key: Option<SecretFile>,
}

/// A CRM user as the gateway knows it.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// argon2id hash of the password.
    pub password_hash: Option<String>,
    /// CRM administrator.
    pub admin: bool,
    /// Groups.
    pub groups: Vec<String>,
    /// CRM access key.
    pub crm_access_key: Option<String>,
}

/// The `Authorization` value that makes the CRM act as `username` (upstream auth `basic`).
pub fn basic_header(username: &str, access_key: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{access_key}"));
    format!("Basic {b64}")
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("admin", &self.admin)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// Every user, by username.
#[derive(Debug, Default, Clone)]
pub struct Users {
    by_name: HashMap<String, Arc<User>>,
}

impl User {
    /// A user that exists only to burn the time of a password check for unknown names.
    pub fn dummy(password_hash: &str) -> Self {
        Self {
            username: String::new(),
            name: String::new(),
            password_hash: Some(password_hash.to_string()),
            admin: false,
            groups: Vec::new(),
            crm_access_key: None,
        }
    }
}

impl Users {
    /// The user called `username`.
    pub fn get(&self, username: &str) -> Option<&Arc<User>> {
        self.by_name.get(username)
    }

    /// Every username.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Every group any user is in (with repeats).
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.by_name
            .values()
            .flat_map(|u| u.groups.iter().map(String::as_str))
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Builds a directory from users (tests and the demo).
    pub fn from_users(users: impl IntoIterator<Item = User>) -> Self {
        let by_name = users
            .into_iter()
            .map(|u| (u.username.clone(), Arc::new(u)))
            .collect();
        Self { by_name }
    }
}

/// Reads and validates `users.toml`.
pub fn load(path: &Path) -> Result<Users, Problems> {
    let name = path.display().to_string();
    let raw = std::fs::read_to_string(path)
        .map_err(|e| Problems::single(&name, "", format!("cannot read: {e}")))?;
    parse(&name, &raw)
}

/// Reads `users.toml`, or no users at all when `required` is false and the file is absent.
pub fn load_if(path: &Path, required: bool) -> Result<Users, Problems> {
    if !required && !path.exists() {
        return Ok(Users::default());
    }
    load(path)
}

/// Validates users-file text; `file` names it in problems.
pub fn parse(file: &str, raw: &str) -> Result<Users, Problems> {
    let doc = TomlDoc::parse(file, raw)?;
    let mut p = Problems::default();
    doc.check_top_keys(&["users"], &mut p);
    let mut by_name = HashMap::new();
    for (i, node) in doc.entries("users", &mut p).into_iter().enumerate() {
        let key = format!("users[{i}]");
        let Some(u) = doc.decode::<UserFile>(&key, node, &mut p) else {
            continue;
        };
        let mut bad = |k: &str, msg: String| {
            p.push(
                file,
                Some(doc.key_line(node, k)),
                &format!("{key}.{k}"),
                msg,
            );
        };
        if !valid_username(&u.username) {
            bad("username", "must be 1-64 letters, digits or . _ - @".into());
            continue;
        }
        if let Some(h) = &u.password_hash
            && argon2::PasswordHash::new(h).is_err()
        {
            bad(
                "password_hash",
                "not a PHC hash string; use `crmgate hash-password`".into(),
            );
        }
        let access_key = match u.crm_access_key.as_ref().map(SecretFile::resolve) {
            Some(Err(msg)) => {
                bad("crm_access_key", msg);
                None
            }
            other => other.and_then(Result::ok),
        };
        if by_name.contains_key(&u.username) {
            bad("username", format!("{:?} appears twice", u.username));
            continue;
        }
        let user = User {
            name: if u.name.is_empty() {
                u.username.clone()
            } else {
                u.name
            },
            username: u.username.clone(),
            password_hash: u.password_hash,
            admin: u.admin,
            groups: u.groups,
            crm_access_key: access_key,
        };
        by_name.insert(u.username, Arc::new(user));
    }
    p.into_result(Users { by_name })
}

pub(crate) fn valid_username(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_bad_entry() {
        let raw = "[[users]]\nusername = \"a b\"\n\n[[users]]\nusername = \"c\"\npassword_hash = \"nope\"\n\n[[users]]\nusername = \"d\"\nadmn = true\n";
        let err = parse("users.toml", raw).unwrap_err();
        let keys: Vec<_> = err.0.iter().map(|p| (p.key.as_str(), p.line)).collect();
        assert_eq!(
            keys,
            vec![
                ("users[0].username", Some(2)),
                ("users[1].password_hash", Some(6)),
                ("users[2]", Some(10))
            ],
            "{err}"
        );
    }
}
pub mod upstream;
