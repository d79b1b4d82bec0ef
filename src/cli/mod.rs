//! The command line: `serve`, `demo`, `check`, `hash-password`, `store` and `registry pull|push`,
//! as the contract names them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

mod password;
mod registry_cmd;
mod store_cmd;

use crate::clock::SystemClock;
use crate::keys::KeyRing;
use crate::signals::Signals;
use crate::{config, logging, registry, server, users};

/// An OAuth 2.0 gateway in front of a vtenext CRM's REST API.
#[derive(Parser)]
#[command(name = "crmgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway with a config file.
    ///
    /// Signals: SIGTERM (and SIGQUIT) stop gracefully: no new connections, in-flight requests
    /// get `server.shutdown_grace_seconds`, the store is flushed. SIGINT (Ctrl-C) stops at once.
    /// SIGHUP re-reads apps.toml and users.toml (validated; a file with problems is not applied
    /// and the log names them), or with a shared store the shared registry and users.
    Serve {
        /// Path of crmgate.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the gateway in front of a built-in demo CRM and print a walkthrough.
    Demo {
        /// Address the demo gateway listens on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Keep the demo's state on this Redis (`redis://127.0.0.1:6390/0`) and prepare two
        /// more gateways sharing it.
        #[arg(long)]
        redis: Option<String>,
    },
    /// Validate the config, apps and users files; exit 1 on any problem.
    Check {
        /// Path of crmgate.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the argon2id PHC string of a password: typed at a terminal (no echo, twice), or
    /// the first line of stdin.
    HashPassword,
    /// Report what the data dir's token store holds and check its integrity (gateway stopped).
    Store {
        /// `migrate`: move a sled store to redb.
        #[command(subcommand)]
        action: Option<StoreAction>,
        /// Path of crmgate.toml.
        #[arg(long, default_value = "crmgate.toml")]
        config: PathBuf,
    },
    /// The registry (or users) shared by gateways on one store, as a TOML file.
    Registry {
        #[command(subcommand)]
        action: RegistryAction,
    },
}

#[derive(Subcommand)]
enum StoreAction {
    /// Move the stopped gateway's sled store to redb (the sled folder is kept as a backup).
    Migrate {
        /// Path of crmgate.toml.
        #[arg(long, default_value = "crmgate.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
pub(crate) enum RegistryAction {
    /// Write the shared registry into FILE (with a first line naming its version).
    Pull {
        /// Where to write it.
        file: PathBuf,
        /// The users document instead of the registry.
        #[arg(long)]
        users: bool,
        /// Path of crmgate.toml.
        #[arg(long, default_value = "crmgate.toml")]
        config: PathBuf,
    },
    /// Validate FILE and make it the shared registry, unless it changed since FILE was pulled.
    Push {
        /// The edited file.
        file: PathBuf,
        /// The users document instead of the registry.
        #[arg(long)]
        users: bool,
        /// Replace the shared document even if it changed since FILE was pulled.
        #[arg(long)]
        force: bool,
        /// Path of crmgate.toml.
        #[arg(long, default_value = "crmgate.toml")]
        config: PathBuf,
    },
}

/// Runs the command line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => serve(&config),
        Command::Demo { listen, redis } => crate::demo::run(listen, redis.as_deref()),
        Command::Check { config } => check(&config),
        Command::HashPassword => password::run(),
        Command::Registry { action } => registry_cmd::run(action),
        Command::Store {
            action: None,
            config,
        } => store_cmd::report(&config),
        Command::Store {
            action: Some(StoreAction::Migrate { config }),
            ..
        } => store_cmd::migrate(&config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

fn serve(path: &Path) -> Result<(), String> {
    // First of all: from here on no signal meets its default action (SIGHUP would kill).
    let signals = Signals::install().map_err(|e| e.to_string())?;
    let config = config::load(path).map_err(|p| p.to_string())?;
    logging::init(&config.logging.level, config.logging.json);
    tracing::info!(config = %path.display(), "crmgate starting");
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let listen = config.server.listen;
    let built = server::build(config, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    signals.attach(built.gateway.clone());
    tracing::info!(%listen, "crmgate listening");
    built.run(signals.shutdown_watch());
    Ok(())
}

/// Validates everything `serve` would load, reporting all problems at once.
pub fn check(path: &Path) -> Result<(), String> {
    let config = config::load(path).map_err(|p| p.to_string())?;
    let hasher = KeyRing::from_master(&[0; 32]).secrets;
    let users = users::load_if(
        &config.users.file,
        config.users.backend == config::UsersBackend::Local,
    );
    let apps = registry::load(
        &config.registry_file,
        &hasher,
        users.as_ref().unwrap_or(&Default::default()),
    );
    let mut problems = config::Problems::default();
    if let Err(p) = &users {
        problems.extend(p.clone());
    }
    if let Err(p) = &apps {
        problems.extend(p.clone());
    }
    if !problems.is_empty() {
        return Err(problems.to_string());
    }
    for w in &config.warnings {
        println!("warning: {w}");
    }
    if config.store.backend == crate::store::open::Backend::Redis {
        check_redis(&config.store.redis)?;
    }
    let n_apps = apps.map(|r| r.apps.len()).unwrap_or_default();
    let n_users = users.map(|u| u.len()).unwrap_or_default();
    println!("ok: {} ({n_apps} apps, {n_users} users)", path.display());
    Ok(())
}

/// Connects to the shared store and says whether it makes every write durable.
fn check_redis(opts: &crate::store::redis_store::RedisOptions) -> Result<(), String> {
    let store = crate::store::redis_store::RedisStore::open(opts).map_err(|e| e.to_string())?;
    let p = store.persistence();
    let append = if p.append_only { "yes" } else { "no" };
    if p.durable() {
        println!(
            "store: redis answers; appendonly {append}, appendfsync {}: every acknowledged write is on its disk",
            p.fsync
        );
    } else {
        println!(
            "warning: store: redis answers; appendonly {append}, appendfsync {}: a crash of Redis may lose acknowledged writes (store.redis.require_fsync = false)",
            p.fsync
        );
    }
    Ok(())
}
