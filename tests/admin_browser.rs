//! The admin page (`/gateway/admin/`) and the "Connected applications" page
//! (`/gateway/account/`) in a real browser: headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from `tests/browser/`, script `tests/browser/admin.mjs`) clicks through
//! them while this test checks over HTTP, between the clicks, what each one did to tokens,
//! the API and `apps.toml`.
//!
//! The script stops after each state and prints `step <name> <json>`; the test checks and
//! answers `ok` on its stdin. The script fails on console errors, page errors, HTTP error
//! answers and CSP violations (except the 401 of the session probe before signing in and the
//! favicon), and every wait on either side is bounded.
//!
//! Needs Node.js with npm (`npm ci --prefix tests/browser` is run here when
//! `tests/browser/node_modules` is missing) and `/usr/bin/chromium` (`apt-get install chromium`)
//! or `CRMGATE_TEST_CHROMIUM`; without them these tests fail, they never skip. Screenshots of
//! every page and state are left in `target/tmp/admin-browser/{admin,account}/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::browser::{Browser, WEB, WEB_CB, WEB_SECRET, authorize_url, code_and_state, exchange};
use common::*;
use serde_json::{Value, json};

/// How long the test may wait for the browser to reach the next step.
const STEP_TIMEOUT: Duration = Duration::from_secs(90);
/// How long one browser run may take in all.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// How long `npm ci` may take.
const NPM_TIMEOUT: Duration = Duration::from_secs(300);

fn show(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `tests/browser/admin.mjs`, with playwright-core installed by `npm ci` if missing.
fn script(root: &Path) -> PathBuf {
    let browser = root.join("tests/browser");
    if !browser
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        let mut child = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&browser)
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run npm ({e}): install Node.js 20+ with npm (apt-get install npm)")
            });
        let deadline = Instant::now() + NPM_TIMEOUT;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "`npm ci --prefix tests/browser` failed (or took over {NPM_TIMEOUT:?})\n{}",
            show(&out)
        );
    }
    browser.join("admin.mjs")
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

/// An empty `target/tmp/admin-browser/<name>/` for the screenshots.
fn shots_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("admin-browser")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The browser script, run step by step.
struct Run {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
    deadline: Instant,
    shots: PathBuf,
    gateway_log: PathBuf,
}

impl Run {
    /// Starts `node tests/browser/admin.mjs <args>` against the gateway of `h`.
    fn start(h: &Harness, scenario: &str, shots: &Path, args: &[&str]) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let chromium = chromium();
        let script = script(root);
        let mut child = Command::new("node")
            .current_dir(root)
            .arg(&script)
            .arg(scenario)
            .arg(&h.base)
            .arg(shots)
            .args(args)
            .env("CRMGATE_TEST_CHROMIUM", &chromium)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node ({e}): install Node.js 20+"));
        let stdin = child.stdin.take();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (mut pipe, sink) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Self {
            child,
            stdin,
            lines,
            stderr,
            deadline: Instant::now() + RUN_TIMEOUT,
            shots: shots.to_path_buf(),
            gateway_log: h.path("gateway.log"),
        }
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Fails the test with what the browser said.
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what} (screenshots in {})\n--- browser stderr ---\n{}",
            self.shots.display(),
            self.stderr()
        );
    }

    /// The next stdout line, within the step timeout and the run's deadline.
    fn line(&self, waiting_for: &str) -> String {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(STEP_TIMEOUT.min(left)) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                self.fail(&format!("the browser did not reach {waiting_for} in time"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.fail(&format!("the browser stopped before {waiting_for}"))
            }
        }
    }

    /// Waits for step `name` and returns its data; the browser waits until [`Run::ok`].
    fn step(&self, name: &str) -> Value {
        let line = self.line(&format!("step {name}"));
        let Some(rest) = line.strip_prefix(&format!("step {name} ")) else {
            self.fail(&format!("expected step {name}, the browser said {line:?}"));
        };
        eprintln!("step {name}");
        serde_json::from_str(rest).unwrap()
    }

    /// Lets the browser go on to the next step.
    fn ok(&mut self) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(b"ok\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for the end of the run, which must be a success; returns the screenshots folder.
    fn finish(mut self) -> PathBuf {
        let last = self.line("the end");
        if last != "done" {
            self.fail(&format!("expected done, the browser said {last:?}"));
        }
        self.stdin = None;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > self.deadline {
                self.fail("the browser did not exit in time");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if !status.success() {
            self.fail(&format!("the browser exited with {status}"));
        }
        eprintln!("{}", self.stderr());
        self.shots.clone()
    }
}

impl Drop for Run {
    /// Closing stdin makes the script stop and close Chromium; it is killed if it does not.
    fn drop(&mut self) {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(15);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- browser stderr ---\n{}", self.stderr());
            let log = std::fs::read_to_string(&self.gateway_log).unwrap_or_default();
            eprintln!("--- gateway log ---\n{log}");
        }
    }
}

