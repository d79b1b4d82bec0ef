//! The on-disk shape of `crmgate.toml`: serde structs, one `///` per key, unknown keys refused.
//!
//! These are converted into the validated [`super::Config`]; nothing else reads them.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::secret::SecretFile;

/// `[server]`: where the gateway listens and how clients reach it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerFile {
    /// Address of the proxy and OAuth endpoints, `host:port`.
    pub listen: String,
    /// Address of `/gateway/metrics`, `/gateway/healthz` and `/gateway/readyz` (then not on
    /// `listen`).
    pub ops_listen: Option<String>,
    /// How clients reach the gateway; used as issuer, in metadata, redirects and pages.
    pub public_url: Option<String>,
    /// Folder of the token store and the key material the gateway generates.
    pub data_dir: String,
    /// PEM certificate chain; with `tls_key`, the listener speaks HTTPS.
    pub tls_cert: Option<String>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<String>,
    /// Peers (IPs or CIDRs) whose `X-Forwarded-For` / `Forwarded` are kept and extended.
    pub trusted_proxies: Vec<String>,
    /// Worker threads of the proxy.
    pub threads: usize,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_grace_seconds: u64,
}

impl Default for ServerFile {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            ops_listen: None,
            public_url: None,
            data_dir: "data".into(),
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            threads: 1,
            shutdown_grace_seconds: 5,
        }
    }
}

/// `[upstream]`: the CRM behind the gateway.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamFile {
    /// `host:port` of the CRM.
    pub address: String,
    /// Speak TLS to the CRM.
    pub tls: bool,
    /// Server name for TLS (default: the host of `address`).
    pub sni: Option<String>,
    /// How the gateway acts as the user: `basic` or `headers`.
    pub auth: String,
    /// Optional HMAC key; when set, requests carry `X-Crm-Gateway-Signature`.
    pub signing_secret: Option<SecretFile>,
    /// Seconds to wait for a TCP (and TLS) connection to the CRM.
    pub connect_timeout_seconds: u64,
    /// Seconds to wait for each read from the CRM.
    pub read_timeout_seconds: u64,
}

impl Default for UpstreamFile {
    fn default() -> Self {
        Self {
            address: String::new(),
            tls: false,
            sni: None,
            auth: "basic".into(),
            signing_secret: None,
            connect_timeout_seconds: 5,
            read_timeout_seconds: 60,
        }
    }
}

/// `[registry]`: the external applications file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryFile {
    /// Path of `apps.toml`, relative to this file.
    pub file: String,
}

impl Default for RegistryFile {
    fn default() -> Self {
        Self {
            file: "apps.toml".into(),
        }
    }
}

/// `[users]`: who the CRM users are.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsersFile {
    /// `local` (the users file) or `upstream` (ask the CRM).
    pub backend: String,
    /// Path of `users.toml`, relative to this file (optional with `upstream`: it then lists
    /// only the users service accounts act as).
    pub file: String,
    /// `upstream`: seconds a successful password check is remembered.
    pub login_cache_seconds: u64,
}

impl Default for UsersFile {
    fn default() -> Self {
        Self {
            backend: "local".into(),
            file: "users.toml".into(),
            login_cache_seconds: 60,
        }
    }
}

/// `[tokens]`: lifetimes and the token cache (seconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensFile {
    /// Access token lifetime in seconds.
    pub access_token_ttl: u64,
    /// Authorization code lifetime in seconds.
    pub authorization_code_ttl: u64,
    /// Refresh token lifetime in seconds.
    pub refresh_token_ttl: u64,
    /// Most token records kept in memory in front of the store.
    pub cache_capacity: u64,
    /// Longest a client assertion may live (`exp` − now), in seconds.
    pub assertion_max_lifetime: u64,
    /// Clock skew tolerated on assertion times, in seconds.
    pub clock_skew: u64,
    /// Seconds between purges of expired records.
    pub purge_interval: u64,
    /// Seconds after a rotation during which the old refresh token may be presented again
    /// (a client retrying after a lost response); 0 turns the grace period off.
    pub refresh_grace_seconds: u64,
}

impl Default for TokensFile {
    fn default() -> Self {
        Self {
            access_token_ttl: 3600,
            authorization_code_ttl: 60,
            refresh_token_ttl: 30 * 24 * 3600,
            cache_capacity: 100_000,
            assertion_max_lifetime: 600,
            clock_skew: 30,
            purge_interval: 60,
            refresh_grace_seconds: 0,
        }
    }
}

/// `[proxy]`: what is protected and how operations are classified.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyFile {
    /// Path prefix that needs a Bearer token; starts and ends with `/`.
    pub protected_prefix: String,
    /// Extra or changed operation classes: `name = "read" | "write" | "deny"`.
    pub operations: BTreeMap<String, String>,
    /// Pass the CRM's legacy APIs (`/webservice.php`, `/vteservice.php`, `/soap/`) through;
    /// off by default, since they take access keys or passwords instead of tokens.
    pub allow_legacy_webservice: bool,
}

impl Default for ProxyFile {
    fn default() -> Self {
        Self {
            protected_prefix: "/restapi/".into(),
            operations: BTreeMap::new(),
            allow_legacy_webservice: false,
        }
    }
}

/// `[limits]`: sizes the gateway accepts.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsFile {
    /// Largest request body accepted by the OAuth endpoints, in bytes.
    pub oauth_body_bytes: usize,
    /// Largest client assertion accepted, in bytes.
    pub assertion_bytes: usize,
    /// Failed client authentications per client id before 429 (the right secret still works).
    pub client_failures_per_client: u32,
    /// Failed client authentications per address before that address gets 429.
    pub client_failures_per_ip: u32,
    /// Seconds a client authentication throttle lasts.
    pub client_throttle_seconds: u64,
}

impl Default for LimitsFile {
    fn default() -> Self {
        Self {
            oauth_body_bytes: 64 * 1024,
            assertion_bytes: 8 * 1024,
            client_failures_per_client: 20,
            client_failures_per_ip: 20,
            client_throttle_seconds: 60,
        }
    }
}

/// `[logging]`: what the gateway writes to stderr.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingFile {
    /// `error`, `warn`, `info`, `debug` or `trace` (or a tracing filter expression).
    pub level: String,
    /// One JSON object per line instead of text.
    pub json: bool,
    /// One line per proxied call.
    pub access_log: bool,
}

impl Default for LoggingFile {
    fn default() -> Self {
        Self {
            level: "info".into(),
            json: false,
            access_log: true,
        }
    }
}

/// `[login]`: the gateway's login page for the authorization code flow.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginFile {
    /// Seconds a login session lasts.
    pub session_ttl: u64,
    /// Failed logins per username before it is throttled (the CRM locks users after 5).
    pub failures_per_user: u32,
    /// Failed logins per client address before it is throttled.
    pub failures_per_ip: u32,
    /// Seconds a throttle lasts.
    pub throttle_seconds: u64,
    /// Seconds an authorization request may wait for login and consent.
    pub request_ttl: u64,
}

impl Default for LoginFile {
    fn default() -> Self {
        Self {
            session_ttl: 8 * 3600,
            failures_per_user: 3,
            failures_per_ip: 20,
            throttle_seconds: 300,
            request_ttl: 600,
        }
    }
}

/// The sections `crmgate.toml` may hold.
pub const SECTIONS: &[&str] = &[
    "server", "upstream", "registry", "users", "tokens", "proxy", "limits", "logging", "login",
    "store",
];
