//! Token revocation (RFC 7009): an authenticated client revokes one of its own tokens; unknown,
//! expired or already revoked tokens answer 200; another client's token is refused and stays.

use super::error::{ErrorCode, OAuthError};
use crate::gateway::Gateway;
use crate::registry::App;
use crate::response::Response;

/// Revokes `token` for the authenticated `app`.
pub async fn run(gw: &Gateway, app: &App, token: &str) -> Result<Response, OAuthError> {
    // RFC 7009 §2.1: an unknown or invalid token_type_hint is ignored; we look the token up by
    // its own prefix anyway.
    let unavailable = |e| OAuthError::new(ErrorCode::TemporarilyUnavailable, "try again").detail(e);
    let Some(record) = gw.tokens.peek(token).await.map_err(unavailable)? else {
        return Ok(Response::empty(200).no_store());
    };
    if record.client_id != app.client_id {
        let msg = "the token was not issued to this client";
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, msg));
    }
    gw.tokens.revoke(token).await.map_err(unavailable)?;
    tracing::info!(client_id = %app.client_id, kind = record.kind.hint(), "token revoked");
    Ok(Response::empty(200).no_store())
}
