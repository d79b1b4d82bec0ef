//! OAuth errors: one enum of the RFC 6749 §5.2 / RFC 7009 codes, and the one function that turns
//! an error into status, headers and JSON body. The client gets the code and a short description;
//! the exact reason goes to the log only.

use serde_json::json;

use crate::response::Response;

/// Error codes of RFC 6749 §5.2, RFC 7009 §2.2.1 and, for the protected REST API, RFC 6750 §3.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// "The request is missing a required parameter, includes an unsupported parameter value
    /// (other than grant type), repeats a parameter, includes multiple credentials, ..."
    InvalidRequest,
    /// "Client authentication failed (e.g., unknown client, no client authentication included,
    /// or unsupported authentication method)."
    InvalidClient,
    /// "The provided authorization grant ... or refresh token is invalid, expired, revoked, ..."
    InvalidGrant,
    /// "The authenticated client is not authorized to use this authorization grant type."
    UnauthorizedClient,
    /// "The authorization grant type is not supported by the authorization server."
    UnsupportedGrantType,
    /// "The requested scope is invalid, unknown, malformed, or exceeds the scope granted."
    InvalidScope,
    /// RFC 7009: "The authorization server does not support the revocation of the presented
    /// token type."
    UnsupportedTokenType,
    /// RFC 6749 §4.1.2.1: the server met an unexpected condition (here: the store failed).
    ServerError,
    /// RFC 6749 §4.1.2.1: temporarily unable to handle the request.
    TemporarilyUnavailable,
    /// RFC 6750 §3.1: "The access token provided is expired, revoked, malformed, or invalid for
    /// other reasons."
    InvalidToken,
    /// RFC 6750 §3.1: "The request requires higher privileges than provided by the access token."
    InsufficientScope,
}

impl ErrorCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
        }
    }

    /// The HTTP status that goes with the code (400 unless an RFC says otherwise).
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope => 403,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// An OAuth error response to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The RFC code.
    pub code: ErrorCode,
    /// What the client is told.
    pub description: String,
    /// Why, for the log only.
    pub detail: String,
    /// HTTP status (400 unless the RFC says otherwise).
    pub status: u16,
    /// The client tried HTTP Basic: answer with a Basic challenge (RFC 6749 §5.2).
    pub basic_challenge: bool,
    /// Seconds to send as `Retry-After` (throttling).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    /// An error with the usual status for `code`.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        let status = code.status();
        let description = description.into();
        Self {
            code,
            detail: description.clone(),
            description,
            status,
            basic_challenge: false,
            retry_after: None,
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client` with a generic description; `detail` is logged.
    pub fn invalid_client(detail: impl Into<String>) -> Self {
        let detail: String = detail.into();
        Self::new(ErrorCode::InvalidClient, "client authentication failed").detail(detail)
    }

    /// For a store failure: `temporarily_unavailable` (503, `Retry-After: 1`) when the store
    /// could not be reached or could not make the write durable, so the client retries;
    /// `server_error` (500) for damaged records. The error itself is logged only.
    pub fn store(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::Backend(_) | StoreError::Flush(_) => {
                Self::new(ErrorCode::TemporarilyUnavailable, "try again later")
                    .detail(e)
                    .retry_after(1)
            }
            StoreError::Corrupt(_) | StoreError::Damaged(_) => {
                Self::new(ErrorCode::ServerError, "the request could not be completed").detail(e)
            }
        }
    }

    /// Sets the log-only reason.
    pub fn detail(mut self, detail: impl std::fmt::Display) -> Self {
        self.detail = detail.to_string();
        self
    }

    /// Sets `Retry-After`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Sets the status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The JSON response, `no-store`, with a Basic challenge when due.
    pub fn to_response(&self) -> Response {
        let body = json!({
            "error": self.code.as_str(),
            "error_description": sanitize_description(&self.description),
        });
        let mut resp = Response::json(self.status, &body).no_store();
        if self.status == 405 {
            resp = resp.header("Allow", "POST");
        }
        if let Some(secs) = self.retry_after {
            resp = resp.header("Retry-After", secs.to_string());
        }
        if self.basic_challenge || (self.status == 401 && self.code == ErrorCode::InvalidClient) {
            resp = resp.header(
                "WWW-Authenticate",
                "Basic realm=\"crmgate\", charset=\"UTF-8\"",
            );
        }
        resp
    }
}

/// Keeps `error_description` within RFC 6749's `%x20-21 / %x23-5B / %x5D-7E`, so input echoed into
/// it can never break out of the JSON string or carry control characters.
pub fn sanitize_description(s: &str) -> String {
    s.chars()
        .take(200)
        .map(|c| match c {
            '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e' => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_stay_in_the_rfc_charset() {
        assert_eq!(sanitize_description("a\"b\\c\nd\u{e9}"), "a?b?c?d?");
    }

    #[test]
    fn invalid_client_is_401_with_challenge_and_no_store() {
        let r = OAuthError::invalid_client("unknown client x").to_response();
        assert_eq!(r.status, 401);
        assert_eq!(r.get("Cache-Control"), Some("no-store"));
        assert!(r.get("WWW-Authenticate").unwrap().starts_with("Basic"));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["error"], "invalid_client");
        assert!(!body.to_string().contains("unknown client x"));
    }
}
