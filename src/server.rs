//! Start-up: opens the store and key material, loads apps and users, and assembles the pingora
//! server with its services (the proxy, the file watcher, the purge sweeper).

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, ShutdownSignal, ShutdownSignalWatch, ShutdownWatch};
use pingora::services::background::{BackgroundService, background_service};
use tokio::sync::watch;

use crate::clock::SharedClock;
use crate::config::{Config, Problems};
use crate::gateway::Gateway;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::proxy::GatewayProxy;
use crate::registry::live::Directory;
use crate::store::TokenStore;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Configuration, apps or users are invalid.
    #[error("{0}")]
    Config(#[from] Problems),
    /// The pages' word catalog is incomplete.
    #[error("{0}")]
    Catalog(String),
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// `server.listen`.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The data directory cannot be created.
    #[error("cannot create {}: {source}", path.display())]
    DataDir {
        /// `server.data_dir`.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The master key cannot be read or written.
    #[error("{0}")]
    Keys(#[from] crate::keys::KeyError),
    /// The token store cannot be opened.
    #[error("{0}")]
    Store(#[from] crate::store::open::OpenError),
    /// A runtime to read the shared registry with cannot be started.
    #[error("cannot start the runtime that reads the shared registry: {0}")]
    Runtime(String),
    /// The metrics registry refused a metric.
    #[error("{0}")]
    Metrics(#[from] prometheus::Error),
    /// The CRM client of the `upstream` users backend cannot be built.
    #[error("{0}")]
    UsersBackend(#[from] crate::users::upstream::UpstreamError),
    /// `upstream.address` does not resolve.
    #[error("upstream.address {0}: cannot resolve")]
    Resolve(String),
    /// The TLS listener cannot be set up.
    #[error("TLS listener: {0}")]
    Tls(String),
}

/// A built server, ready to run, and the state it serves.
pub struct Built {
    server: Server,
    /// The shared state (tests inspect it; `run` flushes its store at exit).
    pub gateway: Arc<Gateway>,
    store: Arc<dyn TokenStore>,
}

/// Assembles the gateway for `config`, using `clock` for every expiry decision.
pub fn build(config: Config, clock: SharedClock) -> Result<Built, StartError> {
    let config = Arc::new(config);
    crate::oauth::authorize::i18n::check().map_err(StartError::Catalog)?;
    let listen = config.server.listen;
    claim_places(&config)?;
    let data_dir = &config.server.data_dir;
    let key_existed = data_dir.join(crate::keys::MASTER_KEY_FILE).exists();
    let keys = KeyRing::load_or_create(data_dir)?;
    let users_required = config.users.backend == crate::config::UsersBackend::Local;
    note_store_choice(&config);
    let opened = crate::store::open::open(
        config.store.backend,
        &config.store.redis,
        data_dir,
        key_existed,
        &keys,
    )?;
    let directory = load_directory(&config, &keys, users_required, opened.docs.clone())?;
    let store = opened.tokens.clone();
    let metrics = Arc::new(Metrics::new()?);
    let gw = Arc::new(Gateway::new(
        config.clone(),
        directory,
        opened,
        keys,
        clock,
        metrics,
    )?);
    let peer = upstream_peer(&config)?;
    let mut server = Server::new_with_opt_and_conf(None, server_conf(&config));
    server.bootstrap();
    let mut proxy = pingora::proxy::http_proxy_service(
        &server.configuration,
        GatewayProxy::new(gw.clone(), peer),
    );
    if let Some(ops) = config.server.ops_listen {
        proxy.add_tcp(&ops.to_string());
    }
    let listen = listen.to_string();
    match &config.server.tls {
        None => proxy.add_tcp(&listen),
        Some((cert, key)) => proxy
            .add_tls(&listen, &cert.to_string_lossy(), &key.to_string_lossy())
            .map_err(|e| StartError::Tls(e.to_string()))?,
    }
    server.add_service(proxy);
    server.add_service(background_service("reloader", Reloader(gw.clone())));
    server.add_service(background_service("sweeper", Sweeper(gw.clone())));
    Ok(Built {
        server,
        gateway: gw,
        store,
    })
}

impl Built {
    /// Serves until `trigger` fires (in-process gateways: tests, embedding).
    pub fn run_until(self, trigger: TriggerWatch) {
        self.run(Box::new(trigger));
    }

    /// Serves until `shutdown` fires (for `serve`: [`crate::signals::Signals::shutdown_watch`]),
    /// then flushes the store.
    pub fn run(self, shutdown: Box<dyn ShutdownSignalWatch>) {
        self.server.run(RunArgs {
            shutdown_signal: shutdown,
        });
        if let Err(e) = self.store.close() {
            tracing::error!(error = %e, "final flush failed");
        }
    }
}

/// Checks that the listen address is free and the data dir exists: pingora retries a busy
/// address forever, and an operator wants to hear about it at once.
fn claim_places(config: &Config) -> Result<(), StartError> {
    for addr in std::iter::once(config.server.listen).chain(config.server.ops_listen) {
        std::net::TcpListener::bind(addr).map_err(|source| StartError::Listen { addr, source })?;
    }
    let data_dir = &config.server.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|source| StartError::DataDir {
        path: data_dir.clone(),
        source,
    })
}

fn server_conf(config: &Config) -> ServerConf {
    let mut conf = ServerConf {
        threads: config.server.threads,
        work_stealing: config.server.threads > 1,
        grace_period_seconds: Some(config.server.shutdown_grace_seconds),
        graceful_shutdown_timeout_seconds: Some(config.server.shutdown_grace_seconds),
        ..ServerConf::default()
    };
    conf.upstream_keepalive_pool_size = 128;
    conf
}

fn upstream_peer(config: &Config) -> Result<HttpPeer, StartError> {
    let up = &config.upstream;
    let addr = up
        .address
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| StartError::Resolve(up.address.clone()))?;
    let mut peer = HttpPeer::new(addr, up.tls, up.sni.clone());
    peer.options.connection_timeout = Some(up.connect_timeout);
    peer.options.total_connection_timeout = Some(up.connect_timeout * 2);
    peer.options.read_timeout = Some(up.read_timeout);
    peer.options.write_timeout = Some(up.read_timeout);
    peer.options.idle_timeout = Some(Duration::from_secs(60));
    Ok(peer)
}

/// Says in the log when a data dir keeps a store other than the default.
fn note_store_choice(config: &Config) {
    let store = &config.store;
    if !store.explicit && store.backend != crate::store::open::DEFAULT {
        tracing::info!(
            backend = store.backend.name(),
            "{} holds a {} token store: the gateway keeps using it ([store] backend is not set; \
             the default for a new data dir is {})",
            config.server.data_dir.display(),
            store.backend.name(),
            crate::store::open::DEFAULT.name()
        );
    }
}

/// The registry and users: from the files, or from the shared store (seeded from the files).
fn load_directory(
    config: &Config,
    keys: &KeyRing,
    users_required: bool,
    docs: Option<Arc<dyn crate::store::documents::SharedDocs>>,
) -> Result<Directory, StartError> {
    let (apps, users) = (&config.registry_file, &config.users.file);
    let hasher = keys.secrets.clone();
    let Some(docs) = docs else {
        return Ok(Directory::load(apps, users, hasher, users_required)?);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StartError::Runtime(e.to_string()))?;
    let loading = Directory::load_shared(apps, users, hasher, users_required, docs);
    Ok(runtime.block_on(loading)?)
}

/// Applies edits of apps.toml and users.toml (or of the shared documents) within a second.
struct Reloader(Arc<Gateway>);

#[async_trait]
impl BackgroundService for Reloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let wake = self.0.directory.wake().unwrap_or_default();
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => {}
                () = wake.notified() => {}
            }
            self.0.directory.refresh(&self.0.metrics).await;
        }
    }
}

