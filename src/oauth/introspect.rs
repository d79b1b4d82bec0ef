//! Token introspection (RFC 7662): an authenticated client learns whether one of its own tokens
//! is active now. Anything else (unknown, expired, revoked, another client's, or no longer usable
//! because the app, user or global switches changed) is `{"active": false}`.

use serde_json::json;

use super::error::OAuthError;
use crate::access;
use crate::gateway::Gateway;
use crate::registry::App;
use crate::response::Response;
use crate::token::record::{self, TokenKind};

/// Describes `token` to the authenticated `app`.
pub async fn run(gw: &Gateway, app: &App, token: &str) -> Result<Response, OAuthError> {
    let inactive = Response::json(200, &json!({ "active": false })).no_store();
    let Some(kind) = record::kind_of(token) else {
        return Ok(inactive);
    };
    let Some(rec) = gw
        .tokens
        .lookup(token, kind)
        .await
        .map_err(OAuthError::store)?
    else {
        return Ok(inactive);
    };
    if rec.client_id != app.client_id {
        return Ok(inactive);
    }
    let from_grant = gw.identity.grant_user_of(&gw.tokens, &rec).await;
    let reg = gw.directory.registry();
    let users = gw.directory.users();
    let Ok(grant) = access::resolve(&rec, &reg, &gw.identity.token_users(&users, from_grant))
    else {
        return Ok(inactive);
    };
    let mut body = json!({
        "active": true,
        "scope": grant.scope.as_str(),
        "client_id": rec.client_id,
        "username": grant.user.username,
        "sub": grant.user.username,
        "exp": rec.expires_at,
        "iat": rec.issued_at,
        "iss": gw.endpoints.issuer,
    });
    if kind == TokenKind::Access {
        body["token_type"] = json!("Bearer");
    }
    Ok(Response::json(200, &body).no_store())
}