/// Every `<name>.png` is in `dir` and is a PNG.
fn assert_screenshots(dir: &Path, names: &[&str]) {
    for name in names {
        let path = dir.join(format!("{name}.png"));
        let png = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{name}.png is not a PNG"
        );
    }
}

/// The `[[apps]]` entry of `client_id` in the gateway's apps.toml, if there is one.
fn app_in_file(h: &Harness, client_id: &str) -> Option<toml::Value> {
    let text = std::fs::read_to_string(h.path("apps.toml")).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    file.get("apps")?
        .as_array()?
        .iter()
        .find(|a| a.get("client_id").and_then(toml::Value::as_str) == Some(client_id))
        .cloned()
}

/// The ids of the invoices a query with `token` returns (must be 200).
fn invoice_ids(h: &Harness, token: &str) -> Vec<String> {
    let r = h.query_invoices(token);
    assert_eq!(r.status(), 200, "the API refused the token");
    let body = json(r);
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in {body}"))
        .iter()
        .map(|row| row["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn admin_page_creates_switches_revokes_and_deletes_a_service_account() {
    let h = Harness::start(&common::browser::web_apps());
    let shots = shots_dir("admin");
    let mut run = Run::start(&h, "admin", &shots, &["admin", "admin-pw"]);

    // Signed in: the table lists the two apps of apps.toml.
    let listed = run.step("signed-in");
    assert_eq!(listed["apps"], 2, "{listed}");
    run.ok();

    // The wizard made a read-only service account bound to aldo; its one-time secret works.
    let created = run.step("created");
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let entry = app_in_file(&h, &id).unwrap_or_else(|| panic!("{id} is not in apps.toml"));
    assert_eq!(entry["client_type"].as_str(), Some("service_account"));
    assert_eq!(entry["secret_type"].as_str(), Some("client_secret"));
    assert_eq!(entry["scope"].as_str(), Some("rest.all.read"));
    assert_eq!(entry["user"].as_str(), Some("aldo"));
    assert_eq!(entry["name"].as_str(), Some("Browser robot"));
    let file = std::fs::read_to_string(h.path("apps.toml")).unwrap();
    assert!(
        !file.contains(&secret),
        "the plaintext secret is in apps.toml"
    );
    let r = h.token_basic(&id, &secret, &[("grant_type", "client_credentials")]);
    assert_eq!(r.status(), 200, "no token for the new app");
    let answer = json(r);
    assert_eq!(answer["scope"], "rest.all.read", "{answer}");
    let token = answer["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        invoice_ids(&h, &token),
        ["7x1", "7x2"],
        "not aldo's invoices"
    );
    assert_eq!(h.last_received().header_values("x-crm-user"), ["aldo"]);
    let create = json!({"elementType": "Invoice", "element": {"subject": "x"}});
    let r = h.call("/restapi/v1/vtews/create", &token, &create);
    assert_eq!(r.status(), 403, "a read-only app may not create");
    run.ok();

    // Switched off: the token gets 401 at once.
    run.step("disabled");
    assert_eq!(
        h.query_invoices(&token).status(),
        401,
        "a disabled app's token"
    );
    let entry = app_in_file(&h, &id).unwrap();
    assert_eq!(entry["enabled"].as_bool(), Some(false), "{entry}");
    run.ok();

    // Switched on again: the same token works again.
    run.step("enabled");
    assert_eq!(invoice_ids(&h, &token), ["7x1", "7x2"]);
    let entry = app_in_file(&h, &id).unwrap();
    assert_ne!(
        entry.get("enabled").and_then(toml::Value::as_bool),
        Some(false)
    );
    run.ok();

    // All tokens revoked: 401; the app itself still gets new tokens.
    run.step("revoked");
    assert_eq!(h.query_invoices(&token).status(), 401, "a revoked token");
    run.ok();

    // Delete cancelled: nothing changed.
    run.step("delete-cancelled");
    assert!(
        app_in_file(&h, &id).is_some(),
        "Cancel deleted {id} from apps.toml"
    );
    let fresh = h.token(&id, &secret);
    assert_eq!(h.query_invoices(&fresh).status(), 200);
    run.ok();

    // Deleted: gone from apps.toml, its credentials and tokens refused.
    run.step("deleted");
    assert!(app_in_file(&h, &id).is_none(), "{id} is still in apps.toml");
    let file = std::fs::read_to_string(h.path("apps.toml")).unwrap();
    assert!(!file.contains(&id), "apps.toml still names {id}:\n{file}");
    assert_eq!(
        h.query_invoices(&fresh).status(),
        401,
        "a deleted app's token"
    );
    let r = h.token_basic(&id, &secret, &[("grant_type", "client_credentials")]);
    assert_eq!(r.status(), 401, "a deleted app's credentials");
    assert_eq!(json(r)["error"], "invalid_client");
    // The apps of the file are untouched.
    for other in [common::browser::WEB, common::browser::NATIVE] {
        assert!(
            app_in_file(&h, other).is_some(),
            "{other} went from apps.toml"
        );
    }
    run.ok();

    let shots = run.finish();
    assert_screenshots(
        &shots,
        &[
            "admin-login",
            "admin-list",
            "wizard-service-account",
            "result-secret",
            "app-disabled",
            "confirm-revoke",
            "app-revoked",
            "confirm-delete",
            "app-deleted",
            "admin-signed-out",
        ],
    );
}

#[test]
fn account_page_revokes_an_app_the_user_authorized() {
    let h = Harness::start(&common::browser::web_apps());

    // aldo authorizes the web app through the authorization code flow.
    let browser = Browser::new(&h);
    let login = browser.get(&authorize_url(&h, WEB, WEB_CB, "account-page", None));
    assert_eq!(login.status, 200, "{}", login.body);
    let consent = browser.login(&login, "aldo", "aldo-pw");
    assert_eq!(consent.status, 200, "{}", consent.body);
    let back = browser.decide(&consent, "allow");
    assert_eq!(back.status, 303, "{}", back.body);
    let (code, state) = code_and_state(&back.location, WEB_CB);
    assert_eq!(state, "account-page");
    let tokens = exchange(&h, WEB, Some(WEB_SECRET), &code, WEB_CB, None);
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(
        invoice_ids(&h, &access),
        ["7x1", "7x2"],
        "not aldo's invoices"
    );

    // aldo finds it on the Connected applications page and revokes its access.
    let app = format!("Portal {WEB}");
    let shots = shots_dir("account");
    let mut run = Run::start(&h, "account", &shots, &["aldo", "aldo-pw", &app]);
    run.step("listed");
    // Looking at the page changed nothing.
    assert_eq!(invoice_ids(&h, &access), ["7x1", "7x2"]);
    run.ok();

    run.step("revoked");
    assert_eq!(
        h.query_invoices(&access).status(),
        401,
        "the revoked grant's token"
    );
    let r = h.token_basic(
        WEB,
        WEB_SECRET,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    );
    assert_eq!(r.status(), 400, "the revoked grant's refresh token");
    assert_eq!(json(r)["error"], "invalid_grant");
    run.ok();

    let shots = run.finish();
    assert_screenshots(
        &shots,
        &[
            "account-login",
            "account",
            "confirm-revoke-access",
            "account-revoked",
        ],
    );
}
