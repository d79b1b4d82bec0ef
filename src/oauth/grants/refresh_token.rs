//! The refresh token grant (RFC 6749 §6): only for apps with offline access, only while the app
//! is enabled and the user may still use it; the token rotates on every use.

use std::sync::Arc;

use serde_json::json;

use crate::access;
use crate::gateway::Gateway;
use crate::identity::Gone;
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
    let (user, family) = match gw.tokens.peek(token).await.map_err(OAuthError::store)? {
        Some(rec) if rec.kind == TokenKind::Refresh => (rec.user.unwrap_or_default(), rec.family),
        _ => return Err(invalid_grant("unknown refresh token")),
    };
    let profile = current_user(gw, app, &user, family.as_ref()).await?;
    let t = &gw.config.tokens;
    let req = RefreshRequest {
        token,
        client_id: &app.client_id,
        scope,
        access_ttl: t.access_token_ttl,
        refresh_ttl: t.refresh_token_ttl,
        grace: t.refresh_grace_seconds,
        profile: gw.identity.refreshed_profile(&profile),
    };
    let refreshed = gw.tokens.refresh(&req).await.map_err(OAuthError::store)?;
    answer(gw, app, &user, refreshed)
}

/// The user as they are now ([`crate::identity::Identity::current_user`]), if `app` may still act
/// for them.
async fn current_user(
    gw: &Gateway,
    app: &App,
    user: &str,
    family: Option<&FamilyId>,
) -> Result<Arc<User>, OAuthError> {
    let profile = gw
        .identity
        .current_user(&gw.tokens, user, family)
        .await
        .map_err(|gone| match gone {
            Gone::Ended(why) => invalid_grant(why),
            Gone::Unavailable(e) => {
                OAuthError::new(ErrorCode::TemporarilyUnavailable, "try again later").detail(e)
            }
        })?;
    let reg = gw.directory.registry_full();
    if let Err(d) = access::user_allowed(app, &profile, &reg, true) {
        return Err(invalid_grant(d.as_str()));
    }
    Ok(profile)
}

/// The token response, or the error, for what the refresh came to.
fn answer(
    gw: &Gateway,
    app: &App,
    user: &str,
    refreshed: Refreshed,
) -> Result<Response, OAuthError> {
    let t = &gw.config.tokens;
    match refreshed {
        Refreshed::Issued {
            access,
            refresh,
            scope,
        } => {
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
