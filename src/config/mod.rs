//! The gateway configuration: `crmgate.toml` decoded section by section and validated into
//! [`Config`]; every problem is reported at once with file, line and key.

mod file;
pub mod problems;
pub mod secret;
pub mod store;
pub mod tls;
pub mod toml_doc;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

pub use problems::{Problem, Problems};
use toml_doc::TomlDoc;

use crate::operations::{OpClass, OperationTable};
use file::*;
pub use file::{
    LimitsFile as Limits, LoggingFile as LoggingConfig, LoginFile as LoginSettings,
    TokensFile as TokenSettings,
};

/// The validated gateway configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// Listener, public URL, data dir.
    pub server: ServerConfig,
    /// The CRM behind the gateway.
    pub upstream: UpstreamConfig,
    /// Path of `apps.toml`.
    pub registry_file: PathBuf,
    /// Where users come from.
    pub users: UsersConfig,
    /// Token lifetimes and cache.
    pub tokens: TokenSettings,
    /// Protected prefix and operation table.
    pub proxy: ProxySettings,
    /// Size limits.
    pub limits: Limits,
    /// Log level and format.
    pub logging: LoggingConfig,
    /// Login page sessions and throttling.
    pub login: LoginSettings,
    /// The token store backend.
    pub store: store::StoreConfig,
    /// Things worth telling the operator that do not stop the gateway.
    pub warnings: Vec<String>,
}

/// `[server]`, validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listener address.
    pub listen: SocketAddr,
    /// Where metrics, health and readiness are served instead of on `listen`.
    pub ops_listen: Option<SocketAddr>,
    /// Public base URL without trailing slash; also the OAuth issuer.
    pub public_url: String,
    /// Store and key material folder.
    pub data_dir: PathBuf,
    /// Certificate and key for HTTPS on the listener.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Peers whose forwarding headers are trusted.
    pub trusted_proxies: Vec<IpNet>,
    /// Proxy worker threads.
    pub threads: usize,
    /// Seconds of grace after SIGTERM.
    pub shutdown_grace_seconds: u64,
}

/// Who checks user passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsersBackend {
    /// The users file (argon2id hashes).
    Local,
    /// The CRM (`loginpwd`); the users file is optional.
    Upstream,
}

/// `[users]`, validated.
#[derive(Debug, Clone)]
pub struct UsersConfig {
    /// Backend.
    pub backend: UsersBackend,
    /// Path of `users.toml`.
    pub file: PathBuf,
    /// Seconds a successful CRM password check is remembered.
    pub login_cache_seconds: u64,
}

/// How the gateway acts as the user towards the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamAuth {
    /// `Authorization: Basic base64(username:crm_access_key)`.
    Basic,
    /// The CRM trusts the `X-Crm-*` headers.
    Headers,
}

/// `[upstream]`, validated.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// `host:port`.
    pub address: String,
    /// TLS towards the CRM.
    pub tls: bool,
    /// TLS server name.
    pub sni: String,
    /// Acting-as-user mode.
    pub auth: UpstreamAuth,
    /// HMAC key for `X-Crm-Gateway-Signature`.
    pub signing_secret: Option<Vec<u8>>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Read timeout.
    pub read_timeout: Duration,
}

/// `[proxy]`, validated.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// Protected path prefix, `/.../`.
    pub protected_prefix: String,
    /// Operation classes.
    pub operations: OperationTable,
    /// The CRM's legacy APIs pass through (`proxy.allow_legacy_webservice`).
    pub allow_legacy_webservice: bool,
}

/// Reads and validates the configuration at `path`.
pub fn load(path: &Path) -> Result<Config, Problems> {
    let name = path.display().to_string();
    let raw = std::fs::read_to_string(path)
        .map_err(|e| Problems::single(&name, "", format!("cannot read: {e}")))?;
    parse(path, &raw)
}

