//! A throwaway `redis-server` on a free loopback port for the Redis backend's tests: AOF with
//! `appendfsync always` in a temporary folder, killed (SIGKILL) and restarted on the same files
//! to show what survives a crash. Shared by the unit tests and the black-box tests (each uses a
//! part of it).
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; stopped when dropped.
pub struct TestRedis {
    child: Child,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    /// Its loopback port.
    pub port: u16,
}

impl TestRedis {
    /// Starts a server (the `redis-server` binary must be installed: `apt-get install
    /// redis-server`).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with more arguments (e.g. `--replicaof 127.0.0.1 PORT`).
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let child = spawn(dir.path(), port, &extra);
        let server = Self {
            child,
            dir,
            extra,
            port,
        };
        server.wait_ready();
        server
    }

    /// `redis://` URL of the server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server with SIGKILL (no shutdown save) and starts it again on its files.
    pub fn crash_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.dir.path(), self.port, &self.extra);
        self.wait_ready();
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to the server process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "redis-server did not listen on port {} within 10 s",
            self.port
        );
    }
}

fn spawn(dir: &std::path::Path, port: u16, extra: &[String]) -> Child {
    let port = port.to_string();
    let dir = dir.to_string_lossy().to_string();
    let args = [
        "--port",
        &port,
        "--bind",
        "127.0.0.1",
        "--dir",
        &dir,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    Command::new("redis-server")
        .args(args)
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("the Redis backend tests need redis-server (apt-get install redis-server): {e}")
        })
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-CONT")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
