//! CORS for browser apps (a Single Page App calls the token and revocation endpoints and the
//! REST API from the browser): only the origins of registered, enabled `native_app` redirect
//! URIs get access; everyone else gets no CORS headers at all.

use pingora::http::ResponseHeader;

use crate::registry::Registry;
use crate::response::Response;

/// Methods allowed cross-origin.
const METHODS: &str = "POST, GET";
/// Request headers allowed cross-origin.
const HEADERS: &str = "Authorization, Content-Type";

/// The request's `Origin` if the registry lets it in.
pub fn allowed<'a>(reg: &Registry, origin: Option<&'a str>) -> Option<&'a str> {
    origin.filter(|o| reg.cors_origins.contains(*o))
}

/// The answer to a preflight from `origin` (`None`: not allowed, no CORS headers).
pub fn preflight(origin: Option<&str>) -> Response {
    let resp = Response::empty(204).header("Vary", "Origin");
    match origin {
        Some(o) => resp
            .header("Access-Control-Allow-Origin", o)
            .header("Access-Control-Allow-Methods", METHODS)
            .header("Access-Control-Allow-Headers", HEADERS)
            .header("Access-Control-Max-Age", "600"),
        None => resp,
    }
}

/// Adds the CORS headers of an allowed origin to a gateway response.
pub fn decorate(resp: Response, origin: Option<&str>) -> Response {
    match origin {
        Some(o) => resp
            .header("Access-Control-Allow-Origin", o)
            .header("Access-Control-Expose-Headers", "WWW-Authenticate")
            .header("Vary", "Origin"),
        None => resp,
    }
}

/// Adds the CORS headers of an allowed origin to a response from the CRM.
pub fn decorate_upstream(resp: &mut ResponseHeader, origin: &str) {
    let _ = resp.insert_header("Access-Control-Allow-Origin", origin);
    let _ = resp.insert_header("Access-Control-Expose-Headers", "WWW-Authenticate");
    let _ = resp.append_header("Vary", "Origin");
}
