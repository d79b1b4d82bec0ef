//! External applications and the global settings: `apps.toml` validated into a [`Registry`].

pub mod edit;
pub mod file;
pub mod icon;
pub mod jwt_key;
pub mod live;
pub mod redirect;
pub mod shared;
pub mod transfer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::config::Problems;
use crate::config::secret::SecretFile;
use crate::config::toml_doc::{Node, TomlDoc};
use crate::keys::{Digest, KeyedHash};
use crate::token::scope::Scope;
use crate::users::Users;
use file::{AppFile, JwtKeyFile, SettingsFile};
pub use jwt_key::JwtKey;

/// The three global switches.
pub type Settings = SettingsFile;

/// What kind of client an app is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// Server to server, client credentials, bound to one CRM user.
    ServiceAccount,
    /// Authorization code with a secret.
    WebApp,
    /// Authorization code with PKCE, no secret.
    NativeApp,
}

impl ClientType {
    /// The name used in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::ServiceAccount => "service_account",
            ClientType::WebApp => "web_app",
            ClientType::NativeApp => "native_app",
        }
    }
}

/// How an app authenticates at the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// `client_secret_basic` or `client_secret_post`; the keyed hash of the secret.
    Secret(Digest),
    /// `private_key_jwt` with this key.
    Jwt(Arc<JwtKey>),
    /// A public client (`none`).
    Public,
}

/// A registered external application, validated.
#[derive(Debug, Clone)]
pub struct App {
    /// Client identifier.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Icon file, inside the `icons/` folder next to the apps file.
    pub icon: Option<icon::Icon>,
    /// The icon as written in the file (relative to it).
    pub icon_name: Option<String>,
    /// Client type.
    pub client_type: ClientType,
    /// Token endpoint authentication.
    pub auth: ClientAuth,
    /// How the secret is written in the file (to show it to users allowed to see it).
    pub client_secret: Option<SecretFile>,
    /// The public key as written (PEM), for `signed_jwt` apps.
    pub jwt_public_key_pem: Option<String>,
    /// The most the app may be granted.
    pub scope: Scope,
    /// Bound CRM user (service accounts).
    pub user: Option<String>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Refresh tokens.
    pub offline_access: bool,
    /// Every user may authorize it.
    pub all_users: bool,
    /// Allowed users.
    pub authorized_users: Vec<String>,
    /// Allowed groups.
    pub authorized_groups: Vec<String>,
    /// Enabled.
    pub enabled: bool,
}

/// Settings and apps as loaded from one version of `apps.toml`.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Global switches.
    pub settings: Settings,
    /// Apps by client id.
    pub apps: HashMap<String, Arc<App>>,
    /// Client ids in file order.
    pub order: Vec<String>,
    /// Origins of enabled native apps' redirect URIs: the only ones CORS lets in.
    pub cors_origins: std::collections::HashSet<String>,
    /// The version of the file it was read from (the admin API's `ETag`).
    pub version: String,
}

/// The version of an apps file's text: the first 16 bytes of its SHA-256, in hex.
pub fn version_of(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Registry {
    /// The app with `client_id`.
    pub fn app(&self, client_id: &str) -> Option<&Arc<App>> {
        self.apps.get(client_id)
    }
}

/// Reads and validates `apps.toml` against the current users.
pub fn load(path: &Path, hasher: &KeyedHash, users: &Users) -> Result<Registry, Problems> {
    let name = path.display().to_string();
    let raw = std::fs::read_to_string(path)
        .map_err(|e| Problems::single(&name, "", format!("cannot read: {e}")))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&name, &raw, base, hasher, users)
}

