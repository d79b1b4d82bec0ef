//! Mistakes and habits of the operator: TLS files that are missing, unreadable, not PEM, not a
//! pair; and the signals a process supervisor or an operator sends (SIGHUP reloads apps and
//! users, SIGTERM and SIGQUIT stop gracefully, SIGINT at once).
//!
//! Every broken TLS setup must be refused by `check` and by `serve` (before it listens) with
//! `crmgate.toml:LINE: server.tls_cert|tls_key: ...` naming the file, exit status 1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const ID: &str = "vte_0f000000000000000001";
const SECRET: &str = "operator-faults-secret";

fn apps() -> String {
    format!(
        "{}{}",
        settings(true, false),
        secret_app(ID, SECRET, "rest.all", "aldo")
    )
}

// ---------------------------------------------------------------------------------------------
// TLS files

/// What is at the path a TLS key names.
enum Put {
    /// Nothing.
    Missing,
    /// A file with these bytes.
    Bytes(Vec<u8>),
    /// A directory.
    Directory,
    /// A file with these bytes that only root may read (mode 000).
    Unreadable(Vec<u8>),
}

fn put(path: &Path, what: &Put) {
    use std::os::unix::fs::PermissionsExt;
    match what {
        Put::Missing => {}
        Put::Bytes(b) => std::fs::write(path, b).unwrap(),
        Put::Directory => std::fs::create_dir(path).unwrap(),
        Put::Unreadable(b) => {
            std::fs::write(path, b).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o000)).unwrap();
        }
    }
}

fn pair() -> (String, String) {
    let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    (c.cert.pem(), c.signing_key.serialize_pem())
}

/// A config folder whose crmgate.toml names `cert.pem` (line 4) and `key.pem` (line 5).
fn tls_folder(cert: &Put, key: &Put) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\ntls_cert = \"cert.pem\"\n\
         tls_key = \"key.pem\"\n\n[upstream]\naddress = \"127.0.0.1:9\"\n"
    );
    std::fs::write(dir.path().join("crmgate.toml"), config).unwrap();
    std::fs::write(dir.path().join("apps.toml"), apps()).unwrap();
    std::fs::write(
        dir.path().join("users.toml"),
        "[[users]]\nusername = \"aldo\"\n",
    )
    .unwrap();
    put(&dir.path().join("cert.pem"), cert);
    put(&dir.path().join("key.pem"), key);
    dir
}

