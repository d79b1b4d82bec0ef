//! The authorization code flow with an independent OAuth 2.0 client: Python's `authlib` makes the
//! authorize links (with PKCE for the native app), a scripted browser (Python `requests`) signs in
//! and allows on the gateway's pages, authlib exchanges the code from the redirect, calls the
//! proxied REST API as the user who signed in, and refreshes (web app) with rotation.
//! The Python side is `tests/python/test_authlib_code.py`; its packages are pinned in
//! `tests/python/requirements.txt`. A missing interpreter or package fails this test, it never
//! skips. `CRMGATE_TEST_PYTHON` overrides the interpreter (default `python3`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::browser::{native_app, web_app};
use common::*;

const WEB_ID: &str = "vte_authlib_code_web";
const WEB_SECRET: &str = "web-s3cret:with+plus/and=equals";
const WEB_REDIRECT: &str = "https://app.example/cb";
const WEB_SCOPE: &str = "rest.all.read";
const NATIVE_ID: &str = "vte_authlib_code_native";
const NATIVE_REDIRECT: &str = "http://127.0.0.1:7777/cb";
const NATIVE_SCOPE: &str = "rest.all";

fn python() -> String {
    std::env::var("CRMGATE_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn run(cmd: &mut Command, what: &str) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {what} ({e}): install Python 3 or set CRMGATE_TEST_PYTHON")
    })
}

fn show(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn authlib_runs_the_authorization_code_flow_for_web_and_native_apps() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let py = python();
    let check = run(
        Command::new(&py)
            .current_dir(root)
            .args(["-c", "import authlib, pytest, requests"]),
        &py,
    );
    assert!(
        check.status.success(),
        "the Python packages of this test are missing: run \
         `{py} -m pip install -r tests/python/requirements.txt`\n{}",
        show(&check)
    );

    let apps = [
        settings(true, false),
        web_app(WEB_ID, WEB_SECRET, WEB_SCOPE, WEB_REDIRECT, true),
        native_app(NATIVE_ID, NATIVE_SCOPE, NATIVE_REDIRECT),
    ]
    .concat();
    let h = Harness::start(&apps);

    let out = run(
        Command::new(&py)
            .current_dir(root)
            // No .pytest_cache in the source tree.
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg("tests/python/test_authlib_code.py")
            .env("GATEWAY_URL", &h.base)
            .env("CODE_WEB_ID", WEB_ID)
            .env("CODE_WEB_SECRET", WEB_SECRET)
            .env("CODE_WEB_REDIRECT", WEB_REDIRECT)
            .env("CODE_WEB_SCOPE", WEB_SCOPE)
            .env("CODE_NATIVE_ID", NATIVE_ID)
            .env("CODE_NATIVE_REDIRECT", NATIVE_REDIRECT)
            .env("CODE_NATIVE_SCOPE", NATIVE_SCOPE)
            // No proxy may sit between the client and the loopback gateway.
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost"),
        &py,
    );
    assert!(
        out.status.success(),
        "pytest failed\n{}\n--- gateway log ---\n{}",
        show(&out),
        h.log()
    );
    println!("{}", String::from_utf8_lossy(&out.stdout));

    // The calls reached the CRM as the users who signed in, with each user's CRM credentials:
    // per user one query from the web app, one after its refresh, one from the native app.
    let queries: Vec<_> = h
        .crm
        .received()
        .into_iter()
        .filter(|r| r.method == "POST" && r.uri.contains("query"))
        .collect();
    for user in ["aldo", "bruna"] {
        let as_user: Vec<_> = queries
            .iter()
            .filter(|r| r.header_values("x-crm-user") == [user])
            .collect();
        assert_eq!(as_user.len(), 3, "queries the CRM received as {user}");
        for (client, n) in [(WEB_ID, 2), (NATIVE_ID, 1)] {
            let by_client = as_user
                .iter()
                .filter(|r| r.header_values("x-crm-client-id") == [client])
                .count();
            assert_eq!(by_client, n, "queries as {user} from {client}");
        }
        let basic = format!(
            "Basic {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{user}:ak-{user}")
            )
        );
        for r in &as_user {
            assert_eq!(r.header_values("authorization"), [basic.as_str()]);
        }
    }
    assert_eq!(queries.len(), 6, "no other query reached the CRM");
}
