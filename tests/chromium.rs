//! A real browser through the authorization code flow: headless Chromium (Debian's `chromium`,
//! driven by `playwright-core` from `tests/browser/`) opens the authorize link, signs in on the
//! gateway's login page, clicks Allow on the consent screen and is redirected to the app, here a
//! small callback server of this test on a loopback port. The code it brings is exchanged at the
//! token endpoint, and the token must act as the user who signed in.
//!
//! Needs Node.js with npm (`npm ci --prefix tests/browser` is run here when
//! `tests/browser/node_modules` is missing) and `/usr/bin/chromium` (`apt-get install chromium`)
//! or `CRMGATE_TEST_CHROMIUM`; without them this test fails, it never skips. Screenshots of the
//! login and consent pages are left in `target/tmp/chromium/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::browser::{authorize_url, code_and_state, exchange, web_app};
use common::*;

const WEB_ID: &str = "vte_chromium_web";
const WEB_SECRET: &str = "chromium-web-s3cret";
const SCOPE: &str = "rest.all.read";
const STATE: &str = "chromium state/+ =&x";
/// How long the browser may take for the whole flow.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// The app's redirect URI: answers every request with 200 "callback ok" and records the
/// request lines.
struct CallbackServer {
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CallbackServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (lines.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        if let Some(line) = answer(conn) {
                            l.lock().unwrap().push(line);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self {
            port,
            lines,
            stop,
            thread: Some(thread),
        }
    }

    fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request head and answers it; returns the request line.
fn answer(conn: TcpStream) -> Option<String> {
    conn.set_nonblocking(false).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut header = String::new();
    while reader.read_line(&mut header).ok()? > 2 {
        header.clear();
    }
    let body = "callback ok";
    let mut conn = reader.into_inner();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(response.as_bytes()).ok()?;
    Some(line.trim_end().to_string())
}

fn show(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `tests/browser/node_modules` with playwright-core, installed with `npm ci` if missing.
fn playwright(root: &Path) -> PathBuf {
    let browser = root.join("tests/browser");
    if !browser
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&browser)
            .current_dir(root)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run npm ({e}): install Node.js 20+ with npm (apt-get install npm)")
            });
        assert!(
            out.status.success(),
            "`npm ci --prefix tests/browser` failed\n{}",
            show(&out)
        );
    }
    browser.join("authorize.mjs")
}

fn chromium() -> String {
    let path =
        std::env::var("CRMGATE_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&path).exists(),
        "no Chromium at {path}: run `apt-get install -y chromium` or set CRMGATE_TEST_CHROMIUM"
    );
    path
}

/// Runs `cmd` to its end, killing it after `limit`.
fn run_with_limit(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): install Node.js 20+"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = Output {
                status: child.wait().unwrap(),
                stdout: stdout.join().unwrap(),
                stderr: stderr.join().unwrap(),
            };
            panic!(
                "the browser did not finish within {limit:?}\n{}",
                show(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

#[test]
fn chromium_signs_in_allows_and_the_app_gets_a_working_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = chromium();
    let script = playwright(root);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chromium");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();

    let callback = CallbackServer::start();
    let redirect = callback.redirect_uri();
    let apps = [
        settings(true, false),
        web_app(WEB_ID, WEB_SECRET, SCOPE, &redirect, true),
    ]
    .concat();
    let h = Harness::start(&apps);
    let link = authorize_url(&h, WEB_ID, &redirect, STATE, None);

    let out = run_with_limit(
        Command::new("node")
            .current_dir(root)
            .arg(&script)
            .args([link.as_str(), "bruna", "bruna-pw"])
            .arg(&shots)
            .env("CRMGATE_TEST_CHROMIUM", &chromium)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost"),
        BROWSER_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "the browser did not get through (screenshots in {})\n{}\n--- gateway log ---\n{}",
        shots.display(),
        show(&out),
        h.log()
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let final_url = stdout.lines().last().unwrap_or_default().trim().to_string();
    println!("the browser ended at {final_url}");

    // The browser landed on the redirect URI with a code and our state.
    let (code, state) = code_and_state(&final_url, &redirect);
    assert_eq!(state, STATE);
    // ... and the app's server got exactly that request.
    let url = url::Url::parse(&final_url).unwrap();
    let expected = format!("GET {}?{} HTTP/1.1", url.path(), url.query().unwrap());
    let lines = callback.lines();
    assert!(
        lines.contains(&expected),
        "the callback server got {lines:?}, expected {expected:?}"
    );

    // The screenshots are there.
    for name in ["login.png", "consent.png"] {
        let png = std::fs::read(shots.join(name)).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is not a PNG");
    }

    // The app exchanges the code and acts as bruna, and only as bruna.
    let tokens = exchange(&h, WEB_ID, Some(WEB_SECRET), &code, &redirect, None);
    assert_eq!(tokens["scope"], SCOPE);
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let r = h.query_invoices(access);
    assert_eq!(r.status(), 200);
    let body = json(r);
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["7x3", "7x4"], "the app must see bruna's rows: {body}");
    assert_eq!(h.last_received().header_values("x-crm-user"), ["bruna"]);
}
