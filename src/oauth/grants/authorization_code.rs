//! The authorization code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6): the code
//! is checked against the client, redirect URI, expiry and PKCE verifier, then redeemed in one
//! atomic step. A code presented again revokes every token issued from it.

use serde_json::json;

use crate::access;
use crate::gateway::Gateway;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::form::Form;
use crate::oauth::pkce;
use crate::registry::{App, ClientType};
use crate::response::Response;
use crate::token::codes::{CodeRecord, Redeemed};
use crate::token::grants::GrantRecord;
use crate::token::record::{TokenKind, TokenRecord};

fn invalid_grant(detail: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, "the authorization code is invalid").detail(detail)
}

/// Exchanges a code for tokens.
pub async fn grant(gw: &Gateway, app: &App, form: &Form) -> Result<Response, OAuthError> {
    if app.client_type == ClientType::ServiceAccount {
        let msg = "service accounts use client_credentials";
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, msg));
    }
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let Some(stored) = gw.tokens.code(code).await.map_err(OAuthError::store)? else {
        return Err(invalid_grant("unknown code"));
    };
    let rec = stored.record.clone();
    if rec.used {
        let revoked = gw
            .tokens
            .revoke_family(&rec.family)
            .await
            .map_err(OAuthError::store)?;
        tracing::warn!(client_id = %rec.client_id, user = %rec.user, revoked, "authorization code replayed; its tokens were revoked");
        return Err(invalid_grant("code already used"));
    }
    check(gw, app, &rec, form)?;
    let (access, refresh, grant) = records(gw, app, &rec);
    let redeemed = gw
        .tokens
        .redeem_code(code, stored, &access, refresh.as_ref(), &grant)
        .await
        .map_err(OAuthError::store)?;
    let Redeemed::Issued {
        access: token,
        refresh,
    } = redeemed
    else {
        gw.tokens
            .revoke_family(&rec.family)
            .await
            .map_err(OAuthError::store)?;
        return Err(invalid_grant("code redeemed concurrently"));
    };
    tracing::info!(client_id = %rec.client_id, user = %rec.user, "authorization code redeemed");
    Ok(answer(gw, &rec, &token, refresh.as_deref()))
}

/// The access token, the refresh token (with offline access) and the grant a code becomes.
fn records(
    gw: &Gateway,
    app: &App,
    rec: &CodeRecord,
) -> (TokenRecord, Option<TokenRecord>, GrantRecord) {
    let now = gw.clock.now();
    let access = TokenRecord {
        kind: TokenKind::Access,
        client_id: rec.client_id.clone(),
        user: Some(rec.user.clone()),
        scope: Some(rec.scope),
        issued_at: now,
        expires_at: now + gw.config.tokens.access_token_ttl,
        family: Some(rec.family),
        rotated: None,
    };
    let offline = rec.offline && app.offline_access;
    let refresh = offline.then(|| TokenRecord {
        kind: TokenKind::Refresh,
        expires_at: now + gw.config.tokens.refresh_token_ttl,
        ..access.clone()
    });
    let grant = GrantRecord {
        client_id: rec.client_id.clone(),
        user: rec.user.clone(),
        scope: rec.scope,
        offline,
        created_at: now,
        profile: rec.profile.clone(),
    };
    (access, refresh, grant)
}

/// The token response.
fn answer(gw: &Gateway, rec: &CodeRecord, token: &str, refresh: Option<&str>) -> Response {
    let mut body = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": gw.config.tokens.access_token_ttl,
        "scope": rec.scope.as_str(),
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    Response::json(200, &body).no_store()
}

/// Everything a code must satisfy besides being unused.
fn check(gw: &Gateway, app: &App, rec: &CodeRecord, form: &Form) -> Result<(), OAuthError> {
    if rec.client_id != app.client_id {
        return Err(invalid_grant("code issued to another client"));
    }
    if gw.clock.now() >= rec.expires_at {
        let e = OAuthError::new(ErrorCode::InvalidGrant, "the authorization code expired");
        return Err(e.detail("code expired"));
    }
    let sent = form.get("redirect_uri");
    let redirect_ok = match (&rec.redirect_uri, sent) {
        (Some(at_authorize), Some(now)) => at_authorize == now,
        (Some(_), None) => false,
        (None, None) => true,
        (None, Some(now)) => app.redirect_uris.iter().any(|u| u == now),
    };
    if !redirect_ok {
        return Err(invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    match (&rec.challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce::verify(verifier, challenge) => {}
        (Some(_), Some(_)) => return Err(invalid_grant("wrong or malformed code_verifier")),
        (Some(_), None) => return Err(invalid_grant("code_verifier missing")),
        (None, Some(_)) => return Err(invalid_grant("code_verifier without a code_challenge")),
        (None, None) => {}
    }
    let reg = gw.directory.registry();
    let user = gw
        .identity
        .user_of_code(rec)
        .ok_or_else(|| invalid_grant("the user no longer exists"))?;
    access::user_allowed(app, &user, &reg, true).map_err(|d| invalid_grant(d.as_str()))
}
