//! Validation of an authorization request (RFC 6749 §4.1.1, §4.1.2.1, RFC 7636 §4.3). Problems
//! with the client or the redirect URI are shown on a page and never redirected (no open
//! redirect); every later problem goes back to the redirect URI with `state`. The redirect URI
//! is a registered one, or for a native app a loopback IP one with another port (RFC 8252
//! §7.3, see [`crate::registry::redirect`]); the answer goes to the URI the request named.

use std::sync::Arc;

use super::i18n::Text;
use crate::keys::Digest;
use crate::login::sessions::{Pending, random_id};
use crate::oauth::form::Form;
use crate::oauth::pkce;
use crate::registry::{App, ClientType, Registry};
use crate::token::scope::Scope;

/// Why a request cannot proceed.
#[derive(Debug)]
pub enum Invalid {
    /// Show an error page: the client or redirect URI cannot be trusted.
    Page {
        /// HTTP status.
        status: u16,
        /// Message for the user.
        message: &'static str,
    },
    /// Send the error to the client's redirect URI.
    Redirect {
        /// The registered redirect URI.
        redirect_uri: String,
        /// RFC 6749 §4.1.2.1 code.
        error: &'static str,
        /// Short description.
        description: &'static str,
        /// The client's state.
        state: Option<String>,
    },
}

/// The app and redirect URI of a request, once both are trusted.
pub fn client_and_redirect(
    reg: &Registry,
    form: &Form,
    t: &'static Text,
) -> Result<(Arc<App>, String), Invalid> {
    let page = |status, message| Invalid::Page { status, message };
    let app = form
        .get("client_id")
        .and_then(|id| reg.app(id))
        .ok_or(page(400, &t.unknown_app))?;
    let redirect_uri = match form.get("redirect_uri") {
        Some(uri) if app.accepts_redirect(uri) => uri.to_string(),
        Some(_) => return Err(page(400, &t.bad_redirect)),
        None => match app.redirect_uris.as_slice() {
            [only] => only.clone(),
            _ => return Err(page(400, &t.bad_redirect)),
        },
    };
    if !reg.settings.oauth_enabled {
        return Err(page(403, &t.oauth_disabled));
    }
    if !app.enabled {
        return Err(page(403, &t.app_disabled));
    }
    Ok((app.clone(), redirect_uri))
}

/// Checks the rest of the request against a trusted app and redirect URI; the request is bound
/// to the browser whose pre-login cookie hashes to `browser`.
pub fn validate(
    app: &App,
    redirect_uri: String,
    form: &Form,
    browser: Digest,
) -> Result<Pending, Invalid> {
    let state = form.get("state").map(str::to_string);
    let fail = |(error, description)| Invalid::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description,
        state: state.clone(),
    };
    if app.client_type == ClientType::ServiceAccount {
        return Err(fail((
            "unauthorized_client",
            "service accounts use client_credentials",
        )));
    }
    match form.get("response_type") {
        Some("code") => {}
        None => return Err(fail(("invalid_request", "response_type is missing"))),
        Some(_) => {
            return Err(fail((
                "unsupported_response_type",
                "only response_type=code",
            )));
        }
    }
    let scope = match form.get("scope").map(Scope::parse) {
        None | Some(Ok(None)) => app.scope,
        Some(Ok(Some(s))) if app.scope.contains(s) => s,
        _ => {
            return Err(fail((
                "invalid_scope",
                "the requested scope is not available",
            )));
        }
    };
    let challenge = challenge(app, form).map_err(fail)?;
    Ok(Pending {
        client_id: app.client_id.clone(),
        redirect_given: form.has("redirect_uri"),
        redirect_uri,
        scope,
        state,
        challenge,
        csrf: random_id(),
        browser,
    })
}

/// The PKCE challenge of an authorization request (RFC 7636 §4.3): S256 only, mandatory for
/// native apps; the RFC 6749 error code and description of what is wrong otherwise.
fn challenge(app: &App, form: &Form) -> Result<Option<String>, (&'static str, &'static str)> {
    let invalid = |description| Err(("invalid_request", description));
    match (
        form.get("code_challenge"),
        form.get("code_challenge_method"),
    ) {
        (None, None) if app.client_type == ClientType::NativeApp => {
            invalid("PKCE (S256) is required")
        }
        (None, None) => Ok(None),
        (None, Some(_)) => invalid("code_challenge is missing"),
        (Some(_), Some(m)) if m != "S256" => invalid("only code_challenge_method=S256"),
        (Some(_), None) => invalid("code_challenge_method=S256 is required"),
        (Some(c), Some(_)) if !pkce::valid_challenge(c) => invalid("malformed code_challenge"),
        (Some(c), Some(_)) => Ok(Some(c.to_string())),
    }
}

/// `redirect_uri` with the given parameters added to its query (form-encoded, so `state`
/// comes back byte for byte), plus `iss` (RFC 9207).
pub fn redirect_with(redirect_uri: &str, issuer: &str, params: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_string();
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        q.append_pair("iss", issuer);
    }
    url.to_string()
}

/// The origin (`scheme://host[:port]`) of a redirect URI, for the consent form's CSP.
pub fn origin(redirect_uri: &str) -> String {
    url::Url::parse(redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .ok()
        .filter(|o| o != "null")
        .unwrap_or_else(|| {
            redirect_uri
                .split(':')
                .next()
                .map(|s| format!("{s}:"))
                .unwrap_or_default()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_keep_existing_query_and_encode_state() {
        let r = redirect_with(
            "https://app.example/cb?x=1",
            "https://gw",
            &[("code", "c"), ("state", "a b&c=d")],
        );
        assert_eq!(
            r,
            "https://app.example/cb?x=1&code=c&state=a+b%26c%3Dd&iss=https%3A%2F%2Fgw"
        );
        assert_eq!(
            origin("https://app.example:8443/cb"),
            "https://app.example:8443"
        );
        assert_eq!(origin("com.example.app:/cb"), "com.example.app:");
    }
}
