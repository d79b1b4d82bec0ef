//! `crmgate store` (report) and `crmgate store migrate` (sled to redb), on a stopped gateway.

use std::path::Path;

use crate::clock::SystemClock;
use crate::config;

pub fn report(path: &Path) -> Result<(), String> {
    let config = config::load(path).map_err(|p| p.to_string())?;
    let text = crate::store::report::report(config.store.backend, &config.server.data_dir)?;
    print!("{text}");
    Ok(())
}

pub fn migrate(path: &Path) -> Result<(), String> {
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
