//! The token endpoint (RFC 6749 §3.2): reads the form, authenticates the client, dispatches on
//! `grant_type`.

use super::client_auth;
use super::error::{ErrorCode, OAuthError};
use super::{OAuthRequest, grants, read_form, respond};
use crate::gateway::Gateway;
use crate::response::Response;

const ENDPOINT: &str = "token";

/// Handles a token request.
pub async fn handle(gw: &Gateway, req: &OAuthRequest<'_>) -> Response {
    respond(gw, ENDPOINT, run(gw, req).await)
}

async fn run(gw: &Gateway, req: &OAuthRequest<'_>) -> Result<Response, OAuthError> {
    let form = read_form(req)?;
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?;
    if !matches!(
        grant_type,
        "client_credentials" | "authorization_code" | "refresh_token"
    ) {
        let msg = format!("grant_type {grant_type} is not supported");
        return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, msg));
    }
    if !gw.directory.registry().settings.oauth_enabled {
        let msg = "OAuth2 access is disabled on this gateway";
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, msg));
    }
    let creds = client_auth::credentials(req, &form)?;
    let app = client_auth::authenticate(gw, creds, req.peer).await?;
    match grant_type {
        "refresh_token" => grants::refresh_token::grant(gw, &app, &form).await,
        _ if !app.enabled => Err(client_auth::disabled(&app)),
        "authorization_code" => grants::authorization_code::grant(gw, &app, &form).await,
        _ => grants::client_credentials::grant(gw, &app, &form).await,
    }
}
