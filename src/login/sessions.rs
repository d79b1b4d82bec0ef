//! In-memory state of the login page: sessions (a random id in an HttpOnly cookie naming the
//! logged-in user) and pending authorization requests (the validated parameters, waiting for
//! login and consent, with their CSRF token). Both expire; a restart means logging in again.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use moka::sync::Cache;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::token::scope::Scope;

/// Name of the session cookie.
pub const COOKIE: &str = "crmgate_session";

/// A validated authorization request waiting for the user.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The app.
    pub client_id: String,
    /// Where the answer goes.
    pub redirect_uri: String,
    /// The request named the redirect URI (it must then be repeated at the token endpoint).
    pub redirect_given: bool,
    /// Scope to grant.
    pub scope: Scope,
    /// The client's state, echoed back.
    pub state: Option<String>,
    /// S256 PKCE challenge.
    pub challenge: Option<String>,
    /// Anti-CSRF token of the forms.
    pub csrf: String,
}

/// A random URL-safe identifier of 256 bits.
pub fn random_id() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Constant-time comparison of two secrets.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Sessions and pending requests.
pub struct LoginState {
    sessions: Cache<String, Arc<str>>,
    pending: Cache<String, Arc<Pending>>,
}

impl LoginState {
    /// Sessions last `session_ttl`, requests `request_ttl`.
    pub fn new(session_ttl: Duration, request_ttl: Duration) -> Self {
        Self {
            sessions: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(session_ttl)
                .build(),
            pending: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(request_ttl)
                .build(),
        }
    }

    /// Starts a session for `user`; returns the cookie value.
    pub fn login(&self, user: &str) -> String {
        let id = random_id();
        self.sessions.insert(id.clone(), Arc::from(user));
        id
    }

    /// The user of a session cookie value.
    pub fn user(&self, session: &str) -> Option<Arc<str>> {
        self.sessions.get(session)
    }

    /// Ends a session.
    pub fn logout(&self, session: &str) {
        self.sessions.invalidate(session);
    }

    /// Remembers a request; returns its id.
    pub fn remember(&self, pending: Pending) -> String {
        let id = random_id();
        self.pending.insert(id.clone(), Arc::new(pending));
        id
    }

    /// The request `id`, if it has not expired.
    pub fn pending(&self, id: &str) -> Option<Arc<Pending>> {
        self.pending.get(id)
    }

    /// Forgets a request once answered.
    pub fn finish(&self, id: &str) {
        self.pending.invalidate(id);
    }
}
