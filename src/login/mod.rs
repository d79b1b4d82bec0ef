//! Logging users in at the gateway (authorization code flow): password checks, sessions,
//! pending authorization requests and their browser binding, throttling, and the cookies.

pub mod sessions;
pub mod throttle;

use std::sync::Arc;
use std::time::Duration;

use sessions::LoginState;
use throttle::Throttle;

use crate::config::LoginSettings;
use crate::keys::KeyedHash;
use crate::store::ephemeral::Ephemeral;

/// The login page's state: sessions, pending requests, throttling.
pub struct Login {
    /// Sessions and pending requests.
    pub state: LoginState,
    /// Failed-login counters.
    pub throttle: Throttle,
    session_ttl: u64,
    request_ttl: u64,
    secure: bool,
}

impl Login {
    /// Login state per the config; cookies are `Secure` when the public URL is https, their
    /// values are kept as keyed hashes under `hasher`.
    pub fn new(
        s: &LoginSettings,
        secure: bool,
        hasher: KeyedHash,
        store: Arc<dyn Ephemeral>,
    ) -> Self {
        Self {
            state: LoginState::new(
                Duration::from_secs(s.session_ttl),
                Duration::from_secs(s.request_ttl),
                hasher,
                store.clone(),
            ),
            throttle: Throttle::new(
                store,
                throttle::LOGINS,
                s.failures_per_user,
                s.failures_per_ip,
                Duration::from_secs(s.throttle_seconds),
            ),
            session_ttl: s.session_ttl,
            request_ttl: s.request_ttl,
            secure,
        }
    }

    /// The `Set-Cookie` value for a new session.
    pub fn cookie(&self, session: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={session}; Path=/oauth2/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            sessions::COOKIE,
            self.session_ttl
        )
    }

    /// The `Set-Cookie` value of the pre-login cookie: sent only to the authorization endpoint,
    /// and lasting as long as the request just started may wait.
    pub fn browser_cookie(&self, value: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={value}; Path={}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            sessions::BROWSER_COOKIE,
            crate::gateway::paths::AUTHORIZE,
            self.request_ttl
        )
    }
}
