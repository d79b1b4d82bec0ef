//! `[store]`: which backend keeps tokens, codes, grants and assertion ids, and for `redis` the
//! server shared by every gateway (`[store.redis]`).

use std::time::Duration;

use serde::Deserialize;

use super::Problems;
use super::toml_doc::TomlDoc;
use crate::store::redis_store::RedisOptions;

/// `[store]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreFile {
    /// The backend: `sled`, `redb` (embedded, under `server.data_dir`) or `redis` (shared);
    /// absent: the embedded store the data dir already holds, else the default.
    pub backend: Option<String>,
    /// `[store.redis]`, read when `backend = "redis"`.
    pub redis: RedisFile,
}

/// `[store.redis]` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisFile {
    /// `redis://[user:password@]host:port/db`, or `rediss://` for TLS.
    pub url: String,
    /// Sentinel addresses (`host:port`) to ask for the primary (then `url` gives only the
    /// database, user and password).
    pub sentinels: Vec<String>,
    /// The name the Sentinels monitor the primary under.
    pub master_name: Option<String>,
    /// Replicas that must confirm every commit (`WAIT`) before it is acknowledged.
    pub wait_replicas: u32,
    /// Prefix of every key this gateway writes.
    pub key_prefix: String,
    /// Refuse to start unless the server has `appendonly yes` and `appendfsync always`.
    pub require_fsync: bool,
    /// Milliseconds to wait for a connection or an answer before the request fails (503).
    pub timeout_ms: u64,
    /// Milliseconds a node keeps trusting its cached tokens without news from Redis; after that
    /// proxied calls answer 503 until it hears again.
    pub stale_ms: u64,
}

impl Default for RedisFile {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379/0".into(),
            sentinels: Vec::new(),
            master_name: None,
            wait_replicas: 0,
            key_prefix: "crmgate:".into(),
            require_fsync: true,
            timeout_ms: 1000,
            stale_ms: 2000,
        }
    }
}

pub use crate::store::open::Backend as StoreBackend;

/// The validated `[store]` section.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The backend (resolved against the data dir when the file names none).
    pub backend: StoreBackend,
    /// Whether the file names the backend.
    pub explicit: bool,
    /// How to reach Redis (read with `backend = "redis"` only).
    pub redis: RedisOptions,
}

/// Validates `[store]`; names the backends this build has when another one is asked for.
pub fn validate(doc: &TomlDoc<'_>, s: StoreFile, p: &mut Problems) -> Option<StoreConfig> {
    let line = |key: &str| Some(doc.get("store").map_or(1, |n| doc.key_line(n, key)));
    let explicit = s.backend.is_some();
    let backend = match s
        .backend
        .as_deref()
        .unwrap_or(crate::store::open::DEFAULT.name())
    {
        "sled" => StoreBackend::Sled,
        "redb" => StoreBackend::Redb,
        "redis" => StoreBackend::Redis,
        other => {
            let msg = format!(
                "unknown backend {other:?}; this version has \"sled\", \"redb\" and \"redis\""
            );
            p.push(doc.file(), line("backend"), "store.backend", msg);
            return None;
        }
    };
    let r = s.redis;
    let before = p.0.len();
    if backend == StoreBackend::Redis {
        check_redis(doc, &r, p);
    }
    (p.0.len() == before).then(|| StoreConfig {
        backend,
        explicit,
        redis: RedisOptions {
            url: r.url,
            key_prefix: r.key_prefix,
            require_fsync: r.require_fsync,
            timeout: Duration::from_millis(r.timeout_ms),
            stale_after: Duration::from_millis(r.stale_ms),
            sentinels: r.sentinels,
            master_name: r.master_name.unwrap_or_default(),
            wait_replicas: r.wait_replicas,
        },
    })
}