/// Validates configuration text as if read from `path`.
///
/// ```
/// let p = std::path::Path::new("/etc/crmgate/crmgate.toml");
/// let c = crmgate::config::parse(p, "[upstream]\naddress = \"crm:443\"\ntls = true\n").unwrap();
/// assert_eq!(c.server.public_url, "http://127.0.0.1:8080");
/// assert_eq!(c.upstream.sni, "crm");
/// let bad = crmgate::config::parse(p, "[server]\npublic_url = \"https://x/gw\"\n").unwrap_err();
/// assert!(bad.to_string().contains("crmgate.toml:2: server.public_url: must not have a path"));
/// ```
pub fn parse(path: &Path, raw: &str) -> Result<Config, Problems> {
    let doc = TomlDoc::parse(&path.display().to_string(), raw)?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut p = Problems::default();
    doc.check_top_keys(SECTIONS, &mut p);
    let server: Option<ServerFile> = doc.section("server", &mut p);
    let upstream: Option<UpstreamFile> = doc.section("upstream", &mut p);
    let registry: Option<RegistryFile> = doc.section("registry", &mut p);
    let users: Option<UsersFile> = doc.section("users", &mut p);
    let tokens: Option<TokensFile> = doc.section("tokens", &mut p);
    let proxy: Option<ProxyFile> = doc.section("proxy", &mut p);
    let limits: Option<LimitsFile> = doc.section("limits", &mut p);
    let logging: Option<LoggingFile> = doc.section("logging", &mut p);
    let login: Option<LoginFile> = doc.section("login", &mut p);
    let store: Option<store::StoreFile> = doc.section("store", &mut p);
    let mut warnings = Vec::new();
    let server = server.and_then(|s| validate_server(&doc, s, &base, &mut p, &mut warnings));
    let upstream = upstream.and_then(|u| validate_upstream(&doc, u, &mut p));
    let users = users.and_then(|u| validate_users(&doc, u, &base, &mut p));
    let tokens = tokens.and_then(|t| validate_tokens(&doc, t, &mut p));
    let proxy = proxy.and_then(|x| validate_proxy(&doc, x, &mut p));
    let store = store.and_then(|s| store::validate(&doc, s, &mut p));
    let (Some(server), Some(upstream), Some(registry), Some(users)) =
        (server, upstream, registry, users)
    else {
        return Err(p);
    };
    let (Some(tokens), Some(proxy), Some(limits), Some(logging), Some(login), Some(store)) =
        (tokens, proxy, limits, logging, login, store)
    else {
        return Err(p);
    };
    let mut store = store;
    if !store.explicit {
        store.backend = crate::store::open::existing(&server.data_dir).unwrap_or(store.backend);
    }
    let config = Config {
        path: path.to_path_buf(),
        server,
        upstream,
        registry_file: base.join(registry.file),
        users,
        tokens,
        proxy,
        limits,
        logging,
        login,
        store,
        warnings,
    };
    p.into_result(config)
}

/// Line of `key` in `[section]`, of the section when the key is absent, or 1 when the section is
/// absent too (a problem with a default value then concerns the file as a whole).
fn at(doc: &TomlDoc<'_>, section: &str, key: &str) -> Option<usize> {
    Some(doc.get(section).map_or(1, |n| doc.key_line(n, key)))
}

fn validate_server(
    doc: &TomlDoc<'_>,
    s: ServerFile,
    base: &Path,
    p: &mut Problems,
    warnings: &mut Vec<String>,
) -> Option<ServerConfig> {
    let f = doc.file();
    let listen = socket(doc, "listen", &s.listen, p);
    let ops_listen = s
        .ops_listen
        .as_deref()
        .map(|a| socket(doc, "ops_listen", a, p));
    if ops_listen.flatten().is_some() && ops_listen.flatten() == listen {
        let msg = "must differ from server.listen (it takes metrics and health off it)";
        p.push(f, at(doc, "server", "ops_listen"), "server.ops_listen", msg);
    }
    let public_url = s
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", s.listen));
    let public_url = match check_public_url(&public_url) {
        Ok(url) => Some(url),
        Err(msg) => {
            p.push(f, at(doc, "server", "public_url"), "server.public_url", msg);
            None
        }
    };
    let tls = tls::files(doc, s.tls_cert, s.tls_key, base, p);
    let trusted = trusted_proxies(doc, &s.trusted_proxies, p);
    if s.threads == 0 {
        p.push(
            f,
            at(doc, "server", "threads"),
            "server.threads",
            "must be at least 1",
        );
    }
    let (listen, public_url) = (listen?, public_url?);
    if public_url.starts_with("http://") && !is_loopback_url(&public_url) {
        warnings.push(format!(
            "server.public_url {public_url} is plain http on a non-loopback address: \
             OAuth needs TLS in production"
        ));
    }
    Some(ServerConfig {
        listen,
        ops_listen: ops_listen.flatten(),
        public_url,
        data_dir: base.join(s.data_dir),
        tls,
        trusted_proxies: trusted,
        threads: s.threads.max(1),
        shutdown_grace_seconds: s.shutdown_grace_seconds,
    })
}

/// `server.<key>` as an IP address and port.
fn socket(doc: &TomlDoc<'_>, key: &str, value: &str, p: &mut Problems) -> Option<SocketAddr> {
    let parsed = value.parse::<SocketAddr>().ok();
    if parsed.is_none() {
        let msg = "must be an IP address and port, e.g. 127.0.0.1:8080";
        p.push(
            doc.file(),
            at(doc, "server", key),
            &format!("server.{key}"),
            msg,
        );
    }
    parsed
}

fn trusted_proxies(doc: &TomlDoc<'_>, entries: &[String], p: &mut Problems) -> Vec<IpNet> {
    let mut trusted = Vec::new();
    for t in entries {
        match parse_net(t) {
            Some(net) => trusted.push(net),
            None => {
                let line = at(doc, "server", "trusted_proxies");
                let msg = format!("{t:?} is not an IP or CIDR");
                p.push(doc.file(), line, "server.trusted_proxies", msg);
            }
        }
    }
    trusted
}

