//! The store at start-up: a data dir whose store is missing, emptied or damaged makes the gateway
//! refuse to start with a clear message, never start empty (that would forget used assertion ids
//! and codes) or silently lose acknowledged writes. Each test runs once per embedded backend
//! (`..._sled`, `..._redb`).

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

fn a_missing_store_with_an_existing_key_refuses_to_start(backend: Backend) {
    let mut h = Harness::start_on(&apps(), backend);
    h.token(ID, "s");
    h.kill();
    let store = h.path(backend.store_dir());
    std::fs::remove_dir_all(&store).unwrap();
    let err = start_fails(&h);
    assert!(
        err.contains("refusing to start with an empty token store"),
        "{err}"
    );
    assert!(
        !store.exists(),
        "the refusal must not create an empty store"
    );
}

fn an_emptied_store_refuses_to_start_every_time(backend: Backend) {
    let mut h = Harness::start_on(&apps(), backend);
    h.token(ID, "s");
    h.kill();
    for entry in std::fs::read_dir(h.path(backend.store_dir())).unwrap() {
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

#[test]
fn a_missing_store_with_an_existing_key_refuses_to_start_sled() {
    a_missing_store_with_an_existing_key_refuses_to_start(Backend::Sled);
}

#[test]
fn a_missing_store_with_an_existing_key_refuses_to_start_redb() {
    a_missing_store_with_an_existing_key_refuses_to_start(Backend::Redb);
}

#[test]
fn an_emptied_store_refuses_to_start_every_time_sled() {
    an_emptied_store_refuses_to_start_every_time(Backend::Sled);
}

#[test]
fn an_emptied_store_refuses_to_start_every_time_redb() {
    an_emptied_store_refuses_to_start_every_time(Backend::Redb);
}
