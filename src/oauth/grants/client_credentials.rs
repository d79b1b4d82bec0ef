//! The client credentials grant (RFC 6749 §4.4): a service account gets an access token that acts
//! as its bound CRM user.

use serde_json::json;

use crate::access::{self, Denied};
use crate::gateway::Gateway;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::form::Form;
use crate::registry::{App, ClientType};
use crate::response::Response;
use crate::token::record::{TokenKind, TokenRecord};
use crate::token::scope::Scope;

/// Issues an access token to an authenticated service account.
pub async fn grant(gw: &Gateway, app: &App, form: &Form) -> Result<Response, OAuthError> {
    if app.client_type != ClientType::ServiceAccount {
        let msg = "only service accounts may use client_credentials";
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, msg));
    }
    let requested = match form.get("scope").map(Scope::parse) {
        None => None,
        Some(Ok(s)) => s,
        Some(Err(why)) => return Err(OAuthError::new(ErrorCode::InvalidScope, why)),
    };
    if requested.is_some_and(|s| !app.scope.contains(s)) {
        let msg = format!("the application may be granted at most {}", app.scope);
        return Err(OAuthError::new(ErrorCode::InvalidScope, msg));
    }
    let reg = gw.directory.registry_full();
    let username = app.user.as_deref().unwrap_or_default();
    let allowed = gw
        .identity
        .bound_user(app)
        .ok_or(Denied::UnknownUser)
        .and_then(|u| access::user_allowed(app, &u, &reg, false));
    if let Err(denied) = allowed {
        let msg = match denied {
            Denied::AdminUser => {
                "the bound user is an administrator and admin users are not allowed"
            }
            _ => "the bound user is not available",
        };
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, msg).detail(denied.as_str()));
    }
    let now = gw.clock.now();
    let ttl = gw.config.tokens.access_token_ttl;
    let record = TokenRecord {
        kind: TokenKind::Access,
        client_id: app.client_id.clone(),
        user: None,
        scope: requested,
        issued_at: now,
        expires_at: now + ttl,
        family: None,
        rotated: None,
    };
    let token = gw.tokens.issue(record).await.map_err(OAuthError::store)?;
    tracing::info!(client_id = %app.client_id, user = username, "access token issued");
    let body = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": requested.unwrap_or(app.scope).as_str(),
    });
    Ok(Response::json(200, &body).no_store())
}
