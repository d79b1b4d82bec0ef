//! The state each of the gateway's own features keeps, composed here for the proxy: the login
//! pages' sessions and password throttle, the admin API's sessions, the token endpoints' client
//! throttle. Shared services live in [`crate::gateway::Gateway`].

use std::sync::Arc;

use crate::admin::session::AdminSessions;
use crate::config::Config;
use crate::keys::KeyRing;
use crate::login::Login;
use crate::oauth::client_auth::ClientThrottle;
use crate::store::ephemeral::Ephemeral;

/// Feature state, built once at start-up.
pub struct Features {
    /// Login pages: sessions, pending authorization requests, password throttle.
    pub login: Login,
    /// Sessions of the admin API.
    pub admin: AdminSessions,
    /// Failed client authentications at the token, revocation and introspection endpoints.
    pub clients: ClientThrottle,
}

impl Features {
    /// The state per `config`, kept in `store` (shared by every gateway on a shared store);
    /// cookies are `Secure` when the public URL is https.
    pub fn new(config: &Config, keys: &KeyRing, store: &Arc<dyn Ephemeral>) -> Self {
        let secure = config.server.public_url.starts_with("https://");
        let ttl = config.login.session_ttl;
        Self {
            login: Login::new(&config.login, secure, keys.logins.clone(), store.clone()),
            admin: AdminSessions::new(ttl, secure, keys.logins.clone(), store.clone()),
            clients: ClientThrottle::new(&config.limits, store.clone()),
        }
    }
}
