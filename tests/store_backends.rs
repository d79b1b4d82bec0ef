//! The embedded backends as an operator meets them: `[store] backend = "redb"` serves and keeps
//! tokens across a restart; a data dir that holds a sled store keeps it when the file names no
//! backend; `crmgate store` reports what a stopped gateway's store holds, and refuses while the
//! gateway runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::*;

const APP: &str = "vte_d0000000000000000001";

fn apps() -> String {
    format!(
        "{}{}",
        settings(true, false),
        secret_app(APP, "s-d", "rest.all", "aldo")
    )
}

fn store_report(h: &Harness) -> (bool, String) {
    let config = h.path("crmgate.toml");
    common::crmgate(&["store".as_ref(), "--config".as_ref(), config.as_os_str()])
}

#[test]
fn the_redb_backend_serves_keeps_tokens_across_a_restart_and_is_reported() {
    let mut h = Harness::start_with(
        &apps(),
        Options {
            extra: "[store]\nbackend = \"redb\"\n".into(),
            ..Options::default()
        },
    );
    let tokens: Vec<String> = (0..3).map(|_| h.token(APP, "s-d")).collect();
    assert_eq!(h.revoke(APP, "s-d", &tokens[2]).status(), 200);
    assert!(h.path("data/store-redb/tokens.redb").exists());
    assert!(!h.path("data/store").exists(), "no sled store beside it");
    let (ok, text) = store_report(&h);
    assert!(!ok, "the running gateway holds the store: {text}");
    assert!(text.contains("stop it first"), "{text}");
    h.restart();
    assert_eq!(h.query_invoices(&tokens[0]).status(), 200);
    assert_eq!(h.query_invoices(&tokens[1]).status(), 200);
    assert_eq!(
        h.query_invoices(&tokens[2]).status(),
        401,
        "revoked stays revoked"
    );
    h.kill();
    let (ok, text) = store_report(&h);
    assert!(ok, "{text}");
    assert!(text.contains("store: redb"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("tokens (access and refresh)"))
        .unwrap();
    assert_eq!(line.split_whitespace().next(), Some("2"), "{text}");
    assert!(text.contains("integrity: ok"), "{text}");
}

#[test]
fn a_data_dir_with_a_sled_store_keeps_it_when_no_backend_is_named() {
    let mut h = Harness::start_with(
        &apps(),
        Options {
            extra: "[store]\nbackend = \"sled\"\n".into(),
            ..Options::default()
        },
    );
    let token = h.token(APP, "s-d");
    h.kill();
    // The same data dir, the backend no longer named: the sled store is what is used.
    let config = std::fs::read_to_string(h.path("crmgate.toml")).unwrap();
    std::fs::write(
        h.path("crmgate.toml"),
        config.replace("[store]\nbackend = \"sled\"\n", ""),
    )
    .unwrap();
    h.restart();
    assert_eq!(h.query_invoices(&token).status(), 200);
    assert!(!h.path("data/store-redb").exists(), "no second store made");
    h.kill();
    let (ok, text) = store_report(&h);
    assert!(ok, "{text}");
    assert!(text.contains("store: sled"), "{text}");
}

#[test]
fn store_migrate_moves_a_stopped_sled_store_to_redb_and_keeps_the_sled_folder() {
    let mut h = Harness::start(&apps());
    let tokens: Vec<String> = (0..3).map(|_| h.token(APP, "s-d")).collect();
    assert_eq!(h.revoke(APP, "s-d", &tokens[2]).status(), 200);
    assert!(h.path("data/store").exists(), "sled is where it starts");
    let config = h.path("crmgate.toml");
    let args = [
        "store".as_ref(),
        "migrate".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ];
    let migrate = || common::crmgate(&args);
    let (ok, said) = migrate();
    assert!(!ok, "refused while the gateway runs: {said}");
    h.kill();
    let (ok, said) = migrate();
    assert!(ok, "{said}");
    assert!(said.contains("migrated"), "{said}");
    assert!(h.path("data/store.migrated").exists() && !h.path("data/store").exists());
    h.restart();
    assert_eq!(h.query_invoices(&tokens[0]).status(), 200);
    assert_eq!(h.query_invoices(&tokens[1]).status(), 200);
    assert_eq!(
        h.query_invoices(&tokens[2]).status(),
        401,
        "revoked stays revoked"
    );
    let fresh = h.token(APP, "s-d");
    assert_eq!(h.query_invoices(&fresh).status(), 200);
    h.kill();
    let (ok, text) = store_report(&h);
    assert!(ok && text.contains("store: redb"), "{text}");
    let (again, said) = migrate();
    assert!(!again, "nothing left to migrate: {said}");
}
