//! The scope matrix: each scope against read, write, always-denied and unknown operations, on
//! every path spelling of the same operation. Refused calls never reach the CRM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::*;
use serde_json::json;

const ALL: &str = "vte_a0000000000000000001";
const READ: &str = "vte_a0000000000000000002";
const WRITE: &str = "vte_a0000000000000000003";

fn harness() -> Harness {
    let apps = format!(
        "{}{}{}{}",
        settings(true, false),
        secret_app(ALL, "s-all", "rest.all", "aldo"),
        secret_app(READ, "s-read", "rest.all.read", "aldo"),
        secret_app(WRITE, "s-write", "rest.all.write", "aldo"),
    );
    Harness::start(&apps)
}

fn status(h: &Harness, token: &str, path: &str) -> u16 {
    let body = json!({"query": "SELECT * FROM Invoice;", "elementType": "Invoice", "element": {"subject": "x"}});
    h.call(path, token, &body).status().as_u16()
}

#[test]
fn each_scope_against_each_kind_of_operation() {
    let h = harness();
    let read_paths = [
        "/restapi/v1/vtews/query",
        "/restapi/v1/vtews/query/",
        "/restapi/v1/vtews/query.json",
        "/restapi/v1/index.php/vtews/query",
        "/restapi/v1/vtews/describe",
    ];
    let write_paths = [
        "/restapi/v1/vtews/create",
        "/restapi/v1/vtews/create.json",
        "/restapi/v1/index.php/vtews/create/",
    ];
    let denied_paths = [
        "/restapi/v1/vtews/loginpwd",
        "/restapi/v1/vtews/processhandler",
    ];
    let unknown_paths = [
        "/restapi/v1/vtews/sync",
        "/restapi/v1/other/query",
        "/restapi/",
    ];
    for (id, secret, reads, writes) in [
        (ALL, "s-all", true, true),
        (READ, "s-read", true, false),
        (WRITE, "s-write", false, true),
    ] {
        let token = h.token(id, secret);
        let expect = |allowed: bool| if allowed { 200 } else { 403 };
        for p in read_paths {
            assert_eq!(status(&h, &token, p), expect(reads), "{id} {p}");
        }
        for p in write_paths {
            assert_eq!(status(&h, &token, p), expect(writes), "{id} {p}");
        }
        for p in denied_paths.iter().chain(&unknown_paths) {
            let before = h.crm.received().len();
            assert_eq!(status(&h, &token, p), 403, "{id} {p}");
            assert_eq!(h.crm.received().len(), before, "{p} reached the CRM");
        }
    }
}

#[test]
fn insufficient_scope_is_a_standard_bearer_error() {
    let h = harness();
    let token = h.token(READ, "s-read");
    let r = h.call("/restapi/v1/vtews/create", &token, &json!({}));
    assert_eq!(r.status(), 403);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_eq!(json(r)["error"], "insufficient_scope");
}

#[test]
fn an_operation_table_in_the_config_changes_classification() {
    let extra = "[proxy.operations]\nsync = \"read\"\nquery = \"deny\"\n";
    let apps = format!(
        "{}{}",
        settings(true, false),
        secret_app(ALL, "s-all", "rest.all", "aldo")
    );
    let h = Harness::start_with(
        &apps,
        Options {
            extra: extra.into(),
            ..Options::default()
        },
    );
    let token = h.token(ALL, "s-all");
    assert_eq!(status(&h, &token, "/restapi/v1/vtews/query"), 403);
    // The demo CRM does not know `sync` (404), but the gateway let it through.
    assert_eq!(status(&h, &token, "/restapi/v1/vtews/sync"), 404);
}

#[test]
fn non_canonical_protected_paths_are_refused_before_the_crm() {
    let h = harness();
    let token = h.token(READ, "s-read");
    for p in [
        "/restapi/v1/vtews/%63reate",
        "/RESTAPI/v1/vtews/create",
        "//restapi/v1/vtews/create",
        "/restapi/v1/vtews/query/../create",
        "/restapi/v1/vtews/query;.json",
        "/restapi%2Fv1/vtews/create",
    ] {
        let before = h.crm.received().len();
        let request = format!(
            "POST {p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        assert_eq!(h.raw_status(&request), 400, "{p}");
        assert_eq!(h.crm.received().len(), before, "{p} reached the CRM");
    }
}

#[test]
fn method_override_parameters_are_refused_on_protected_paths() {
    let h = harness();
    let token = h.token(READ, "s-read");
    for q in [
        "_method=DELETE",
        "x-http-method-override=DELETE",
        "_METHOD=PUT",
    ] {
        let before = h.crm.received().len();
        let r = h
            .http
            .post(h.url(&format!("/restapi/v1/vtews/query?{q}")))
            .bearer_auth(&token)
            .header("X-HTTP-Method-Override", "DELETE")
            .json(&json!({"query": "SELECT * FROM Invoice;"}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{q}");
        assert_eq!(h.crm.received().len(), before, "{q} reached the CRM");
    }
    // The header alone is stripped, and the read goes through as a read.
    let r = h
        .http
        .post(h.url("/restapi/v1/vtews/query"))
        .bearer_auth(&token)
        .header("X-HTTP-Method-Override", "DELETE")
        .json(&json!({"query": "SELECT * FROM Invoice;"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        h.last_received()
            .header_values("x-http-method-override")
            .is_empty()
    );
}