fn check_public_url(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http or https URL with a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err("must not carry a query, fragment or user info".into());
    }
    if url.path() != "/" {
        return Err("must not have a path: the gateway serves its endpoints at the root".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn is_loopback_url(url: &str) -> bool {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

fn validate_upstream(
    doc: &TomlDoc<'_>,
    u: UpstreamFile,
    p: &mut Problems,
) -> Option<UpstreamConfig> {
    let f = doc.file();
    let host = match u.address.rsplit_once(':') {
        Some((h, port)) if !h.is_empty() && port.parse::<u16>().is_ok() => Some(h.to_string()),
        _ => {
            let msg = "must be host:port of the CRM";
            p.push(f, at(doc, "upstream", "address"), "upstream.address", msg);
            None
        }
    };
    let auth = match u.auth.as_str() {
        "basic" => Some(UpstreamAuth::Basic),
        "headers" => Some(UpstreamAuth::Headers),
        _ => {
            p.push(
                f,
                at(doc, "upstream", "auth"),
                "upstream.auth",
                "must be \"basic\" or \"headers\"",
            );
            None
        }
    };
    let secret = match u.signing_secret.as_ref().map(|s| s.resolve()) {
        None => Some(None),
        Some(Ok(s)) => Some(Some(s.into_bytes())),
        Some(Err(msg)) => {
            p.push(
                f,
                at(doc, "upstream", "signing_secret"),
                "upstream.signing_secret",
                msg,
            );
            None
        }
    };
    let host = host?;
    Some(UpstreamConfig {
        sni: u
            .sni
            .unwrap_or_else(|| host.trim_matches(['[', ']']).to_string()),
        address: u.address,
        tls: u.tls,
        auth: auth?,
        signing_secret: secret?,
        connect_timeout: Duration::from_secs(u.connect_timeout_seconds.max(1)),
        read_timeout: Duration::from_secs(u.read_timeout_seconds.max(1)),
    })
}

fn validate_users(
    doc: &TomlDoc<'_>,
    u: UsersFile,
    base: &Path,
    p: &mut Problems,
) -> Option<UsersConfig> {
    let backend = match u.backend.as_str() {
        "local" => UsersBackend::Local,
        "upstream" => UsersBackend::Upstream,
        _ => {
            let msg = "must be \"local\" or \"upstream\"";
            p.push(
                doc.file(),
                at(doc, "users", "backend"),
                "users.backend",
                msg,
            );
            return None;
        }
    };
    Some(UsersConfig {
        backend,
        file: base.join(u.file),
        login_cache_seconds: u.login_cache_seconds,
    })
}

fn validate_tokens(doc: &TomlDoc<'_>, t: TokensFile, p: &mut Problems) -> Option<TokenSettings> {
    let f = doc.file();
    let mut ok = true;
    for (key, value) in [
        ("access_token_ttl", t.access_token_ttl),
        ("authorization_code_ttl", t.authorization_code_ttl),
        ("refresh_token_ttl", t.refresh_token_ttl),
        ("assertion_max_lifetime", t.assertion_max_lifetime),
        ("purge_interval", t.purge_interval),
    ] {
        if value == 0 {
            p.push(
                f,
                at(doc, "tokens", key),
                &format!("tokens.{key}"),
                "must be at least 1",
            );
            ok = false;
        }
    }
    if t.authorization_code_ttl > 600 {
        let msg = "must be at most 600 seconds (RFC 6749 §4.1.2)";
        p.push(
            f,
            at(doc, "tokens", "authorization_code_ttl"),
            "tokens.authorization_code_ttl",
            msg,
        );
        ok = false;
    }
    ok.then_some(t)
}

fn validate_proxy(doc: &TomlDoc<'_>, x: ProxyFile, p: &mut Problems) -> Option<ProxySettings> {
    let f = doc.file();
    let prefix = &x.protected_prefix;
    let mut ok = true;
    if !(prefix.len() > 1 && prefix.starts_with('/') && prefix.ends_with('/')) {
        let msg = "must start and end with '/', e.g. \"/restapi/\"";
        p.push(
            f,
            at(doc, "proxy", "protected_prefix"),
            "proxy.protected_prefix",
            msg,
        );
        ok = false;
    }
    let mut overrides = Vec::new();
    for (op, class) in &x.operations {
        match OpClass::parse(class) {
            Some(c) => overrides.push((op.as_str(), c)),
            None => {
                let line = doc.get("proxy").and_then(|n| n.get_ref().get("operations"));
                let line = line.map(|n| doc.key_line(n, op));
                let msg = "must be \"read\", \"write\" or \"deny\"";
                p.push(f, line, &format!("proxy.operations.{op}"), msg);
                ok = false;
            }
        }
    }
    ok.then(|| ProxySettings {
        protected_prefix: x.protected_prefix.clone(),
        operations: OperationTable::with_overrides(overrides),
        allow_legacy_webservice: x.allow_legacy_webservice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_of_absent_sections_have_a_line() {
        // Found by the toml_loaders fuzz target: an empty file gave
        // "crmgate.toml: upstream.address: ..." without the line the format promises.
        let p = Path::new("/etc/crmgate/crmgate.toml");
        let err = parse(p, "").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/crmgate/crmgate.toml:1: upstream.address: must be host:port of the CRM"
        );
        let err = parse(p, "# gateway\n\n[upstream]\ntls = true\n").unwrap_err();
        assert_eq!(err.0[0].line, Some(3), "{err}");
    }
}
