//! The command line: `serve`, `demo`, `check`, `hash-password`, `store` and `registry pull|push`,
//! as the contract names them.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

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
    /// Read a password on stdin and print its argon2id PHC string.
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
enum RegistryAction {
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
        Command::HashPassword => hash_stdin(),
        Command::Registry { action } => registry_command(action),
        Command::Store {
            action: None,
            config,
        } => store_report(&config),
        Command::Store {
            action: Some(StoreAction::Migrate { config }),
            ..
        } => store_migrate(&config),
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

fn store_report(path: &Path) -> Result<(), String> {
    let config = config::load(path).map_err(|p| p.to_string())?;
    let text = crate::store::report::report(config.store.backend, &config.server.data_dir)?;
    print!("{text}");
    Ok(())
}

fn store_migrate(path: &Path) -> Result<(), String> {
    let config = config::load(path).map_err(|p| p.to_string())?;
    let now = crate::clock::Clock::now(&SystemClock);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let done = runtime.block_on(crate::store::migrate::sled_to_redb(
        &config.server.data_dir,
        now,
    ))?;
    println!("{done}");
    Ok(())
}

fn registry_command(action: RegistryAction) -> Result<(), String> {
    use crate::registry::transfer::{self, PushContext};
    use crate::store::documents::DocName;
    let (config_path, users) = match &action {
        RegistryAction::Pull { config, users, .. } | RegistryAction::Push { config, users, .. } => {
            (config, *users)
        }
    };
    let config = config::load(config_path).map_err(|p| p.to_string())?;
    if config.store.backend != crate::store::open::Backend::Redis {
        return Err(format!(
            "{}: the registry is shared only with [store] backend = \"redis\"; edit {} instead",
            config_path.display(),
            config.registry_file.display()
        ));
    }
    let data_dir = &config.server.data_dir;
    if !data_dir.join(crate::keys::MASTER_KEY_FILE).exists() {
        return Err(format!(
            "{}: no {} here: run this where a gateway of this store keeps its data_dir",
            data_dir.display(),
            crate::keys::MASTER_KEY_FILE
        ));
    }
    let keys = KeyRing::load_or_create(data_dir).map_err(|e| e.to_string())?;
    let opened = crate::store::open::open(
        config.store.backend,
        &config.store.redis,
        data_dir,
        true,
        &keys,
    )
    .map_err(|e| e.to_string())?;
    let docs = opened.docs.ok_or("the store has no shared documents")?;
    let doc = if users { DocName::Users } else { DocName::Apps };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let message = runtime.block_on(async {
        match action {
            RegistryAction::Pull { file, .. } => transfer::pull(&*docs, doc, &file).await,
            RegistryAction::Push { file, force, .. } => {
                let required = config.users.backend == config::UsersBackend::Local;
                let ctx = PushContext {
                    doc,
                    hasher: &keys.secrets,
                    local_users: users::load_if(&config.users.file, required).unwrap_or_default(),
                    force,
                };
                transfer::push(&*docs, ctx, &file).await
            }
        }
    })?;
    println!("{message}");
    Ok(())
}

fn hash_stdin() -> Result<(), String> {
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    let password = input.strip_suffix('\n').unwrap_or(&input);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err("empty password on stdin".into());
    }
    println!("{}", crate::generate::hash_password(password)?);
    Ok(())
}
