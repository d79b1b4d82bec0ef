//! Every kind of broken edit of `apps.toml` and `users.toml` while the gateway runs: syntax
//! errors, unknown keys, bad values, duplicates, dangling references, empty, truncated and binary
//! files, a deleted file, a directory in its place. Each is refused (the refusal is counted and
//! logged), the last good version keeps serving (tokens issue and the proxy answers as before),
//! and the next good edit is applied again.
//!
//! Each broken edit also carries a change that would show if it were applied (the service
//! account disabled, or its user made an admin): its token would then be refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

const ID: &str = "vte_cf000000000000000001";
const SECRET: &str = "config-faults-secret";
const CC: [(&str, &str); 1] = [("grant_type", "client_credentials")];

fn good_apps() -> String {
    format!(
        "{}{}",
        settings(true, false),
        secret_app(ID, SECRET, "rest.all", "aldo")
    )
}

/// The good apps file with the service account disabled: applied, its token would be refused.
fn disabled_apps() -> String {
    good_apps().replace("user = \"aldo\"", "user = \"aldo\"\nenabled = false")
}

/// The sum of `crmgate_config_reloads_total` with `result`.
fn reloads(h: &Harness, result: &str) -> u64 {
    let text = h
        .http
        .get(h.url("/gateway/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let label = format!("result=\"{result}\"");
    text.lines()
        .filter(|l| l.starts_with("crmgate_config_reloads_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Waits (at most 10 s) until the `result` counter passes `before`.
fn await_reload(h: &Harness, result: &str, before: u64, case: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while reloads(h, result) <= before {
        assert!(
            Instant::now() < deadline,
            "{case}: no reload {result} within 10 s\n{}",
            h.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Replaces `path` (a file or a directory) with `content` atomically; `None` deletes it.
fn put(path: &Path, content: Option<&[u8]>) {
    if path.is_dir() {
        std::fs::remove_dir_all(path).unwrap();
    }
    match content {
        Some(bytes) => {
            let tmp = path.with_extension("toml.tmp");
            std::fs::write(&tmp, bytes).unwrap();
            std::fs::rename(tmp, path).unwrap();
        }
        None if path.exists() => std::fs::remove_file(path).unwrap(),
        None => {}
    }
}

/// A broken edit of a file.
enum Edit {
    /// These bytes.
    Bytes(Vec<u8>),
    /// The file deleted.
    Deleted,
    /// A directory in the file's place.
    Directory,
}

fn text(s: &str) -> Edit {
    Edit::Bytes(s.as_bytes().to_vec())
}

/// Binary garbage: invalid UTF-8, NULs, control bytes.
fn garbage() -> Edit {
    Edit::Bytes((0..600u32).map(|i| (i * 131 + 7) as u8).collect())
}

/// `full` cut in the middle of the first occurrence of `inside`.
fn truncated(full: &str, inside: &str) -> Edit {
    let at = full.find(inside).unwrap() + inside.len() / 2;
    text(&full[..at])
}

/// Applies each edit of `file` in turn: refused, the last good version serves, the good text
/// (made unique with a comment) is applied again.
fn check_edits(h: &Harness, file: &str, good: &str, edits: Vec<(&str, Edit)>) {
    let path = h.path(file);
    let token = h.token(ID, SECRET);
    for (n, (case, edit)) in edits.into_iter().enumerate() {
        let refused = reloads(h, "refused");
        match &edit {
            Edit::Bytes(b) => put(&path, Some(b)),
            Edit::Deleted => put(&path, None),
            Edit::Directory => {
                put(&path, None);
                std::fs::create_dir(&path).unwrap();
            }
        }
        await_reload(h, "refused", refused, case);
        assert_eq!(
            h.query_invoices(&token).status(),
            200,
            "{file}, {case}: the proxy no longer serves the last good version\n{}",
            h.log()
        );
        assert_eq!(
            h.token_basic(ID, SECRET, &CC).status(),
            200,
            "{file}, {case}: tokens no longer issue"
        );
        assert_eq!(h.last_received().header_values("x-crm-user"), ["aldo"]);
        let applied = reloads(h, "applied");
        put(
            &path,
            Some(format!("{good}\n# good again after edit {n}\n").as_bytes()),
        );
        await_reload(h, "applied", applied, &format!("{case}, then a good edit"));
    }
    assert!(
        h.log()
            .contains("configuration edit not applied; the last good one stays"),
        "{}",
        h.log()
    );
    assert_eq!(h.query_invoices(&token).status(), 200);
}

/// Broken versions of the apps file, each with the service account disabled.
fn broken_apps() -> Vec<(&'static str, Edit)> {
    let bad = disabled_apps();
    let web = "[[apps]]\nclient_id = \"vte_web\"\nname = \"Web\"\nclient_type = \"web_app\"\n\
               client_secret = \"web-secret\"\nscope = \"rest.all.read\"\n";
    vec![
        (
            "syntax error",
            text(&format!("{bad}[[apps]\nclient_id = \n")),
        ),
        (
            "unknown app key",
            text(&bad.replace("enabled = false", "enabled = false\ncolour = \"red\"")),
        ),
        (
            "unknown settings key",
            text(&bad.replace("[settings]", "[settings]\nsecret_mode = 1")),
        ),
        (
            "wrong value type",
            text(&bad.replace("enabled = false", "enabled = \"no\"")),
        ),
        (
            "bad scope",
            text(&bad.replace("scope = \"rest.all\"", "scope = \"rest.everything\"")),
        ),
        (
            "bad client type",
            text(&bad.replace("service_account", "robot")),
        ),
        (
            "duplicate client_id",
            text(&format!(
                "{bad}{}",
                secret_app(ID, "other", "rest.all", "bruna")
            )),
        ),
        (
            "unknown bound user",
            text(&bad.replace("user = \"aldo\"", "user = \"nobody\"")),
        ),
        (
            "plain http redirect URI",
            text(&format!(
                "{bad}{web}redirect_uris = [\"http://app.example/cb\"]\n"
            )),
        ),
        (
            "redirect URI with a fragment",
            text(&format!(
                "{bad}{web}redirect_uris = [\"https://app.example/cb#x\"]\n"
            )),
        ),
        (
            "relative redirect URI",
            text(&format!("{bad}{web}redirect_uris = [\"/cb\"]\n")),
        ),
        (
            "javascript redirect URI",
            text(&format!(
                "{bad}{web}redirect_uris = [\"javascript:alert(1)\"]\n"
            )),
        ),
        (
            "bad key PEM",
            text(&format!(
                "{bad}{}",
                jwt_app(
                    "vte_jwt",
                    "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n",
                    "rest.all",
                    "aldo"
                )
            )),
        ),
        (
            "secret from an unset variable",
            text(&bad.replace(
                &format!("client_secret = \"{SECRET}\""),
                "client_secret = { env = \"CRMGATE_TEST_NO_SUCH_VARIABLE\" }",
            )),
        ),
        ("empty file", text("")),
        ("whitespace only", text("\n  \n\t\n")),
        ("truncated inside a string", truncated(&bad, SECRET)),
        (
            "truncated after a client_id",
            truncated(&format!("{bad}{web}"), "client_id = \"vte_web\"\n"),
        ),
        ("binary garbage", garbage()),
        ("file deleted", Edit::Deleted),
        ("directory in its place", Edit::Directory),
    ]
}

#[test]
fn broken_apps_files_are_refused_and_the_last_good_registry_serves() {
    let h = Harness::start(&good_apps());
    check_edits(&h, "apps.toml", &good_apps(), broken_apps());
}

#[test]
fn broken_users_files_are_refused_and_the_last_good_users_serve() {
    let h = Harness::start(&good_apps());
    let good = std::fs::read_to_string(h.path("users.toml")).unwrap();
    assert!(good.starts_with("[[users]]\nusername = \"aldo\""), "{good}");
    // aldo made an admin: applied, his service account's token would be refused.
    let bad = good.replacen("admin = false", "admin = true", 1);
    let dora = "[[users]]\nusername = \"dora\"\n";
    let edits: Vec<(&str, Edit)> = vec![
        (
            "syntax error",
            text(&format!("{bad}[[users]\nusername = \n")),
        ),
        ("unknown key", text(&format!("{bad}{dora}shoe_size = 42\n"))),
        (
            "unknown top-level key",
            text(&format!("[extra]\nx = 1\n\n{bad}")),
        ),
        (
            "wrong value type",
            text(&good.replacen("admin = false", "admin = \"yes\"", 1)),
        ),
        (
            "duplicate username",
            text(&format!("{bad}[[users]]\nusername = \"aldo\"\n")),
        ),
        (
            "bad username",
            text(&format!("{bad}[[users]]\nusername = \"a b\"\n")),
        ),
        (
            "missing username",
            text(&format!("{bad}[[users]]\nname = \"Nobody\"\n")),
        ),
        (
            "bad password hash",
            text(&format!("{bad}{dora}password_hash = \"plaintext\"\n")),
        ),
        (
            "access key from an unset variable",
            text(&format!(
                "{bad}{dora}crm_access_key = {{ env = \"CRMGATE_TEST_NO_SUCH_VARIABLE\" }}\n"
            )),
        ),
        ("empty file", text("")),
        ("whitespace only", text("\n\n   \n")),
        ("truncated inside a string", truncated(&bad, "$argon2id$")),
        (
            "truncated after a table header",
            text(&format!("{bad}[[users]]\n")),
        ),
        ("binary garbage", garbage()),
        ("file deleted", Edit::Deleted),
        ("directory in its place", Edit::Directory),
    ];
    check_edits(&h, "users.toml", &good, edits);
}