/// Purges expired records so the store stays bounded, and recounts token status per app at
/// start-up and every ten minutes (incremental counts in between). On a shared store the other
/// gateways' tokens count too, so the recount runs every few seconds there: every
/// [`SHARED_CENSUS`], or fifty times as long as the last recount took, whichever is longer.
struct Sweeper(Arc<Gateway>);

/// Time between full recounts of token status on a store only this gateway writes.
const CENSUS_PERIOD: Duration = Duration::from_secs(600);
/// Least time between recounts on a shared store.
const SHARED_CENSUS: Duration = Duration::from_secs(5);

impl Sweeper {
    /// Recounts; how long to wait before the next recount.
    async fn census(&self) -> Duration {
        let gw = self.0.clone();
        let started = std::time::Instant::now();
        match tokio::spawn(async move { gw.tokens.census().await }).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "token census failed"),
            Err(e) => tracing::error!(error = %e, "token census task failed"),
        }
        if self.0.directory.wake().is_some() {
            SHARED_CENSUS.max(started.elapsed() * 50)
        } else {
            CENSUS_PERIOD
        }
    }

    async fn purge(&self) {
        match self.0.tokens.purge_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "expired records purged"),
            Err(e) => tracing::error!(error = %e, "purge failed"),
        }
    }
}

#[async_trait]
impl BackgroundService for Sweeper {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut next_census = tokio::time::Instant::now() + self.census().await;
        let period = Duration::from_secs(self.0.config.tokens.purge_interval);
        let mut purge = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = purge.tick() => self.purge().await,
                () = tokio::time::sleep_until(next_census) => {
                    next_census = tokio::time::Instant::now() + self.census().await;
                }
            }
        }
    }
}

/// Stops an in-process gateway (tests and the demo).
#[derive(Clone)]
pub struct ShutdownTrigger(watch::Sender<bool>);

impl ShutdownTrigger {
    /// Asks the server to stop at once.
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

/// The waiting side of a [`ShutdownTrigger`]; pass it to [`Built::run_until`].
pub struct TriggerWatch(watch::Receiver<bool>);

#[async_trait]
impl ShutdownSignalWatch for TriggerWatch {
    async fn recv(&self) -> ShutdownSignal {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|fired| *fired).await;
        ShutdownSignal::FastShutdown
    }
}

/// A trigger and the watch to pass to [`Built::run_until`].
pub fn shutdown_trigger() -> (ShutdownTrigger, TriggerWatch) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), TriggerWatch(rx))
}
