//! Token revocation (RFC 7009): an authenticated client revokes one of its own tokens; unknown,
//! expired or already revoked tokens answer 200; another client's token is refused and stays.

use super::client_auth::{self, ClientThrottle};
use super::error::{ErrorCode, OAuthError};
use super::{Endpoint, OAuthRequest, read_form, respond};
use crate::gateway::Gateway;
use crate::response::Response;

/// Handles a revocation request.
pub async fn handle(gw: &Gateway, throttle: &ClientThrottle, req: &OAuthRequest<'_>) -> Response {
    respond(gw, Endpoint::Revoke, run(gw, throttle, req).await)
}

async fn run(
    gw: &Gateway,
    throttle: &ClientThrottle,
    req: &OAuthRequest<'_>,
) -> Result<Response, OAuthError> {
    let form = read_form(req)?;
    let creds = client_auth::credentials(req, &form)?;
    let app = client_auth::authenticate(gw, throttle, creds, req.peer).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
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
