//! The on-disk shape of `apps.toml`: `[settings]` and `[[apps]]`, unknown keys refused.

use jsonwebtoken::jwk::Jwk;
use serde::Deserialize;

use crate::config::secret::SecretFile;

/// `[settings]`: the three global switches.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields, default)]
pub struct SettingsFile {
    /// Off: no app can get a token, and every issued token is refused.
    pub oauth_enabled: bool,
    /// Non-admin users may see and change secrets of apps bound to them.
    pub users_can_manage_secrets: bool,
    /// Off: no token is issued for, or accepted as, an admin user.
    pub allow_admin_users: bool,
}

impl Default for SettingsFile {
    fn default() -> Self {
        Self {
            oauth_enabled: true,
            users_can_manage_secrets: false,
            allow_admin_users: false,
        }
    }
}

/// A public key as written: a PEM string or a JWK table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum JwtKeyFile {
    /// PEM text.
    Pem(String),
    /// A JWK as a TOML table.
    Jwk(Box<Jwk>),
}

fn yes() -> bool {
    true
}

/// One `[[apps]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppFile {
    /// Client identifier.
    pub client_id: String,
    /// Name shown on the consent screen and in listings.
    pub name: String,
    /// Description shown on the consent screen.
    #[serde(default)]
    pub description: String,
    /// Icon path, relative to the apps file.
    pub icon: Option<String>,
    /// `service_account`, `web_app` or `native_app`.
    pub client_type: String,
    /// `client_secret` or `signed_jwt`.
    pub secret_type: Option<String>,
    /// The client secret.
    pub client_secret: Option<SecretFile>,
    /// Public key for `signed_jwt`.
    pub jwt_public_key: Option<JwtKeyFile>,
    /// `rest.all`, `rest.all.read` or `rest.all.write`.
    pub scope: String,
    /// The CRM user a service account acts as.
    pub user: Option<String>,
    /// Registered redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Issue refresh tokens.
    #[serde(default)]
    pub offline_access: bool,
    /// Every user may authorize the app.
    #[serde(default = "yes")]
    pub all_users: bool,
    /// Users allowed when `all_users` is false.
    #[serde(default)]
    pub authorized_users: Vec<String>,
    /// Groups allowed when `all_users` is false.
    #[serde(default)]
    pub authorized_groups: Vec<String>,
    /// The app may get and use tokens.
    #[serde(default = "yes")]
    pub enabled: bool,
}
