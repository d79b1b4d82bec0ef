//! The access decision for a protected request (RFC 6750): a live token, a user the app may act
//! as, and a scope that allows the operation. Allowed requests get a typed [`Permit`].

use std::sync::Arc;

use pingora::http::RequestHeader;
use serde_json::json;

use super::bearer::{self, BearerError};
use crate::access::{self, Grant};
use crate::config::UpstreamAuth;
use crate::gateway::Gateway;
use crate::metrics::ProxyOutcome;
use crate::oauth::error::ErrorCode;
use crate::operations::OpClass;
use crate::response::Response;
use crate::token::record::{TokenKind, TokenRecord};
use crate::token::service::Presented;

/// Permission to forward one request as one user.
#[derive(Debug)]
pub struct Permit {
    /// App, user and effective scope.
    pub grant: Grant,
    /// The operation.
    pub op: String,
}

/// A refused request: what the client is told and why (for the log).
#[derive(Debug)]
pub struct Refusal {
    /// The response.
    pub response: Response,
    /// Metric outcome.
    pub outcome: ProxyOutcome,
    /// Reason for the access log.
    pub reason: &'static str,
    /// Client, when a token was recognised.
    pub client_id: Option<String>,
    /// User, when the token was resolved to one.
    pub user: Option<String>,
}

/// The RFC 6750 §3 answer: the code and description as JSON and in a `Bearer` challenge (with
/// the `scope` the operation needs, for `insufficient_scope`).
fn bearer_error(code: ErrorCode, description: &str, scope: Option<&str>) -> Response {
    let error = code.as_str();
    let mut challenge =
        format!("Bearer realm=\"crmgate\", error=\"{error}\", error_description=\"{description}\"");
    if let Some(scope) = scope {
        challenge.push_str(&format!(", scope=\"{scope}\""));
    }
    let body = json!({ "error": error, "error_description": description });
    Response::json(code.status(), &body).header("WWW-Authenticate", challenge)
}

fn refuse(code: ErrorCode, description: &str, reason: &'static str) -> Refusal {
    let outcome = match code.status() {
        400 => ProxyOutcome::BadRequest,
        401 => ProxyOutcome::Unauthorized,
        403 => ProxyOutcome::Forbidden,
        _ => ProxyOutcome::Error,
    };
    Refusal {
        response: bearer_error(code, description, None),
        outcome,
        reason,
        client_id: None,
        user: None,
    }
}

/// True when the query carries a method override (`_method`, `x-http-method-override`): the
/// gateway decides by path, so nothing may ask the CRM to treat the call as another method.
fn overrides_method(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k == "_method" || k.replace('_', "-").ends_with("method-override")
        })
    })
}

impl From<super::framing::Problem> for Refusal {
    fn from(p: super::framing::Problem) -> Self {
        let error = if p.status == 405 {
            "method_not_allowed"
        } else {
            ErrorCode::InvalidRequest.as_str()
        };
        let body = json!({"error": error, "error_description": p.description});
        let mut response = Response::json(p.status, &body).no_store();
        if let Some(allow) = p.allow {
            response = response.header("Allow", allow);
        }
        Refusal {
            response,
            outcome: ProxyOutcome::BadRequest,
            reason: p.reason,
            client_id: None,
            user: None,
        }
    }
}

/// A 403 for the CRM's legacy APIs while `proxy.allow_legacy_webservice` is off.
pub fn legacy_api() -> Refusal {
    let description = "the CRM's legacy webservice API is disabled on this gateway \
        (proxy.allow_legacy_webservice); use the REST API with an OAuth token";
    let body = json!({"error": "access_denied", "error_description": description});
    Refusal {
        response: Response::json(403, &body).no_store(),
        outcome: ProxyOutcome::Forbidden,
        reason: "legacy api",
        client_id: None,
        user: None,
    }
}

/// A 400 for a protected path that is not written canonically.
pub fn non_canonical() -> Refusal {
    refuse(
        ErrorCode::InvalidRequest,
        "the request path is not canonical",
        "non-canonical path",
    )
}

