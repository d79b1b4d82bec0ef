//! The state every endpoint and the proxy share: config, live registry and users, token service,
//! keys, clock and metrics; built once at start-up.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::registry::live::Directory;
use crate::store::TokenStore;
use crate::token::service::TokenService;

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

/// Everything the gateway's request handling needs.
pub struct Gateway {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Apps and users, hot-reloaded.
    pub directory: Directory,
    /// Token issuance and checks.
    pub tokens: TokenService,
    /// Derived keys.
    pub keys: KeyRing,
    /// The clock.
    pub clock: SharedClock,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Endpoint URLs.
    pub endpoints: Endpoints,
    /// Login page state.
    pub login: crate::login::Login,
    /// The CRM as users backend (`users.backend = "upstream"`).
    pub upstream: Option<crate::users::upstream::UpstreamUsers>,
    /// Failed client authentications by client id and address.
    pub client_throttle: crate::login::throttle::Throttle,
    /// Sessions of the admin API.
    pub admin: crate::admin::session::AdminSessions,
    /// Users of upstream grants, opened from the store.
    pub grant_users: moka::sync::Cache<crate::token::record::FamilyId, Arc<crate::users::User>>,
}

impl Gateway {
    /// Assembles the state from its parts.
    pub fn new(
        config: Arc<Config>,
        directory: Directory,
        store: Arc<dyn TokenStore>,
        keys: KeyRing,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Self {
        let tokens = TokenService::new(
            keys.tokens.clone(),
            store,
            config.tokens.cache_capacity,
            clock.clone(),
            metrics.clone(),
        );
        let endpoints = Endpoints::new(&config.server.public_url);
        let secure = config.server.public_url.starts_with("https://");
        let login = crate::login::Login::new(&config.login, secure, keys.logins.clone());
        let upstream = (config.users.backend == crate::config::UsersBackend::Upstream)
            .then(|| {
                crate::users::upstream::UpstreamUsers::new(
                    &config.upstream,
                    keys.secrets.clone(),
                    std::time::Duration::from_secs(config.users.login_cache_seconds),
                    std::time::Duration::from_secs(config.login.session_ttl),
                )
            })
            .transpose()
            .ok()
            .flatten();
        let grant_users = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(std::time::Duration::from_secs(60))
            .build();
        let admin = crate::admin::session::AdminSessions::new(config.login.session_ttl, secure);
        let l = &config.limits;
        let client_throttle = crate::login::throttle::Throttle::new(
            l.client_failures_per_client,
            l.client_failures_per_ip,
            std::time::Duration::from_secs(l.client_throttle_seconds),
        );
        Self {
            client_throttle,
            admin,
            login,
            upstream,
            grant_users,
            config,
            directory,
            tokens,
            keys,
            clock,
            metrics,
            endpoints,
        }
    }
}
