//! A gateway running inside the test process with an injected clock, for expiry tests that must
//! not sleep.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crmgate::demo::crm::{CrmAuth, DemoCrm};
use reqwest::blocking::Client;

use super::{Options, free_port, is_our_gateway, users, users_toml, write_config};

/// A gateway running inside the test process with an injected clock (for expiry tests).
pub struct InProcess {
    pub dir: tempfile::TempDir,
    pub crm: DemoCrm,
    pub base: String,
    pub http: Client,
    trigger: crmgate::server::ShutdownTrigger,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcess {
    /// Starts with `apps` and `clock`.
    pub fn start(apps: &str, clock: crmgate::clock::ManualClock) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let crm = DemoCrm::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            users(),
            CrmAuth::Basic,
        )
        .unwrap();
        std::fs::write(dir.path().join("users.toml"), users_toml()).unwrap();
        std::fs::write(dir.path().join("apps.toml"), apps).unwrap();
        let mut attempts = 0;
        let (port, built) = loop {
            attempts += 1;
            let port = free_port();
            write_config(dir.path(), port, crm.addr(), &Options::default());
            let config = crmgate::config::load(&dir.path().join("crmgate.toml")).unwrap();
            match crmgate::server::build(config, std::sync::Arc::new(clock.clone())) {
                Ok(built) => break (port, built),
                Err(e) if attempts < 5 && e.to_string().contains("cannot listen") => continue,
                Err(e) => panic!("in-process gateway: {e}"),
            }
        };
        let (trigger, watch) = crmgate::server::shutdown_trigger();
        let thread = std::thread::spawn(move || built.run_until(watch));
        let http = Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !is_our_gateway(&http, &base, &base) {
            assert!(
                Instant::now() < deadline,
                "in-process gateway did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            dir,
            crm,
            base,
            http,
            trigger,
            thread: Some(thread),
        }
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.trigger.fire();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
