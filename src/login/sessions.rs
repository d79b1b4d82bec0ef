//! In-memory state of the login page: sessions (a random id in an HttpOnly cookie naming the
//! logged-in user) and pending authorization requests (the validated parameters, waiting for
//! login and consent, with their CSRF token). A pending request is bound to the browser that
//! started it (a keyed hash of its pre-login cookie) and, once someone signs in through it, to
//! that session (a keyed hash of the session cookie); cookie values are kept only as such
//! hashes. Everything expires; a restart means logging in again.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use moka::sync::Cache;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::keys::{Digest, KeyedHash};
use crate::token::scope::Scope;

/// Name of the session cookie.
pub const COOKIE: &str = "crmgate_session";

/// Name of the pre-login cookie that binds pending requests to a browser.
pub const BROWSER_COOKIE: &str = "crmgate_browser";

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
    /// Keyed hash of the pre-login cookie of the browser that started the request.
    pub browser: Digest,
}

/// A random URL-safe identifier of 256 bits.
pub fn random_id() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Whether `value` has the form of a [`random_id`] (43 base64url characters).
pub fn is_random_id(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Constant-time comparison of two secrets.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn cache<K, V>(ttl: Duration) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(100_000)
        .time_to_live(ttl)
        .build()
}

/// Sessions and pending requests, keyed by hashes of the cookie values.
pub struct LoginState {
    hasher: KeyedHash,
    sessions: Cache<Digest, Arc<str>>,
    pending: Cache<String, Arc<Pending>>,
    /// The session each pending request was signed in with (or shown with).
    bound: Cache<String, Digest>,
}

impl LoginState {
    /// Sessions last `session_ttl`, requests `request_ttl`; cookie values are keyed with `hasher`.
    pub fn new(session_ttl: Duration, request_ttl: Duration, hasher: KeyedHash) -> Self {
        Self {
            hasher,
            sessions: cache(session_ttl),
            pending: cache(request_ttl),
            bound: cache(request_ttl),
        }
    }

    /// The keyed hash of a cookie value.
    pub fn digest(&self, cookie: &str) -> Digest {
        self.hasher.hash(cookie.as_bytes())
    }

    /// Starts a session for `user`; returns the cookie value.
    pub fn login(&self, user: &str) -> String {
        let id = random_id();
        self.sessions.insert(self.digest(&id), Arc::from(user));
        id
    }

    /// The user of a session cookie value.
    pub fn user(&self, session: &str) -> Option<Arc<str>> {
        self.sessions.get(&self.digest(session))
    }

    /// Ends a session.
    pub fn logout(&self, session: &str) {
        self.sessions.invalidate(&self.digest(session));
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

    /// Whether one of the pre-login cookie values is the one `pending` was started with.
    pub fn same_browser<'a>(
        &self,
        pending: &Pending,
        mut cookies: impl Iterator<Item = &'a str>,
    ) -> bool {
        cookies.any(|c| self.hasher.verify(c.as_bytes(), &pending.browser))
    }

    /// Binds request `id` to the session cookie value `session`: only it may decide.
    pub fn bind_session(&self, id: &str, session: &str) {
        self.bound.insert(id.to_string(), self.digest(session));
    }

    /// The user of the session request `id` is bound to, when one of the session cookie values
    /// is that session and it is still live.
    pub fn bound_user<'a>(
        &self,
        id: &str,
        mut sessions: impl Iterator<Item = &'a str>,
    ) -> Option<Arc<str>> {
        let bound = self.bound.get(id)?;
        let value = sessions.find(|s| self.hasher.verify(s.as_bytes(), &bound))?;
        self.user(value)
    }

    /// Forgets a request once answered.
    pub fn finish(&self, id: &str) {
        self.pending.invalidate(id);
        self.bound.invalidate(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> LoginState {
        let hasher = crate::keys::KeyRing::from_master(&[7; 32]).logins;
        let ttl = Duration::from_secs(60);
        LoginState::new(ttl, ttl, hasher)
    }

    fn pending(state: &LoginState, browser: &str) -> Pending {
        Pending {
            client_id: "app".into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_given: true,
            scope: Scope::ALL,
            state: None,
            challenge: None,
            csrf: random_id(),
            browser: state.digest(browser),
        }
    }

    #[test]
    fn requests_answer_only_their_browser_and_their_session() {
        let s = state();
        let (mine, theirs) = (random_id(), random_id());
        let p = pending(&s, &mine);
        assert!(s.same_browser(&p, [theirs.as_str(), mine.as_str()].into_iter()));
        assert!(!s.same_browser(&p, [theirs.as_str()].into_iter()));
        assert!(!s.same_browser(&p, std::iter::empty()));
        let id = s.remember(p);
        let (aldo, bruna) = (s.login("aldo"), s.login("bruna"));
        assert_eq!(s.bound_user(&id, [aldo.as_str()].into_iter()), None);
        s.bind_session(&id, &aldo);
        let user = s.bound_user(&id, [bruna.as_str(), aldo.as_str()].into_iter());
        assert_eq!(user.as_deref(), Some("aldo"));
        assert_eq!(s.bound_user(&id, [bruna.as_str()].into_iter()), None);
        s.logout(&aldo);
        assert_eq!(s.bound_user(&id, [aldo.as_str()].into_iter()), None);
        s.finish(&id);
        assert!(s.pending(&id).is_none());
    }

    #[test]
    fn cookie_values_are_kept_only_as_keyed_hashes() {
        let s = state();
        let session = s.login("aldo");
        assert!(s.sessions.contains_key(&s.digest(&session)));
        assert_eq!(s.user(&session).as_deref(), Some("aldo"));
        assert!(is_random_id(&session));
        assert!(!is_random_id("short") && !is_random_id(&format!("{}=", &session[1..])));
    }
}
