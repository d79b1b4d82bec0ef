//! An independent OAuth 2.0 client against the real gateway: Python's `authlib` gets tokens with
//! `client_secret_basic`, `client_secret_post` and `private_key_jwt` (ES256 and RS256), then
//! calls the proxied REST API and must see exactly the rows of the user its app is bound to.
//! The Python side is `tests/python/test_authlib.py`; its packages are pinned in
//! `tests/python/requirements.txt`. A missing interpreter or package fails this test, it never
//! skips. `CRMGATE_TEST_PYTHON` overrides the interpreter (default `python3`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

const SCOPE: &str = "rest.all";
const SECRET_ALDO_ID: &str = "vte_authlib_secret_aldo";
// authlib sends Basic credentials without form-encoding them: ':' and '+' must survive that.
const SECRET_ALDO: &str = "aldo-s3cret:with+plus/and=equals";
const SECRET_BRUNA_ID: &str = "vte_authlib_secret_bruna";
const SECRET_BRUNA: &str = "bruna-s3cret-0123456789abcdef";
const ES256_ALDO_ID: &str = "vte_authlib_es256_aldo";
const RS256_BRUNA_ID: &str = "vte_authlib_rs256_bruna";

/// A fresh P-256 key pair: (PKCS#8 private PEM, SPKI public PEM).
fn p256_pair() -> (String, String) {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let private = secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let public = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    (private, public)
}

/// A fresh RSA 2048 key pair: (PKCS#8 private PEM, SPKI public PEM).
fn rsa_pair() -> (String, String) {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let public = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    (
        private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        public,
    )
}

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
fn authlib_gets_tokens_with_every_client_auth_method_and_calls_the_api() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let py = python();
    let check = run(
        Command::new(&py).current_dir(root).args([
            "-c",
            "import authlib, cryptography, joserfc, pytest, requests",
        ]),
        &py,
    );
    assert!(
        check.status.success(),
        "the Python packages of this test are missing: run \
         `{py} -m pip install -r tests/python/requirements.txt`\n{}",
        show(&check)
    );

    let (es_private, es_public) = p256_pair();
    let (rsa_private, rsa_public) = rsa_pair();
    let apps = [
        settings(true, false),
        secret_app(SECRET_ALDO_ID, SECRET_ALDO, SCOPE, "aldo"),
        secret_app(SECRET_BRUNA_ID, SECRET_BRUNA, SCOPE, "bruna"),
        jwt_app(ES256_ALDO_ID, &es_public, SCOPE, "aldo"),
        jwt_app(RS256_BRUNA_ID, &rsa_public, SCOPE, "bruna"),
    ]
    .concat();
    let h = Harness::start(&apps);
    let es_key = h.path("es256-aldo.pem");
    let rsa_key = h.path("rs256-bruna.pem");
    std::fs::write(&es_key, es_private).unwrap();
    std::fs::write(&rsa_key, rsa_private).unwrap();

    let out = run(
        Command::new(&py)
            .current_dir(root)
            // No .pytest_cache in the source tree.
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg("tests/python/test_authlib.py")
            .env("GATEWAY_URL", &h.base)
            .env("AUTHLIB_SCOPE", SCOPE)
            .env("AUTHLIB_SECRET_ALDO_ID", SECRET_ALDO_ID)
            .env("AUTHLIB_SECRET_ALDO_SECRET", SECRET_ALDO)
            .env("AUTHLIB_SECRET_BRUNA_ID", SECRET_BRUNA_ID)
            .env("AUTHLIB_SECRET_BRUNA_SECRET", SECRET_BRUNA)
            .env("AUTHLIB_ES256_ALDO_ID", ES256_ALDO_ID)
            .env("AUTHLIB_ES256_ALDO_KEY", &es_key)
            .env("AUTHLIB_RS256_BRUNA_ID", RS256_BRUNA_ID)
            .env("AUTHLIB_RS256_BRUNA_KEY", &rsa_key)
            // No proxy may sit between authlib and the loopback gateway.
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

    // The API calls really went through to the CRM: at least 4 secret-client calls and 4 with JWT
    // clients (two tokens each).
    let queries = h
        .crm
        .received()
        .into_iter()
        .filter(|r| r.method == "POST" && r.uri.contains("query"))
        .count();
    assert!(
        queries >= 8,
        "the CRM received {queries} queries, expected at least 8"
    );
}
