//! The OAuth 2.0 endpoints the gateway serves itself. Each handler takes an [`OAuthRequest`]
//! (already read from the wire) and returns a [`Response`]; no I/O happens here beyond the store.

pub mod assertion;
pub mod authorize;
pub mod client_auth;
pub mod error;
pub mod form;
pub mod grants;
pub mod introspect;
pub mod metadata;
pub mod pkce;
pub mod revoke;
pub mod token;

use error::OAuthError;
use form::Form;

use crate::gateway::Gateway;
use crate::response::Response;

/// The parts of an HTTP request the OAuth endpoints look at.
#[derive(Debug, Clone, Copy)]
pub struct OAuthRequest<'a> {
    /// Request method.
    pub method: &'a str,
    /// Raw query string, if the URI had one.
    pub query: Option<&'a str>,
    /// Every `Authorization` header value.
    pub authorization: &'a [&'a [u8]],
    /// The `Content-Type` header value.
    pub content_type: Option<&'a [u8]>,
    /// The body.
    pub body: &'a [u8],
    /// The client's address.
    pub peer: Option<std::net::IpAddr>,
}

/// The checks every POST endpoint shares: POST only (405 otherwise), no parameters in the URI,
/// a form body, no repeated parameters.
pub fn read_form(req: &OAuthRequest<'_>) -> Result<Form, OAuthError> {
    if req.method != "POST" {
        return Err(OAuthError::invalid_request("use POST").status(405));
    }
    if req.query.is_some_and(|q| !q.is_empty()) {
        let msg = "parameters must be sent in the request body, not the URI";
        return Err(OAuthError::invalid_request(msg));
    }
    if !req.content_type.is_some_and(form::is_form_content_type) {
        let msg = "the body must be application/x-www-form-urlencoded";
        return Err(OAuthError::invalid_request(msg));
    }
    form::parse(req.body).map_err(|e| match e {
        form::FormError::Repeated(name) => {
            OAuthError::invalid_request(format!("parameter {name} is repeated"))
        }
        form::FormError::NotUtf8 => OAuthError::invalid_request("the body is not valid UTF-8"),
    })
}

/// An OAuth endpoint, as its requests are counted.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint {
    /// The token endpoint, with the grant type once it is known.
    Token(Option<grants::GrantType>),
    /// Revocation.
    Revoke,
    /// Introspection.
    Introspect,
}

impl Endpoint {
    /// The `endpoint` label.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Token(_) => "token",
            Endpoint::Revoke => "revoke",
            Endpoint::Introspect => "introspect",
        }
    }
}

/// Revocation or introspection (`endpoint`): the client authenticates and names one token.
pub async fn about_a_token(
    gw: &Gateway,
    throttle: &client_auth::ClientThrottle,
    endpoint: Endpoint,
    req: &OAuthRequest<'_>,
) -> Response {
    let outcome = match client_auth::token_request(gw, throttle, req).await {
        Ok((app, token)) if matches!(endpoint, Endpoint::Revoke) => {
            revoke::run(gw, &app, &token).await
        }
        Ok((app, token)) => introspect::run(gw, &app, &token).await,
        Err(e) => Err(e),
    };
    respond(gw, endpoint, outcome)
}

/// Turns an endpoint's outcome into its response, and is the one place that records what
/// happened: errors are logged with their reason (never a secret), every request is counted per
/// endpoint and outcome, and tokens issued per grant type.
pub fn respond(
    gw: &Gateway,
    endpoint: Endpoint,
    outcome: Result<Response, OAuthError>,
) -> Response {
    let name = endpoint.name();
    let resp = match outcome {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(endpoint = name, error = e.code.as_str(), reason = %e.detail, "oauth request refused");
            e.to_response()
        }
    };
    let ok = resp.status == 200;
    let issued = match endpoint {
        Endpoint::Token(Some(grant)) if ok => Some(grant.as_str()),
        _ => None,
    };
    gw.metrics.oauth_request(name, ok, issued);
    resp
}
