//! Authorization server metadata (RFC 8414) at `/.well-known/oauth-authorization-server`.

use serde_json::json;

use crate::gateway::Gateway;
use crate::response::Response;
use crate::token::scope::SCOPE_NAMES;

/// The metadata document.
pub fn handle(gw: &Gateway) -> Response {
    let e = &gw.endpoints;
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ];
    let body = json!({
        "issuer": e.issuer,
        "authorization_endpoint": e.authorize,
        "token_endpoint": e.token,
        "revocation_endpoint": e.revoke,
        "introspection_endpoint": e.introspect,
        "grant_types_supported": super::grants::GrantType::ALL.map(|g| g.as_str()),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": SCOPE_NAMES,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
    });
    Response::json(200, &body).header("Cache-Control", "max-age=300")
}
