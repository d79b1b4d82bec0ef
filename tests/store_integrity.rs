//! The store at start-up: a data dir whose store is missing, emptied or damaged makes the gateway
//! refuse to start with a clear message, never start empty (that would forget used assertion ids
//! and codes) or silently lose acknowledged writes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::process::Command;

use common::*;

const ID: &str = "vte_51000000000000000001";

fn apps() -> String {
    format!(
        "{}{}",
        settings(true, false),
        secret_app(ID, "s", "rest.all", "aldo")
    )
}

fn start_fails(h: &Harness) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_crmgate"))
        .args(["serve", "--config"])
        .arg(h.path("crmgate.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the gateway started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_store_with_an_existing_key_refuses_to_start() {
    let mut h = Harness::start(&apps());
    h.token(ID, "s");
    h.kill();
    std::fs::remove_dir_all(h.path("data/store")).unwrap();
    let err = start_fails(&h);
    assert!(
        err.contains("refusing to start with an empty token store"),
        "{err}"
    );
    assert!(
        !h.path("data/store").exists(),
        "the refusal must not create an empty store"
    );
}

#[test]
fn an_emptied_store_refuses_to_start_every_time() {
    let mut h = Harness::start(&apps());
    h.token(ID, "s");
    h.kill();
    for entry in std::fs::read_dir(h.path("data/store")).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap();
        } else {
            std::fs::remove_file(p).unwrap();
        }
    }
    let first = start_fails(&h);
    assert!(first.contains("empty token store"), "{first}");
    let second = start_fails(&h);
    assert!(second.contains("refusing to start"), "{second}");
}
