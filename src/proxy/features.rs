//! The state each of the gateway's own features keeps, composed here for the proxy: the login
//! pages' sessions and password throttle, the admin API's sessions, the token endpoints' client
//! throttle. Shared services live in [`crate::gateway::Gateway`].

use crate::admin::session::AdminSessions;
use crate::config::Config;
use crate::keys::KeyRing;
use crate::login::Login;
use crate::oauth::client_auth::ClientThrottle;

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
    /// The state per `config`; cookies are `Secure` when the public URL is https.
    pub fn new(config: &Config, keys: &KeyRing) -> Self {
        let secure = config.server.public_url.starts_with("https://");
        Self {
            login: Login::new(&config.login, secure, keys.logins.clone()),
            admin: AdminSessions::new(config.login.session_ttl, secure),
            clients: ClientThrottle::new(&config.limits),
        }
    }
}
