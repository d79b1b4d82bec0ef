//! Every example in `config/` loads, and `crmgate check` reports every problem of a broken setup
//! at once, each with file, line and key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

fn config_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
}

#[test]
fn every_example_file_loads() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(config_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let hasher = crmgate::keys::KeyRing::from_master(&[7; 32]).secrets;
        match name.as_str() {
            "crmgate.toml" => {
                let c = crmgate::config::load(&path).unwrap();
                assert_eq!(c.registry_file, config_dir().join("apps.toml"));
            }
            "users.toml" => assert!(!crmgate::users::load(&path).unwrap().is_empty()),
            "apps.toml" => {
                let users = crmgate::users::load(&config_dir().join("users.toml")).unwrap();
                let reg = crmgate::registry::load(&path, &hasher, &users).unwrap();
                assert_eq!(reg.apps.len(), 4);
            }
            other => panic!("config/{other} has no loader in this test: add one"),
        }
        seen.push(name);
    }
    seen.sort();
    assert_eq!(seen, ["apps.toml", "crmgate.toml", "users.toml"]);
}

#[test]
fn check_accepts_the_examples() {
    let out = Command::new(env!("CARGO_BIN_EXE_crmgate"))
        .args(["check", "--config"])
        .arg(config_dir().join("crmgate.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok:"));
}

/// Runs `crmgate check` on `config`, expects exit code 1, returns stderr.
fn check_fails(config: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_crmgate"))
        .args(["check", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_reports_all_problems_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("crmgate.toml"),
        "[server]\nlisten = \"nowhere\"\n\n[upstream]\naddress = \"127.0.0.1:9\"\nauth = \"magic\"\n\n[tokens]\naccess_token_ttl = 0\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("users.toml"),
        "[[users]]\nusername = \"aldo\"\n\n[[users]]\nusername = \"aldo\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("apps.toml"),
        "[[apps]]\nclient_id = \"a\"\nname = \"A\"\nclient_type = \"service_account\"\nclient_secret = \"x\"\nscope = \"rest.everything\"\nuser = \"nobody\"\n\n\
         [[apps]]\nclient_id = \"b\"\nname = \"B\"\nclient_type = \"web_app\"\nclient_secret = \"x\"\nscope = \"rest.all\"\nredirect_uris = [\"http://evil.example/cb\"]\nscpoe = 1\n",
    )
    .unwrap();
    let err = check_fails(&dir.path().join("crmgate.toml"));
    for expected in [
        "crmgate.toml:2: server.listen:",
        "crmgate.toml:6: upstream.auth:",
        "crmgate.toml:9: tokens.access_token_ttl:",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    let fixed = "[server]\nlisten = \"127.0.0.1:1\"\n\n[upstream]\naddress = \"127.0.0.1:9\"\n";
    std::fs::write(dir.path().join("crmgate.toml"), fixed).unwrap();
    let err = check_fails(&dir.path().join("crmgate.toml"));
    for expected in [
        "users.toml:5: users[1].username: \"aldo\" appears twice",
        "apps.toml:6: apps[0].scope:",
        "apps.toml:7: apps[0].user: unknown user \"nobody\"",
        "apps.toml:16: apps[1]: unknown field `scpoe`",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn hash_password_prints_a_verifiable_argon2id_hash() {
    use argon2::PasswordVerifier;
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_crmgate"))
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let phc = String::from_utf8(out.stdout).unwrap();
    let hash = argon2::PasswordHash::new(phc.trim()).unwrap();
    assert_eq!(hash.algorithm.as_str(), "argon2id");
    assert!(
        argon2::Argon2::default()
            .verify_password(b"correct horse", &hash)
            .is_ok()
    );
    assert!(
        argon2::Argon2::default()
            .verify_password(b"correct horse\n", &hash)
            .is_err()
    );
}

#[test]
fn hash_password_at_a_terminal_asks_twice_without_echo() {
    use argon2::PasswordVerifier;
    // `script` gives the command a terminal; the typed lines arrive after the prompts.
    let typed =
        "(sleep 0.5; printf 'correct horse\\n'; sleep 0.3; printf 'correct horse\\n'; sleep 1)";
    let run = format!(
        "{typed} | script -qec '{} hash-password' /dev/null",
        env!("CARGO_BIN_EXE_crmgate")
    );
    let out = Command::new("bash").arg("-c").arg(&run).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(
        text.contains("Password:") && text.contains("Again:"),
        "{text:?}"
    );
    assert!(
        !text.contains("correct horse"),
        "the password was echoed: {text:?}"
    );
    let phc = text.lines().find(|l| l.starts_with("$argon2id$")).unwrap();
    let hash = argon2::PasswordHash::new(phc.trim()).unwrap();
    assert!(
        argon2::Argon2::default()
            .verify_password(b"correct horse", &hash)
            .is_ok()
    );
}

#[test]
fn serve_help_documents_the_signals() {
    let out = Command::new(env!("CARGO_BIN_EXE_crmgate"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for signal in ["SIGTERM", "SIGINT", "SIGHUP"] {
        assert!(text.contains(signal), "{signal}: {text}");
    }
}

#[test]
fn ops_listen_must_be_an_address_other_than_listen() {
    let dir = tempfile::tempdir().unwrap();
    for (ops, expected) in [
        (
            "127.0.0.1:1",
            "crmgate.toml:3: server.ops_listen: must differ from server.listen",
        ),
        (
            "metrics",
            "crmgate.toml:3: server.ops_listen: must be an IP address and port",
        ),
    ] {
        std::fs::write(
            dir.path().join("crmgate.toml"),
            format!("[server]\nlisten = \"127.0.0.1:1\"\nops_listen = \"{ops}\"\n[upstream]\naddress = \"127.0.0.1:9\"\n"),
        )
        .unwrap();
        let err = check_fails(&dir.path().join("crmgate.toml"));
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}