/// Runs `crmgate <command> --config` for at most `within`; exit code (None: still running, then
/// killed) and stderr.
fn run(dir: &Path, command: &str, within: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crmgate"))
        .args([command, "--config"])
        .arg(dir.join("crmgate.toml"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + within;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (code, err)
}

/// The faults `check` and `serve` must refuse: (case, cert, key, expected problem prefix).
fn tls_faults() -> Vec<(&'static str, Put, Put, &'static str)> {
    let (cert, key) = pair();
    let (_, other_key) = pair();
    let der = rcgen::generate_simple_self_signed(vec!["x".into()])
        .unwrap()
        .cert
        .der()
        .to_vec();
    let bytes = |s: &str| Put::Bytes(s.as_bytes().to_vec());
    let (c, k) = (
        "crmgate.toml:4: server.tls_cert: ",
        "crmgate.toml:5: server.tls_key: ",
    );
    let bad_armor = |label: &str| format!("-----BEGIN {label}-----\nAAAA\n-----END {label}-----\n");
    let mut faults = vec![
        ("cert missing", Put::Missing, bytes(&key), c),
        ("key missing", bytes(&cert), Put::Missing, k),
        (
            "cert not PEM",
            bytes("hello, I am a certificate\n"),
            bytes(&key),
            c,
        ),
        ("cert in DER", Put::Bytes(der), bytes(&key), c),
        ("cert file holds a key", bytes(&key), bytes(&key), c),
        ("a cert without a key", bytes(&cert), bytes(&cert), k),
        ("key of another cert", bytes(&cert), bytes(&other_key), k),
        ("cert empty", bytes(""), bytes(&key), c),
        ("key empty", bytes(&cert), bytes(""), k),
        ("cert a directory", Put::Directory, bytes(&key), c),
        (
            "cert armor, no cert",
            bytes(&bad_armor("CERTIFICATE")),
            bytes(&key),
            c,
        ),
        (
            "key armor, no key",
            bytes(&cert),
            bytes(&bad_armor("PRIVATE KEY")),
            k,
        ),
    ];
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let unreadable = Put::Unreadable(key.clone().into_bytes());
        faults.push(("key unreadable", bytes(&cert), unreadable, k));
    }
    faults
}

#[test]
fn broken_tls_files_are_refused_by_check_and_serve() {
    let mut failures = Vec::new();
    for (case, cert, key, problem) in tls_faults() {
        let dir = tls_folder(&cert, &key);
        let file = if problem.contains("tls_cert") {
            "cert.pem"
        } else {
            "key.pem"
        };
        let named = |err: &str| err.contains(problem) && err.contains(file);
        let (code, err) = run(dir.path(), "check", Duration::from_secs(20));
        if code != Some(1) || !named(&err) {
            failures.push(format!("check, {case}: exit {code:?}: {err}"));
        }
        let (code, err) = run(dir.path(), "serve", Duration::from_secs(5));
        if code != Some(1) || !named(&err) || err.contains("listening") {
            failures.push(format!("serve, {case}: exit {code:?}: {err}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
    // Control: a good pair passes check, and serve speaks HTTPS with it.
    let (cert, key) = pair();
    let dir = tls_folder(
        &Put::Bytes(cert.clone().into()),
        &Put::Bytes(key.clone().into()),
    );
    let (code, out) = run(dir.path(), "check", Duration::from_secs(20));
    assert_eq!(code, Some(0), "{out}");
    let h = Harness::start_with(
        &apps(),
        Options {
            tls: Some((cert, key)),
            ..Options::default()
        },
    );
    let t = h.token(ID, SECRET);
    assert_eq!(h.query_invoices(&t).status(), 200);
}

// ---------------------------------------------------------------------------------------------
// Signals

/// How many times the log contains `needle`.
fn count(h: &Harness, needle: &str) -> usize {
    h.log().matches(needle).count()
}

#[test]
fn sighup_reloads_apps_and_users_and_says_so() {
    let mut h = Harness::start(&apps());
    let t = h.token(ID, SECRET);
    h.signal(libc::SIGHUP);
    let line = "reloaded on SIGHUP: apps.toml (1 apps), users.toml (4 users)";
    h.eventually("the reload is logged", || h.log().contains(line));
    assert!(h.is_running(), "SIGHUP stopped the gateway: {}", h.log());
    assert_eq!(h.query_invoices(&t).status(), 200);
    // An edit read on SIGHUP: the second app exists at once.
    let two = format!(
        "{}{}",
        apps(),
        secret_app("vte_0f000000000000000002", "s2", "rest.all", "bruna")
    );
    h.write_apps(&two);
    h.signal(libc::SIGHUP);
    h.eventually("the edit is reloaded", || {
        h.log()
            .contains("reloaded on SIGHUP: apps.toml (2 apps), users.toml (4 users)")
    });
    assert_eq!(h.token("vte_0f000000000000000002", "s2").len(), 50);
}

#[test]
fn sighup_with_a_broken_file_keeps_the_last_good_one() {
    let mut h = Harness::start(&apps());
    let t = h.token(ID, SECRET);
    let users = std::fs::read_to_string(h.path("users.toml")).unwrap();
    h.write_apps(&apps().replace("scope = \"rest.all\"", "scope = \"rest.everything\""));
    h.signal(libc::SIGHUP);
    h.eventually("the refusal is logged", || {
        h.log()
            .contains("not applied on SIGHUP: apps.toml; the last good version stays")
    });
    let log = h.log();
    assert!(
        log.contains("apps[0].scope"),
        "the reason is not logged: {log}"
    );
    assert!(
        log.contains("reloaded on SIGHUP: users.toml (4 users)"),
        "{log}"
    );
    assert!(h.is_running());
    assert_eq!(
        h.query_invoices(&t).status(),
        200,
        "the broken file was applied"
    );
    // The users file broken, apps good again.
    h.write_apps(&apps());
    std::fs::write(h.path("users.toml"), "[[users]\n").unwrap();
    h.signal(libc::SIGHUP);
    h.eventually("the users refusal is logged", || {
        h.log()
            .contains("not applied on SIGHUP: users.toml; the last good version stays")
    });
    assert!(
        h.log().contains("reloaded on SIGHUP: apps.toml (1 apps)"),
        "{}",
        h.log()
    );
    assert_eq!(h.query_invoices(&t).status(), 200);
    // Control: both files good, and SIGHUP applies both.
    std::fs::write(h.path("users.toml"), users).unwrap();
    h.signal(libc::SIGHUP);
    let both = "reloaded on SIGHUP: apps.toml (1 apps), users.toml (4 users)";
    h.eventually("both applied", || count(&h, both) == 1);
    assert_eq!(h.query_invoices(&t).status(), 200);
}

#[test]
fn sighup_during_start_up_does_not_kill_the_gateway() {
    let opts = Options {
        signal_while_starting: Some(libc::SIGHUP),
        ..Options::default()
    };
    let mut h = Harness::start_with(&apps(), opts);
    assert!(
        h.signals_sent > 0,
        "no SIGHUP landed during start-up: {}",
        h.log()
    );
    assert!(h.is_running());
    h.eventually("the early SIGHUP is honoured once started", || {
        h.log().contains("reloaded on SIGHUP: apps.toml (1 apps)")
    });
    // Control: the gateway serves.
    let t = h.token(ID, SECRET);
    assert_eq!(h.query_invoices(&t).status(), 200);
}

/// A CRM that answers every request after `delay`; its address.
fn slow_crm(delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                std::thread::sleep(delay);
                let body = "{\"slow\":true}";
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    addr
}

/// A gateway in front of a CRM that takes 1.5 s per answer.
fn slow_gateway(grace: u64) -> Harness {
    let opts = Options {
        upstream_address: Some(slow_crm(Duration::from_millis(1500))),
        shutdown_grace_seconds: grace,
        ..Options::default()
    };
    Harness::start_with(&apps(), opts)
}

/// Starts a pass-through request (answered by the slow CRM) on its own thread.
fn in_flight(h: &Harness) -> std::thread::JoinHandle<Result<u16, String>> {
    let (http, url) = (h.http.clone(), h.url("/index.php"));
    let call = std::thread::spawn(move || {
        http.get(url)
            .send()
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    });
    std::thread::sleep(Duration::from_millis(400));
    call
}

#[test]
fn sigterm_and_sigquit_let_in_flight_requests_finish() {
    for sig in [libc::SIGTERM, libc::SIGQUIT] {
        let mut h = slow_gateway(3);
        let call = in_flight(&h);
        let sent = Instant::now();
        h.signal(sig);
        assert_eq!(call.join().unwrap(), Ok(200), "signal {sig}: {}", h.log());
        let status = h.wait_exit(Duration::from_secs(15));
        assert!(
            status.is_some_and(|s| s.success()),
            "signal {sig}: {status:?}\n{}",
            h.log()
        );
        let took = sent.elapsed();
        assert!(
            took < Duration::from_secs(12),
            "signal {sig}: stopped after {took:?}"
        );
        // Pingora's upgrade hand-over would offer the listening socket to whoever listens on
        // its socket path: never.
        assert!(!h.log().contains("Trying to send socks"), "{}", h.log());
    }
}

#[test]
fn sigint_stops_at_once() {
    let mut h = slow_gateway(30);
    let call = in_flight(&h);
    let sent = Instant::now();
    h.signal(libc::SIGINT);
    let status = h.wait_exit(Duration::from_secs(10));
    let took = sent.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        h.log()
    );
    assert!(took < Duration::from_secs(3), "SIGINT took {took:?}");
    let _ = call.join();
    // Control: the same data dir starts again (the store was closed cleanly).
    h.restart();
    let t = h.token(ID, SECRET);
    assert!(t.starts_with("crm_at_"));
}
