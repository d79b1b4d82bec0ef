//! The state every endpoint and the proxy share: config, live registry and users, token service,
//! keys, clock and metrics; built once at start-up.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::SharedClock;
use crate::config::{Config, UsersBackend};
use crate::identity::Identity;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::registry::live::Directory;
use crate::store::ephemeral::Ephemeral;
use crate::store::journal::Journal;
use crate::store::open::Opened;
use crate::token::service::TokenService;
use crate::users::upstream::{UpstreamError, UpstreamUsers};

/// OAuth endpoint paths, under the public URL.
pub mod paths {
    /// Authorization endpoint.
    pub const AUTHORIZE: &str = "/oauth2/v2.0/auth.php";
    /// Token endpoint.
    pub const TOKEN: &str = "/oauth2/v2.0/token.php";
    /// Revocation endpoint (RFC 7009).
    pub const REVOKE: &str = "/oauth2/v2.0/revoke.php";
    /// Introspection endpoint (RFC 7662).
    pub const INTROSPECT: &str = "/oauth2/v2.0/introspect.php";
    /// Metadata (RFC 8414).
    pub const METADATA: &str = "/.well-known/oauth-authorization-server";
    /// Liveness.
    pub const HEALTHZ: &str = "/gateway/healthz";
    /// Readiness.
    pub const READYZ: &str = "/gateway/readyz";
    /// Prometheus metrics.
    pub const METRICS: &str = "/gateway/metrics";
    /// The pages' stylesheet.
    pub const STYLESHEET: &str = "/gateway/assets/style.css";
}

/// Absolute URLs of the endpoints, derived from `public_url`.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The issuer identifier (the public URL).
    pub issuer: String,
    /// Authorization endpoint URL.
    pub authorize: String,
    /// Token endpoint URL; the `aud` client assertions must carry.
    pub token: String,
    /// Revocation endpoint URL.
    pub revoke: String,
    /// Introspection endpoint URL.
    pub introspect: String,
}

impl Endpoints {
    /// Endpoints under `public_url`.
    pub fn new(public_url: &str) -> Self {
        Self {
            issuer: public_url.to_string(),
            authorize: format!("{public_url}{}", paths::AUTHORIZE),
            token: format!("{public_url}{}", paths::TOKEN),
            revoke: format!("{public_url}{}", paths::REVOKE),
            introspect: format!("{public_url}{}", paths::INTROSPECT),
        }
    }
}

/// Everything the gateway's request handling shares: services, not feature state (the login
/// pages, the admin API and the token endpoint keep theirs, see [`crate::proxy::local::Features`]).
pub struct Gateway {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Apps and users, hot-reloaded.
    pub directory: Arc<Directory>,
    /// Which user a login, code, grant or token stands for.
    pub identity: Identity,
    /// Token issuance and checks.
    pub tokens: TokenService,
    /// Sessions, pending requests and throttle counters (shared with a shared store).
    pub ephemeral: Arc<dyn Ephemeral>,
    /// The audit log (shared with a shared store).
    pub journal: Arc<dyn Journal>,
    /// Derived keys.
    pub keys: KeyRing,
    /// The clock.
    pub clock: SharedClock,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Endpoint URLs.
    pub endpoints: Endpoints,
}

impl Gateway {
    /// Assembles the services; fails when the CRM client of the `upstream` users backend cannot
    /// be built.
    pub fn new(
        config: Arc<Config>,
        directory: Directory,
        store: Opened,
        keys: KeyRing,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<Self, UpstreamError> {
        let tokens = TokenService::new(
            keys.tokens.clone(),
            store.tokens,
            config.tokens.cache_capacity,
            clock.clone(),
            metrics.clone(),
        );
        let upstream = match config.users.backend {
            UsersBackend::Upstream => Some(UpstreamUsers::new(
                &config.upstream,
                keys.secrets.clone(),
                Duration::from_secs(config.users.login_cache_seconds),
                Duration::from_secs(config.login.session_ttl),
            )?),
            UsersBackend::Local => None,
        };
        let directory = Arc::new(directory);
        let identity = Identity::new(directory.clone(), upstream, keys.sealer.clone());
        Ok(Self {
            endpoints: Endpoints::new(&config.server.public_url),
            config,
            directory,
            identity,
            tokens,
            ephemeral: store.ephemeral,
            journal: store.journal,
            keys,
            clock,
            metrics,
        })
    }
}