/// The problems of `[store.redis]`, each with its line.
fn check_redis(doc: &TomlDoc<'_>, r: &RedisFile, p: &mut Problems) {
    let line = |key: &str| {
        let table = doc.get("store").and_then(|n| match n.get_ref() {
            toml::de::DeValue::Table(t) => t.iter().find(|(k, _)| *k.get_ref() == "redis"),
            _ => None,
        });
        Some(table.map_or(1, |(_, node)| doc.key_line(node, key)))
    };
    if !(r.url.starts_with("redis://") || r.url.starts_with("rediss://")) {
        let msg = "must be a redis:// or rediss:// URL";
        p.push(doc.file(), line("url"), "store.redis.url", msg);
    }
    match (r.sentinels.is_empty(), r.master_name.as_deref()) {
        (true, Some(_)) => {
            let msg = "needs store.redis.sentinels (the Sentinels to ask for the primary)";
            p.push(
                doc.file(),
                line("master_name"),
                "store.redis.master_name",
                msg,
            );
        }
        (false, None | Some("")) => {
            let msg = "needs store.redis.master_name (the name the Sentinels monitor)";
            p.push(doc.file(), line("sentinels"), "store.redis.sentinels", msg);
        }
        _ => {}
    }
    for s in &r.sentinels {
        let valid = s
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            let msg = format!("{s:?} is not host:port");
            p.push(doc.file(), line("sentinels"), "store.redis.sentinels", msg);
        }
    }
    if r.wait_replicas > 16 {
        let msg = "must be between 0 and 16";
        p.push(
            doc.file(),
            line("wait_replicas"),
            "store.redis.wait_replicas",
            msg,
        );
    }
    if r.stale_ms < 500 || r.stale_ms > 600_000 {
        let msg = "must be between 500 and 600000 (the change stream is read every 250 ms)";
        p.push(doc.file(), line("stale_ms"), "store.redis.stale_ms", msg);
    }
    if r.timeout_ms == 0 || r.timeout_ms > 60_000 {
        let msg = "must be between 1 and 60000";
        p.push(
            doc.file(),
            line("timeout_ms"),
            "store.redis.timeout_ms",
            msg,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::StoreBackend;

    fn parse(store: &str) -> Result<crate::config::Config, String> {
        let raw = format!("[upstream]\naddress = \"127.0.0.1:1\"\n{store}");
        crate::config::parse(Path::new("/etc/crmgate/crmgate.toml"), &raw)
            .map_err(|p| p.to_string())
    }

    #[test]
    fn sled_is_the_default_and_redis_is_chosen_with_its_server() {
        assert_eq!(parse("").unwrap().store.backend, StoreBackend::Sled);
        let c = parse("[store]\nbackend = \"sled\"\n").unwrap();
        assert_eq!(c.store.backend, StoreBackend::Sled);
        let c =
            parse("[store]\nbackend = \"redis\"\n[store.redis]\nurl = \"redis://127.0.0.1:7/1\"\n")
                .unwrap();
        assert_eq!(c.store.backend, StoreBackend::Redis);
        assert_eq!(c.store.redis.url, "redis://127.0.0.1:7/1");
        assert_eq!(c.store.redis.key_prefix, "crmgate:");
        assert!(c.store.redis.require_fsync);
        let c = parse("[store]\nbackend = \"redb\"\n").unwrap();
        assert_eq!(c.store.backend, StoreBackend::Redb);
        let e = parse("[store]\nbackend = \"mysql\"\n").unwrap_err();
        assert!(
            e.contains("crmgate.toml:4: store.backend: unknown backend \"mysql\""),
            "{e}"
        );
        let e = parse("[store]\npath = \"x\"\n").unwrap_err();
        assert!(e.contains("path"), "{e}");
    }

    #[test]
    fn redis_settings_are_checked() {
        let e =
            parse("[store]\nbackend = \"redis\"\n[store.redis]\nurl = \"http://x\"\n").unwrap_err();
        assert!(
            e.contains("crmgate.toml:6: store.redis.url: must be a redis://"),
            "{e}"
        );
        let e = parse(
            "[store]\nbackend = \"redis\"\n[store.redis]\nsentinels = [\"127.0.0.1:26379\"]\n",
        )
        .unwrap_err();
        assert!(
            e.contains("store.redis.sentinels: needs store.redis.master_name"),
            "{e}"
        );
        let e = parse("[store]\nbackend = \"redis\"\n[store.redis]\nsentinels = [\"nope\"]\nmaster_name = \"m\"\n")
            .unwrap_err();
        assert!(e.contains("\"nope\" is not host:port"), "{e}");
        let ok = "[store]\nbackend = \"redis\"\n[store.redis]\nsentinels = [\"127.0.0.1:26379\"]\nmaster_name = \"m\"\nwait_replicas = 1\n";
        assert!(parse(ok).is_ok(), "{ok}");
        let e = parse("[store]\nbackend = \"redis\"\n[store.redis]\ntimeout_ms = 0\n").unwrap_err();
        assert!(e.contains("store.redis.timeout_ms"), "{e}");
    }
}
