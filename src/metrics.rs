//! Prometheus metrics: requests by outcome, tokens issued, cache hits and misses, reloads, the
//! build (`crmgate_build_info`) and the process (`process_*`: CPU, memory, open files).
//!
//! Each surface has one recording point: [`Metrics::proxied`] for the proxy (its label values
//! resolved once at start-up, so the request path only increments atomics) and
//! [`Metrics::oauth_request`] for the OAuth endpoints.

use prometheus::{Encoder, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

/// Outcome of a proxied call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyOutcome {
    /// Token valid, scope sufficient, forwarded.
    Allowed,
    /// Not a protected path, forwarded.
    Passthrough,
    /// 400: malformed request or non-canonical path.
    BadRequest,
    /// 401: missing, malformed, unknown, expired or revoked token.
    Unauthorized,
    /// 403: scope too narrow or operation denied.
    Forbidden,
    /// 5xx: the gateway or the CRM failed.
    Error,
}

const OUTCOMES: [(ProxyOutcome, &str); 6] = [
    (ProxyOutcome::Allowed, "allowed"),
    (ProxyOutcome::Passthrough, "passthrough"),
    (ProxyOutcome::BadRequest, "bad_request"),
    (ProxyOutcome::Unauthorized, "unauthorized"),
    (ProxyOutcome::Forbidden, "forbidden"),
    (ProxyOutcome::Error, "error"),
];

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    proxy: [IntCounter; 6],
    tokens_issued: IntCounterVec,
    /// Tokens revoked.
    pub tokens_revoked: IntCounter,
    /// Token lookups answered from memory.
    pub cache_hits: IntCounter,
    /// Token lookups that went to the store.
    pub cache_misses: IntCounter,
    oauth_requests: IntCounterVec,
    /// Reloads of apps.toml / users.toml by file and result.
    pub reloads: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let c = IntCounter::new(name, help)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let proxy_vec = counter_vec(
            &registry,
            "crmgate_proxy_requests_total",
            "Proxied requests by outcome",
            &["outcome"],
        )?;
        let proxy = OUTCOMES.map(|(_, name)| proxy_vec.with_label_values(&[name]));
        let build = prometheus::IntGaugeVec::new(
            Opts::new("crmgate_build_info", "The running build (always 1)"),
            &["version"],
        )?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        registry.register(Box::new(build))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            proxy,
            tokens_issued: counter_vec(
                &registry,
                "crmgate_tokens_issued_total",
                "Tokens issued by grant type",
                &["grant_type"],
            )?,
            tokens_revoked: counter(&registry, "crmgate_tokens_revoked_total", "Tokens revoked")?,
            cache_hits: counter(
                &registry,
                "crmgate_token_cache_hits_total",
                "Token cache hits",
            )?,
            cache_misses: counter(
                &registry,
                "crmgate_token_cache_misses_total",
                "Token lookups served by the store",
            )?,
            oauth_requests: counter_vec(
                &registry,
                "crmgate_oauth_requests_total",
                "OAuth endpoint requests by endpoint and outcome",
                &["endpoint", "outcome"],
            )?,
            reloads: counter_vec(
                &registry,
                "crmgate_config_reloads_total",
                "Reloads of the apps and users files by result",
                &["file", "result"],
            )?,
            registry,
        })
    }

    /// Counts one proxied request.
    pub fn proxied(&self, outcome: ProxyOutcome) {
        if let Some(i) = OUTCOMES.iter().position(|(o, _)| *o == outcome) {
            self.proxy[i].inc();
        }
    }

    /// Counts one request at an OAuth endpoint (`endpoint` label), whether it succeeded, and the
    /// grant type of the tokens it issued. Called from [`crate::oauth::respond`] only.
    pub fn oauth_request(&self, endpoint: &str, ok: bool, issued: Option<&str>) {
        let outcome = if ok { "ok" } else { "error" };
        self.oauth_requests
            .with_label_values(&[endpoint, outcome])
            .inc();
        if let Some(grant_type) = issued {
            self.tokens_issued.with_label_values(&[grant_type]).inc();
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics; an error leaves it partial.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
