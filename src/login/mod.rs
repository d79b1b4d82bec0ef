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
    pub fn new(s: &LoginSettings, secure: bool, hasher: KeyedHash) -> Self {
        Self {
            state: LoginState::new(
                Duration::from_secs(s.session_ttl),
                Duration::from_secs(s.request_ttl),
                hasher,
            ),
            throttle: Throttle::new(
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

use argon2::{Argon2, PasswordHash, PasswordVerifier};

use crate::users::User;

/// Checks `password` against the user's argon2id hash off the async workers (it is slow on
/// purpose). Users without a hash cannot log in.
pub async fn password_matches(user: &Arc<User>, password: &str) -> bool {
    let Some(hash) = user.password_hash.clone() else {
        return false;
    };
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Dummy hash checked for unknown usernames, so they take as long as known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$qGsYk+Jk6/sOxoFAvjvTeg$iWpr4hZbqI8ZGwKcOlclBxvLvN3QuYd6sUzdEeNEsFI";

/// Whether `password` is the user's: argon2id against the users file, else the CRM (upstream
/// backend, told the `client` address). Unknown names cost as much time as known ones.
pub async fn check_password(
    gw: &crate::gateway::Gateway,
    username: &str,
    password: &str,
    client: Option<std::net::IpAddr>,
) -> Result<bool, String> {
    if let Some(user) = gw.directory.users().get(username).cloned() {
        return Ok(password_matches(&user, password).await);
    }
    if let Some(upstream) = &gw.upstream {
        return upstream
            .login(username, password, client)
            .await
            .map(|u| u.is_some())
            .map_err(|e| e.to_string());
    }
    let dummy = Arc::new(crate::users::User::dummy(DUMMY_HASH));
    let _ = password_matches(&dummy, password).await;
    Ok(false)
}
