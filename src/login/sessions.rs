//! In-memory state of the login page: sessions (a random id in an HttpOnly cookie naming the
//! logged-in user) and pending authorization requests (the validated parameters, waiting for
//! login and consent, with their CSRF token). A pending request is bound to the browser that
//! started it (a keyed hash of its pre-login cookie) and, once someone signs in through it, to
//! that session (a keyed hash of the session cookie); cookie values are kept only as such
//! hashes. They live in the deployment's [`Ephemeral`] store: in memory with one gateway (a
//! restart means logging in again), on Redis when several share it. Everything expires.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::keys::{Digest, KeyedHash};
use crate::store::StoreError;
use crate::store::ephemeral::{Ephemeral, Kind};
use crate::token::scope::Scope;

/// Name of the session cookie.
pub const COOKIE: &str = "crmgate_session";

/// Name of the pre-login cookie that binds pending requests to a browser.
pub const BROWSER_COOKIE: &str = "crmgate_browser";

/// A validated authorization request waiting for the user.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// Sessions and pending requests, keyed by hashes of the cookie values, in the deployment's
/// [`Ephemeral`] store (so every gateway node sees them).
pub struct LoginState {
    hasher: KeyedHash,
    store: Arc<dyn Ephemeral>,
    session_ttl: Duration,
    request_ttl: Duration,
}

impl LoginState {
    /// Sessions last `session_ttl`, requests `request_ttl`; cookie values are keyed with `hasher`.
    pub fn new(
        session_ttl: Duration,
        request_ttl: Duration,
        hasher: KeyedHash,
        store: Arc<dyn Ephemeral>,
    ) -> Self {
        Self {
            hasher,
            store,
            session_ttl,
            request_ttl,
        }
    }

    /// The keyed hash of a cookie value.
    pub fn digest(&self, cookie: &str) -> Digest {
        self.hasher.hash(cookie.as_bytes())
    }

    /// Starts a session for `user`; returns the cookie value.
    pub async fn login(&self, user: &str) -> Result<String, StoreError> {
        let id = random_id();
        let key = self.digest(&id);
        let ttl = self.session_ttl;
        self.store
            .put(Kind::LoginSession, &key.0, user.as_bytes(), ttl)
            .await?;
        Ok(id)
    }

    /// The user of a session cookie value.
    pub async fn user(&self, session: &str) -> Result<Option<Arc<str>>, StoreError> {
        let raw = self
            .store
            .get(Kind::LoginSession, &self.digest(session).0)
            .await?;
        Ok(raw.and_then(|r| String::from_utf8(r).ok()).map(Arc::from))
    }

    /// The first of `sessions` (cookie values) that is live, with its user.
    pub async fn signed_in<'a>(
        &self,
        sessions: impl Iterator<Item = &'a str>,
    ) -> Result<Option<(&'a str, Arc<str>)>, StoreError> {
        for value in sessions {
            if let Some(user) = self.user(value).await? {
                return Ok(Some((value, user)));
            }
        }
        Ok(None)
    }

    /// Ends a session.
    pub async fn logout(&self, session: &str) -> Result<(), StoreError> {
        let key = self.digest(session);
        self.store.delete(Kind::LoginSession, &key.0).await
    }

    /// Remembers a request; returns its id.
    pub async fn remember(&self, pending: &Pending) -> Result<String, StoreError> {
        let id = random_id();
        let raw = crate::token::record::encode(pending);
        let ttl = self.request_ttl;
        self.store
            .put(Kind::Pending, id.as_bytes(), &raw, ttl)
            .await?;
        Ok(id)
    }

    /// The request `id`, if it has not expired.
    pub async fn pending(&self, id: &str) -> Result<Option<Arc<Pending>>, StoreError> {
        let raw = self.store.get(Kind::Pending, id.as_bytes()).await?;
        raw.map(|r| crate::token::record::decode(&r).map(Arc::new))
            .transpose()
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
    pub async fn bind_session(&self, id: &str, session: &str) -> Result<(), StoreError> {
        let digest = self.digest(session);
        let ttl = self.request_ttl;
        self.store
            .put(Kind::Bound, id.as_bytes(), &digest.0, ttl)
            .await
    }

    /// The user of the session request `id` is bound to, when one of the session cookie values
    /// is that session and it is still live.
    pub async fn bound_user<'a>(
        &self,
        id: &str,
        mut sessions: impl Iterator<Item = &'a str>,
    ) -> Result<Option<Arc<str>>, StoreError> {
        let Some(raw) = self.store.get(Kind::Bound, id.as_bytes()).await? else {
            return Ok(None);
        };
        let Ok(bound) = <[u8; 32]>::try_from(raw.as_slice()) else {
            return Ok(None);
        };
        let bound = Digest(bound);
        match sessions.find(|s| self.hasher.verify(s.as_bytes(), &bound)) {
            Some(value) => self.user(value).await,
            None => Ok(None),
        }
    }

    /// Forgets a request once answered.
    pub async fn finish(&self, id: &str) -> Result<(), StoreError> {
        self.store.delete(Kind::Pending, id.as_bytes()).await?;
        self.store.delete(Kind::Bound, id.as_bytes()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ephemeral::MemoryEphemeral;

    fn state() -> LoginState {
        let hasher = crate::keys::KeyRing::from_master(&[7; 32]).logins;
        let ttl = Duration::from_secs(60);
        LoginState::new(ttl, ttl, hasher, Arc::new(MemoryEphemeral::new(1000)))
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

    #[tokio::test]
    async fn requests_answer_only_their_browser_and_their_session() {
        let s = state();
        let (mine, theirs) = (random_id(), random_id());
        let p = pending(&s, &mine);
        assert!(s.same_browser(&p, [theirs.as_str(), mine.as_str()].into_iter()));
        assert!(!s.same_browser(&p, [theirs.as_str()].into_iter()));
        assert!(!s.same_browser(&p, std::iter::empty()));
        let id = s.remember(&p).await.unwrap();
        let aldo = s.login("aldo").await.unwrap();
        let bruna = s.login("bruna").await.unwrap();
        let bound = async |sessions: &[&str]| s.bound_user(&id, sessions.iter().copied()).await;
        assert_eq!(bound(&[&aldo]).await.unwrap(), None);
        s.bind_session(&id, &aldo).await.unwrap();
        let user = bound(&[&bruna, &aldo]).await.unwrap();
        assert_eq!(user.as_deref(), Some("aldo"));
        assert_eq!(bound(&[&bruna]).await.unwrap(), None);
        s.logout(&aldo).await.unwrap();
        assert_eq!(bound(&[&aldo]).await.unwrap(), None);
        s.finish(&id).await.unwrap();
        assert!(s.pending(&id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn cookie_values_are_kept_only_as_keyed_hashes() {
        let store = Arc::new(MemoryEphemeral::new(1000));
        let hasher = crate::keys::KeyRing::from_master(&[7; 32]).logins;
        let ttl = Duration::from_secs(60);
        let s = LoginState::new(ttl, ttl, hasher, store.clone());
        let session = s.login("aldo").await.unwrap();
        let by_hash = store.get(Kind::LoginSession, &s.digest(&session).0).await;
        assert_eq!(by_hash.unwrap(), Some(b"aldo".to_vec()));
        let by_value = store.get(Kind::LoginSession, session.as_bytes()).await;
        assert_eq!(by_value.unwrap(), None);
        assert_eq!(s.user(&session).await.unwrap().as_deref(), Some("aldo"));
        assert!(is_random_id(&session));
        assert!(!is_random_id("short") && !is_random_id(&format!("{}=", &session[1..])));
    }
}
