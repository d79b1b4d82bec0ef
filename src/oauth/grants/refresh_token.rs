//! The refresh token grant (RFC 6749 §6): only for apps with offline access, only while the app
//! is enabled and the user may still use it; the token rotates on every use.

use serde_json::json;

use std::sync::Arc;

use crate::access;
use crate::gateway::Gateway;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::form::Form;
use crate::registry::App;
use crate::response::Response;
use crate::token::record::{FamilyId, TokenKind};
use crate::token::refresh::{RefreshRequest, Refreshed};
use crate::token::scope::Scope;
use crate::users::User;

fn invalid_grant(detail: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, "the refresh token is invalid").detail(detail)
}

/// Exchanges a refresh token for a new access token and a new refresh token.
pub async fn grant(gw: &Gateway, app: &App, form: &Form) -> Result<Response, OAuthError> {
    let token = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let scope = match form.get("scope").map(Scope::parse) {
        None => None,
        Some(Ok(s)) => s,
        Some(Err(why)) => return Err(OAuthError::new(ErrorCode::InvalidScope, why)),
    };
    if !app.enabled {
        return Err(invalid_grant("the application is disabled"));
    }
    if !app.offline_access {
        return Err(invalid_grant("the application has no offline access"));
    }
    let (user, family) = match gw.tokens.peek(token).await.map_err(OAuthError::server)? {
        Some(rec) if rec.kind == TokenKind::Refresh => (rec.user.unwrap_or_default(), rec.family),
        _ => return Err(invalid_grant("unknown refresh token")),
    };
    let profile = current_user(gw, &user, family.as_ref()).await?;
    let reg = gw.directory.registry_full();
    if let Err(d) = access::user_allowed(app, &profile, &reg, true) {
        return Err(invalid_grant(d.as_str()));
    }
    let t = &gw.config.tokens;
    let req = RefreshRequest {
        token,
        client_id: &app.client_id,
        scope,
        access_ttl: t.access_token_ttl,
        refresh_ttl: t.refresh_token_ttl,
        grace: t.refresh_grace_seconds,
        profile: gw
            .is_upstream_user(&user)
            .then(|| (profile.admin, profile.groups.clone())),
    };
    match gw.tokens.refresh(&req).await.map_err(OAuthError::server)? {
        Refreshed::Issued {
            access,
            refresh,
            scope,
        } => {
            gw.metrics
                .tokens_issued
                .with_label_values(&["refresh_token"])
                .inc();
            let body = json!({
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": t.access_token_ttl,
                "scope": scope.as_str(),
                "refresh_token": refresh,
            });
            Ok(Response::json(200, &body).no_store())
        }
        Refreshed::WiderScope => {
            let msg = "the requested scope exceeds the granted one";
            Err(OAuthError::new(ErrorCode::InvalidScope, msg))
        }
        Refreshed::Reused => {
            tracing::warn!(client_id = %app.client_id, %user, "rotated refresh token reused; its grant was revoked");
            Err(invalid_grant("refresh token reused after rotation"))
        }
        Refreshed::Invalid(why) => Err(invalid_grant(why)),
        Refreshed::Expired => Err(OAuthError::new(
            ErrorCode::InvalidGrant,
            "the refresh token expired",
        )
        .detail("expired refresh token")),
    }
}

/// The user as they are now: the users file, or for CRM users a fresh look at the CRM with the
/// access key their grant keeps (a key the CRM no longer accepts ends the grant).
async fn current_user(
    gw: &Gateway,
    user: &str,
    family: Option<&FamilyId>,
) -> Result<Arc<User>, OAuthError> {
    if let Some(local) = gw.directory.users().get(user) {
        return Ok(local.clone());
    }
    let (Some(upstream), Some(family)) = (&gw.upstream, family) else {
        return Err(invalid_grant("the user no longer exists"));
    };
    let grant = gw.tokens.grant(family).await.map_err(OAuthError::server)?;
    let Some(known) = grant.as_ref().and_then(|g| gw.user_from_grant(g)) else {
        return Err(invalid_grant("the grant was revoked"));
    };
    let key = known.crm_access_key.clone().unwrap_or_default();
    match upstream.profile(user, &key).await {
        Ok(Some(fresh)) => Ok(fresh),
        Ok(None) => Err(invalid_grant(
            "the CRM no longer accepts the user's access key",
        )),
        Err(e) => {
            Err(OAuthError::new(ErrorCode::TemporarilyUnavailable, "try again later").detail(e))
        }
    }
}
