//! `crmgate registry pull|push`: the shared registry (or users) as a TOML file.

use super::RegistryAction;
use crate::keys::KeyRing;
use crate::{config, users};

pub fn run(action: RegistryAction) -> Result<(), String> {
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