/// Validates apps-file text; `file` names it in problems, `base` resolves icon paths.
pub fn parse(
    file: &str,
    raw: &str,
    base: &Path,
    hasher: &KeyedHash,
    users: &Users,
) -> Result<Registry, Problems> {
    let doc = TomlDoc::parse(file, raw)?;
    let mut p = Problems::default();
    doc.check_top_keys(&["settings", "apps"], &mut p);
    let settings = doc
        .section::<SettingsFile>("settings", &mut p)
        .unwrap_or_default();
    let mut reg = Registry {
        settings,
        version: version_of(raw),
        ..Registry::default()
    };
    for (i, node) in doc.entries("apps", &mut p).into_iter().enumerate() {
        let key = format!("apps[{i}]");
        let Some(raw_app) = doc.decode::<AppFile>(&key, node, &mut p) else {
            continue;
        };
        let mut check = AppCheck {
            doc: &doc,
            node,
            key: &key,
            p: &mut p,
        };
        let Some(app) = check.app(raw_app, base, hasher, users) else {
            continue;
        };
        if reg.apps.contains_key(&app.client_id) {
            let msg = format!("client_id {:?} appears twice", app.client_id);
            check.bad("client_id", msg);
            continue;
        }
        if app.client_type == ClientType::NativeApp && app.enabled {
            reg.cors_origins
                .extend(app.redirect_uris.iter().filter_map(|u| web_origin(u)));
        }
        reg.order.push(app.client_id.clone());
        reg.apps.insert(app.client_id.clone(), Arc::new(app));
    }
    p.into_result(reg)
}

struct AppCheck<'a, 'i> {
    doc: &'a TomlDoc<'i>,
    node: &'a Node<'i>,
    key: &'a str,
    p: &'a mut Problems,
}

impl AppCheck<'_, '_> {
    fn bad(&mut self, field: &str, msg: impl Into<String>) {
        let line = self.doc.key_line(self.node, field);
        let key = format!("{}.{field}", self.key);
        self.p.push(self.doc.file(), Some(line), &key, msg);
    }

    fn app(&mut self, a: AppFile, base: &Path, hasher: &KeyedHash, users: &Users) -> Option<App> {
        let before = self.p.0.len();
        if !valid_client_id(&a.client_id) {
            self.bad("client_id", "must be 1-128 letters, digits or . _ -");
        }
        if a.name.trim().is_empty() {
            self.bad("name", "must not be empty");
        }
        let scope = self.scope(&a.scope);
        let client_type = self.client_type(&a.client_type);
        let auth = client_type.and_then(|t| self.auth(t, &a, hasher));
        // An empty name is no icon (what the admin page writes when it removes one).
        let icon_name = a.icon.filter(|i| !i.is_empty());
        let icon = icon_name.as_deref().and_then(|i| self.icon(base, i));
        if client_type == Some(ClientType::ServiceAccount) {
            self.bound_user(a.user.as_deref(), users);
        } else if client_type.is_some() {
            self.redirect_uris(&a.redirect_uris);
        }
        if self.p.0.len() != before {
            return None;
        }
        Some(App {
            client_id: a.client_id,
            name: a.name,
            description: a.description,
            icon,
            icon_name,
            client_type: client_type?,
            auth: auth?,
            client_secret: a.client_secret,
            jwt_public_key_pem: match a.jwt_public_key {
                Some(JwtKeyFile::Pem(pem)) => Some(pem),
                _ => None,
            },
            scope: scope?,
            user: a.user,
            redirect_uris: a.redirect_uris,
            offline_access: a.offline_access,
            all_users: a.all_users,
            authorized_users: a.authorized_users,
            authorized_groups: a.authorized_groups,
            enabled: a.enabled,
        })
    }

    fn scope(&mut self, written: &str) -> Option<Scope> {
        match Scope::parse(written) {
            Ok(Some(s)) if s.as_str() == written => Some(s),
            _ => {
                self.bad(
                    "scope",
                    "must be \"rest.all\", \"rest.all.read\" or \"rest.all.write\"",
                );
                None
            }
        }
    }

    fn client_type(&mut self, written: &str) -> Option<ClientType> {
        match written {
            "service_account" => Some(ClientType::ServiceAccount),
            "web_app" => Some(ClientType::WebApp),
            "native_app" => Some(ClientType::NativeApp),
            _ => {
                self.bad(
                    "client_type",
                    "must be service_account, web_app or native_app",
                );
                None
            }
        }
    }

