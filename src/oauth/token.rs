//! The token endpoint (RFC 6749 §3.2): reads the form, authenticates the client, dispatches on
//! `grant_type` ([`GrantType`]).

use super::client_auth::{self, ClientThrottle};
use super::error::{ErrorCode, OAuthError};
use super::form::Form;
use super::grants::GrantType;
use super::{Endpoint, OAuthRequest, read_form, respond};
use crate::gateway::Gateway;
use crate::response::Response;

/// Handles a token request.
pub async fn handle(gw: &Gateway, throttle: &ClientThrottle, req: &OAuthRequest<'_>) -> Response {
    let (grant, outcome) = match grant_type(req) {
        Ok((form, grant)) => (Some(grant), issue(gw, throttle, req, &form, grant).await),
        Err(e) => (None, Err(e)),
    };
    respond(gw, Endpoint::Token(grant), outcome)
}

/// The form and its supported `grant_type`.
fn grant_type(req: &OAuthRequest<'_>) -> Result<(Form, GrantType), OAuthError> {
    let form = read_form(req)?;
    let name = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?;
    let Some(grant) = GrantType::parse(name) else {
        let msg = format!("grant_type {name} is not supported");
        return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, msg));
    };
    Ok((form, grant))
}

async fn issue(
    gw: &Gateway,
    throttle: &ClientThrottle,
    req: &OAuthRequest<'_>,
    form: &Form,
    grant: GrantType,
) -> Result<Response, OAuthError> {
    if !gw.directory.registry().settings.oauth_enabled {
        let msg = "OAuth2 access is disabled on this gateway";
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, msg));
    }
    let creds = client_auth::credentials(req, form)?;
    let app = client_auth::authenticate(gw, throttle, creds, req.peer).await?;
    if !app.enabled && !grant.checks_disabled_apps_itself() {
        return Err(client_auth::disabled(&app));
    }
    grant.run(gw, &app, form).await
}
