//! The built-in demo: a small vtews look-alike CRM, demo users and apps in a temporary folder,
//! and the walkthrough `crmgate demo` prints.

pub mod callback;
pub mod crm;
pub mod data;
pub mod nodes;
pub mod setup;
pub mod vtews;
pub mod walkthrough;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::clock::SystemClock;
use crate::server;
use crate::signals::Signals;

/// Runs the demo until Ctrl-C or SIGTERM (SIGHUP reloads its files); with `redis`, on that
/// shared store, with two more gateways' folders ready to start. Returns a message on failure.
pub fn run(listen: SocketAddr, redis: Option<&str>) -> Result<(), String> {
    let signals = Signals::install().map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("crmgate-demo-{}", crate::generate::random_hex(6)));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = run_in(listen, &dir, &signals, redis);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(
    listen: SocketAddr,
    dir: &Path,
    signals: &Signals,
    redis: Option<&str>,
) -> Result<(), String> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let users = setup::users();
    let crm = crm::DemoCrm::start(loopback, users.clone(), crm::CrmAuth::Basic)
        .map_err(|e| format!("demo CRM: {e}"))?;
    let demo = setup::Demo {
        users,
        ..setup::Demo::new(crm.addr())
    };
    let base = format!("http://{listen}");
    for app in [&demo.web, &demo.native] {
        crm.set_callback(app.slug, &walkthrough::exchange_command(&base, app));
    }
    setup::write(dir, listen, crm.addr(), &demo).map_err(|e| e.to_string())?;
    let nodes = match redis {
        Some(url) => nodes::write(dir, crm.addr(), url).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let config = crate::config::load(&dir.join("crmgate.toml")).map_err(|p| p.to_string())?;
    crate::logging::init(&config.logging.level, config.logging.json);
    let built =
        server::build(config, std::sync::Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    let text = walkthrough::text(listen, crm.addr(), dir, &demo, &nodes);
    // Print once the listener accepts, so the first command of the walkthrough works.
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(listen).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        println!("{text}");
    });
    signals.attach(built.gateway.clone());
    built.run(signals.shutdown_watch());
    Ok(())
}