    fn auth(&mut self, t: ClientType, a: &AppFile, hasher: &KeyedHash) -> Option<ClientAuth> {
        let secret_type = a.secret_type.as_deref();
        match (t, secret_type) {
            (ClientType::NativeApp, None) => {
                if a.client_secret.is_some() || a.jwt_public_key.is_some() {
                    self.bad(
                        "client_secret",
                        "a native_app is a public client: no secret or key",
                    );
                    return None;
                }
                Some(ClientAuth::Public)
            }
            (ClientType::NativeApp, Some(_)) => {
                self.bad("secret_type", "a native_app has no secret_type");
                None
            }
            (ClientType::ServiceAccount, Some("signed_jwt")) => self.jwt_key(a),
            (_, None | Some("client_secret")) => self.secret(a, hasher),
            (ClientType::WebApp, Some(_)) => {
                self.bad("secret_type", "a web_app uses \"client_secret\"");
                None
            }
            (ClientType::ServiceAccount, Some(_)) => {
                self.bad("secret_type", "must be \"client_secret\" or \"signed_jwt\"");
                None
            }
        }
    }

    fn secret(&mut self, a: &AppFile, hasher: &KeyedHash) -> Option<ClientAuth> {
        if a.jwt_public_key.is_some() {
            self.bad(
                "jwt_public_key",
                "only used with secret_type = \"signed_jwt\"",
            );
            return None;
        }
        let Some(secret) = &a.client_secret else {
            self.bad("client_secret", "is required for this client type");
            return None;
        };
        let digest = match secret {
            SecretFile::Hashed { hash, .. } => parse_hash(hash),
            other => other.resolve().map(|s| hasher.hash(s.as_bytes())),
        };
        match digest {
            Ok(d) => Some(ClientAuth::Secret(d)),
            Err(msg) => {
                self.bad("client_secret", msg);
                None
            }
        }
    }

    fn jwt_key(&mut self, a: &AppFile) -> Option<ClientAuth> {
        if a.client_secret.is_some() {
            self.bad(
                "client_secret",
                "a signed_jwt app authenticates with its key, not a secret",
            );
            return None;
        }
        let key = match &a.jwt_public_key {
            None => Err("is required for secret_type = \"signed_jwt\"".to_string()),
            Some(JwtKeyFile::Pem(pem)) => jwt_key::from_pem(pem),
            Some(JwtKeyFile::Jwk(jwk)) => jwt_key::from_jwk(jwk),
        };
        match key {
            Ok(k) => Some(ClientAuth::Jwt(Arc::new(k))),
            Err(msg) => {
                self.bad("jwt_public_key", msg);
                None
            }
        }
    }

    fn icon(&mut self, base: &Path, name: &str) -> Option<icon::Icon> {
        icon::check(base, name)
            .map_err(|msg| self.bad("icon", msg))
            .ok()
    }

    fn bound_user(&mut self, user: Option<&str>, users: &Users) {
        match user {
            None => self.bad(
                "user",
                "a service_account must name the CRM user it acts as",
            ),
            Some(u) if users.get(u).is_none() => {
                self.bad("user", format!("unknown user {u:?}"));
            }
            Some(_) => {}
        }
    }

    fn redirect_uris(&mut self, uris: &[String]) {
        if uris.is_empty() {
            self.bad("redirect_uris", "at least one redirect URI is required");
        }
        for uri in uris {
            if let Err(msg) = check_redirect_uri(uri) {
                self.bad("redirect_uris", format!("{uri:?}: {msg}"));
            }
        }
    }
}

/// The origin of an http(s) URI.
fn web_origin(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.origin().ascii_serialization())
}

/// The digest of a `hmac-sha256:<base64url>` hash.
fn parse_hash(hash: &str) -> Result<Digest, String> {
    use base64::Engine;
    let b64 = hash
        .strip_prefix(crate::config::secret::HASH_PREFIX)
        .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(Digest)
        .ok_or_else(|| "hash must be hmac-sha256: and 32 bytes of base64url".to_string())
}

fn valid_client_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// An absolute URI without fragment; plain http only towards loopback hosts (RFC 8252 §7.3).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|e| format!("not an absolute URI ({e})"))?;
    if url.fragment().is_some() {
        return Err("must not contain a fragment".into());
    }
    if url.as_str() != uri && url.as_str() != format!("{uri}/") {
        return Err("must be written in normalised form".into());
    }
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("plain http is allowed only for loopback hosts".into()),
        "javascript" | "data" | "file" | "vbscript" => Err("scheme not allowed".into()),
        _ => Ok(()),
    }
}