/// Decides whether `req` (a protected path naming `op`) may go upstream.
pub async fn authorize(
    gw: &Gateway,
    req: &RequestHeader,
    op: Option<String>,
) -> Result<Permit, Box<Refusal>> {
    if overrides_method(req.uri.query()) {
        let msg = "method override parameters are not accepted";
        let r = refuse(ErrorCode::InvalidRequest, msg, "method override");
        return Err(Box::new(r));
    }
    let token = presented_token(req)?;
    let record = live_record(gw, token).await?;
    let from_grant = gw.identity.grant_user_of(&gw.tokens, &record).await;
    let grant = {
        let reg = gw.directory.registry();
        let users = gw.directory.users();
        access::resolve(&record, &reg, &gw.identity.token_users(&users, from_grant))
    };
    let grant = grant.map_err(|d| {
        Box::new(Refusal {
            client_id: Some(record.client_id.clone()),
            ..invalid_token(d.as_str())
        })
    })?;
    check_operation(gw, grant, op)
}

fn invalid_token(reason: &'static str) -> Refusal {
    refuse(
        ErrorCode::InvalidToken,
        "the access token is invalid",
        reason,
    )
}

/// The one Bearer token of the request (RFC 6750 §2.1), or the refusal for none or a malformed one.
fn presented_token(req: &RequestHeader) -> Result<&str, Box<Refusal>> {
    let auth = req.headers.get_all(http::header::AUTHORIZATION);
    let refusal = match bearer::extract(auth.iter().map(|v| v.as_bytes()), req.uri.query()) {
        Ok(t) => return Ok(t),
        Err(e @ BearerError::Missing) => refuse(ErrorCode::InvalidToken, e.describe(), "no token"),
        Err(e) => refuse(ErrorCode::InvalidRequest, e.describe(), "malformed token"),
    };
    Err(Box::new(refusal))
}

/// The record of a live access token, or the refusal for an unknown, revoked or expired one.
async fn live_record(gw: &Gateway, token: &str) -> Result<Arc<TokenRecord>, Box<Refusal>> {
    let refusal = match gw.tokens.check(token, TokenKind::Access).await {
        Ok(Presented::Live(r)) => return Ok(r),
        Ok(Presented::Expired) => refuse(
            ErrorCode::InvalidToken,
            "the access token expired",
            "expired token",
        ),
        Ok(Presented::Unknown) => invalid_token("unknown or revoked token"),
        Err(e) => {
            tracing::error!(error = %e, "token store lookup failed");
            let msg = "try again later";
            let r = refuse(ErrorCode::TemporarilyUnavailable, msg, "store error");
            Refusal {
                response: r.response.header("Retry-After", "1"),
                ..r
            }
        }
    };
    Err(Box::new(refusal))
}

fn check_operation(gw: &Gateway, grant: Grant, op: Option<String>) -> Result<Permit, Box<Refusal>> {
    let client_id = Some(grant.app.client_id.clone());
    let user = Some(grant.user.username.clone());
    let class = op
        .as_deref()
        .map_or(OpClass::Deny, |o| gw.config.proxy.operations.classify(o));
    let Some(access) = class.access() else {
        let r = refuse(
            ErrorCode::InsufficientScope,
            "this operation is not available",
            "denied op",
        );
        return Err(Box::new(Refusal {
            client_id,
            user,
            ..r
        }));
    };
    if !grant.scope.allows(access) {
        let needed = match access {
            crate::token::scope::Access::Read => "rest.all.read",
            crate::token::scope::Access::Write => "rest.all.write",
        };
        let desc = "the token's scope does not allow this operation";
        let mut r = refuse(ErrorCode::InsufficientScope, desc, "scope");
        r.response = bearer_error(ErrorCode::InsufficientScope, desc, Some(needed));
        return Err(Box::new(Refusal {
            client_id,
            user,
            ..r
        }));
    }
    if gw.config.upstream.auth == UpstreamAuth::Basic && grant.user.crm_access_key.is_none() {
        tracing::warn!(user = %grant.user.username, "user has no crm_access_key for upstream basic auth");
        let body = json!({"error": "bad_gateway", "error_description": "the gateway cannot act as this user"});
        return Err(Box::new(Refusal {
            response: Response::json(502, &body),
            outcome: ProxyOutcome::Error,
            reason: "no crm_access_key",
            client_id,
            user,
        }));
    }
    Ok(Permit {
        grant,
        op: op.unwrap_or_default(),
    })
}
