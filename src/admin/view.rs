//! Applications as the API shows them: the `[[apps]]` keys (never a secret), the token status
//! counts, and the icon inlined as a `data:` URI.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::gateway::Gateway;
use crate::registry::{App, ClientAuth, Settings};

/// The secret type key of an app.
pub fn secret_type(app: &App) -> Option<&'static str> {
    match app.auth {
        ClientAuth::Secret(_) => Some("client_secret"),
        ClientAuth::Jwt(_) => Some("signed_jwt"),
        ClientAuth::Public => None,
    }
}

/// The icon file as a `data:` URI, when it is a small PNG, JPEG or GIF.
pub fn icon_data(app: &App) -> Option<String> {
    let path = app.icon.as_deref()?;
    if std::fs::metadata(path).ok()?.len() > 1024 * 1024 {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let mime = super::icons::sniff(&bytes)?;
    Some(format!("data:{mime};base64,{}", STANDARD.encode(bytes)))
}

/// An app as JSON, with its token status.
pub fn app_json(gw: &Gateway, app: &App) -> Value {
    let counts = gw.tokens.tally().counts(&app.client_id, gw.clock.now());
    json!({
        "client_id": app.client_id,
        "name": app.name,
        "description": app.description,
        "icon": app.icon_name,
        "icon_data": icon_data(app),
        "client_type": app.client_type.as_str(),
        "secret_type": secret_type(app),
        "jwt_public_key": app.jwt_public_key_pem,
        "scope": app.scope.as_str(),
        "user": app.user,
        "redirect_uris": app.redirect_uris,
        "offline_access": app.offline_access,
        "all_users": app.all_users,
        "authorized_users": app.authorized_users,
        "authorized_groups": app.authorized_groups,
        "enabled": app.enabled,
        "active_tokens": counts.map(|c| c.0),
        "expired_tokens": counts.map(|c| c.1),
    })
}

/// The three global settings as JSON.
pub fn settings_json(s: &Settings) -> Value {
    json!({
        "oauth_enabled": s.oauth_enabled,
        "users_can_manage_secrets": s.users_can_manage_secrets,
        "allow_admin_users": s.allow_admin_users,
    })
}
