//! Grant types of the token endpoint: the [`GrantType`] enum names each one and dispatches to its
//! file, so a new grant type is one variant and one file, and the compiler names every match.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use super::error::OAuthError;
use super::form::Form;
use crate::gateway::Gateway;
use crate::registry::App;
use crate::response::Response;

/// A `grant_type` the token endpoint supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    /// RFC 6749 §4.1.3.
    AuthorizationCode,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 6749 §4.4 (service accounts).
    ClientCredentials,
}

impl GrantType {
    /// Every supported grant type, in the order the metadata lists them.
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    /// The grant type named `name`, if supported.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }

    /// Whether a disabled app may still use it: only a refresh, which answers `invalid_grant`
    /// itself (the app's tokens stay but cannot be renewed).
    pub fn checks_disabled_apps_itself(self) -> bool {
        self == GrantType::RefreshToken
    }

    /// Runs the grant for an authenticated `app`.
    pub async fn run(self, gw: &Gateway, app: &App, form: &Form) -> Result<Response, OAuthError> {
        match self {
            GrantType::AuthorizationCode => authorization_code::grant(gw, app, form).await,
            GrantType::RefreshToken => refresh_token::grant(gw, app, form).await,
            GrantType::ClientCredentials => client_credentials::grant(gw, app, form).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
        }
        assert_eq!(GrantType::parse("password"), None);
        assert_eq!(GrantType::parse("Client_Credentials"), None);
    }
}
