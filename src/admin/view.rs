//! Applications as the API shows them: the `[[apps]]` keys (never a secret), the token status
//! counts, and the icon inlined as a `data:` URI.

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

/// The icon file as a `data:` URI, when it is a PNG, JPEG or GIF of at most 1 MiB inside the
/// icons folder.
pub fn icon_data(app: &App) -> Option<String> {
    app.icon
        .as_ref()?
        .data_uri(super::icons::MAX_ICON_BYTES as u64)
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
