//! The OAuth 2.0 endpoints the gateway serves itself. Each handler takes an [`OAuthRequest`]
//! (already read from the wire) and returns a [`Response`]; no I/O happens here beyond the store.

pub mod assertion;
pub mod client_auth;
pub mod error;
pub mod form;
pub mod grants;
pub mod introspect;
pub mod metadata;
pub mod revoke;
pub mod token;

use error::OAuthError;
use form::Form;

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
}

/// The checks every POST endpoint shares: POST only (405 otherwise), no parameters in the URI,
/// a form body, no repeated parameters.
pub fn read_form(req: &OAuthRequest<'_>) -> Result<Form, Box<Response>> {
    if req.method != "POST" {
        let e = OAuthError::invalid_request("use POST").status(405);
        return Err(Box::new(e.to_response().header("Allow", "POST")));
    }
    let fail = |msg: &str| Box::new(OAuthError::invalid_request(msg).to_response());
    if req.query.is_some_and(|q| !q.is_empty()) {
        return Err(fail(
            "parameters must be sent in the request body, not the URI",
        ));
    }
    if !req.content_type.is_some_and(form::is_form_content_type) {
        return Err(fail("the body must be application/x-www-form-urlencoded"));
    }
    form::parse(req.body).map_err(|e| match e {
        form::FormError::Repeated(name) => fail(&format!("parameter {name} is repeated")),
        form::FormError::NotUtf8 => fail("the body is not valid UTF-8"),
    })
}

/// Logs an OAuth error with its reason (never a secret) and turns it into a response.
pub fn fail(endpoint: &'static str, e: &OAuthError) -> Response {
    tracing::info!(
        endpoint,
        error = e.code.as_str(),
        reason = %e.detail,
        "oauth request refused"
    );
    e.to_response()
}
