//! Holes found from outside, on the request path: each family is refused before the CRM (or
//! cleaned on the way back), tested against a CRM that answers like the real vtenext behind
//! Apache (tests/common/lookalike.rs). Every test ends with the legitimate call still working.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::lookalike::Lookalike;
use common::wire::{Wire, post};
use common::*;

const ALL: &str = "vte_0a000000000000000001";
const READ: &str = "vte_0a000000000000000002";
const STALE: &str = "vte_0a000000000000000003";
const SECRET: &str = "outside-secret";
const QUERY: &str = "/restapi/v1/vtews/query";
const QUERY_BODY: &str = r#"{"query":"SELECT * FROM Accounts;"}"#;
const SPA: &str = "vte_0a0000000000000000aa";
const SPA_ORIGIN: &str = "http://127.0.0.1:4999";

fn apps() -> String {
    format!(
        "{}{}{}{}{}",
        settings(true, false),
        secret_app(ALL, SECRET, "rest.all", "aldo"),
        secret_app(READ, SECRET, "rest.all.read", "aldo"),
        secret_app(STALE, SECRET, "rest.all", "stale"),
        common::browser::native_app(SPA, "rest.all", &format!("{SPA_ORIGIN}/cb")),
    )
}

fn start_with(crm: &Lookalike, opts: Options) -> Harness {
    let users = format!(
        "{}[[users]]\nusername = \"stale\"\ncrm_access_key = \"ak-old\"\n",
        users_toml()
    );
    let opts = Options {
        upstream_address: Some(crm.addr.clone()),
        users_toml: Some(users),
        ..opts
    };
    Harness::start_with(&apps(), opts)
}

fn start(crm: &Lookalike) -> Harness {
    start_with(crm, Options::default())
}

/// The control every test ends with: a read through the gateway reaches the CRM as aldo.
fn control(h: &Harness, crm: &Lookalike, token: &str) {
    crm.clear();
    let mut w = Wire::connect(h.port);
    let a = w.exchange(&post(QUERY, token, QUERY_BODY)).unwrap();
    assert_eq!(a.status(), 200, "{a:?}");
    assert!(a.body.contains(r#""owner":"aldo""#), "{a:?}");
    assert_eq!(crm.seen().len(), 1);
}

fn raw(h: &Harness, request: &str) -> common::wire::Answer {
    let mut w = Wire::connect(h.port);
    w.exchange(request).expect("an answer")
}

#[test]
fn trace_and_methods_the_rest_api_does_not_use_never_reach_the_crm() {
    let crm = Lookalike::start();
    let h = start(&crm);
    let t = h.token(ALL, SECRET);
    for method in [
        "TRACE", "TRACK", "GET", "PUT", "DELETE", "PATCH", "PROPFIND",
    ] {
        let a = raw(
            &h,
            &format!(
                "{method} {QUERY} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n"
            ),
        );
        assert_eq!(a.status(), 405, "{method}: {a:?}");
        assert!(a.header("allow").is_some(), "{method}");
        assert!(
            !a.body.contains("Basic") && !a.body.contains("ak-aldo"),
            "{method}"
        );
    }
    let a = raw(
        &h,
        "TRACE /index.php HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(a.status(), 405, "TRACE is refused on every path: {a:?}");
    assert!(crm.seen().is_empty(), "{:?}", crm.seen());
    control(&h, &crm, &t);
}

#[test]
fn injected_credentials_never_come_back_from_the_crm() {
    let crm = Lookalike::start();
    let h = start(&crm);
    let t = h.token(ALL, SECRET);
    let mut w = Wire::connect(h.port);
    let a = w.exchange(&post(QUERY, &t, r#"{"query":"ECHO"}"#)).unwrap();
    assert_eq!(a.status(), 200, "{a:?}");
    // base64("aldo:ak-aldo")
    let basic = "YWxkbzphay1hbGRv";
    assert_eq!(
        crm.seen()[0].header("authorization"),
        [format!("Basic {basic}")]
    );
    assert!(
        !a.body.contains("ak-aldo") && !a.body.contains(basic),
        "{}",
        a.body
    );
    assert!(a.body.contains("authorization: Basic ****"), "{}", a.body);
    let data: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert!(
        data["data"].is_array(),
        "the answer is still the CRM's JSON"
    );
    assert!(h.log().contains("repeated the injected credentials"));
    control(&h, &crm, &t);
}

#[test]
fn protected_paths_never_upgrade_or_tunnel() {
    let crm = Lookalike::start();
    let h = start(&crm);
    let t = h.token(READ, SECRET);
    for upgrade in [
        "Upgrade: websocket\r\nConnection: Upgrade\r\n",
        "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: Upgrade, HTTP2-Settings\r\n",
        "Connection: keep-alive, Upgrade\r\n",
    ] {
        let mut w = Wire::connect(h.port);
        w.send(
            format!(
                "POST {QUERY} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {t}\r\n{upgrade}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
            )
            .as_bytes(),
        );
        let a = w.read_answer().unwrap();
        assert_eq!(a.status(), 400, "{upgrade}: {a:?}");
        // What would have gone through the tunnel.
        w.send(b"POST /restapi/v1/vtews/create HTTP/1.1\r\nHost: crm\r\nContent-Length: 0\r\n\r\n");
    }
    let a = raw(
        &h,
        "GET / HTTP/1.1\r\nHost: gw\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n",
    );
    assert_eq!(a.status(), 400, "h2c is refused on every path: {a:?}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(crm.seen().is_empty(), "{:?}", crm.seen());
    // A CRM that switches protocols on a protected call gets the client a 502, no tunnel.
    let before = crm.finished();
    let mut w = Wire::connect(h.port);
    let a = w
        .exchange(&post(QUERY, &t, r#"{"query":"SWITCH"}"#))
        .unwrap();
    assert_eq!(a.status(), 502, "{a:?}");
    w.send(b"POST /restapi/v1/vtews/create HTTP/1.1\r\nHost: crm\r\n\r\n");
    h.eventually("the CRM is done with the switched call", || {
        crm.finished() > before
    });
    let switched = crm.seen();
    assert!(switched[0].tunnelled.is_empty(), "{switched:?}");
    // The CRM's own web UI may still upgrade (paths outside /restapi/ pass through).
    let mut w = Wire::connect(h.port);
    let a = w
        .exchange(
            "GET /chat HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        )
        .unwrap();
    assert_eq!(a.status(), 101, "{a:?}");
    control(&h, &crm, &t);
}

#[test]
fn request_targets_that_are_not_origin_form_are_refused() {
    let crm = Lookalike::start();
    let h = start(&crm);
    let t = h.token(ALL, SECRET);
    for target in [
        "restapi/v1/vtews/create",
        "*",
        "?x=1",
        "http://crm.example/restapi/v1/vtews/create",
        "https://crm.example/index.php",
        "/restapi\\v1\\vtews\\create",
        "/restapi/v1/vtews/create%5c",
        "/restapi%5Cv1/vtews/create",
        "/index.php%255c..%255c",
        "\\restapi\\v1",
    ] {
        for method in ["POST", "OPTIONS"] {
            let a = raw(
                &h,
                &format!(
                    "{method} {target} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {t}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                ),
            );
            assert_eq!(a.status(), 400, "{method} {target}: {a:?}");
        }
    }
    assert!(crm.seen().is_empty(), "{:?}", crm.seen());
    control(&h, &crm, &t);
    // From a trusted proxy, absolute-form is accepted and forwarded in origin-form.
    let trusted = Options {
        server_extra: "trusted_proxies = [\"127.0.0.1\"]\n".into(),
        ..Options::default()
    };
    let h = start_with(&crm, trusted);
    let t = h.token(ALL, SECRET);
    crm.clear();
    let absolute = post("http://crm.example/restapi/v1/vtews/query", &t, QUERY_BODY)
        .replace("Host: gw", "Host: crm.example");
    let a = raw(&h, &absolute);
    assert_eq!(a.status(), 200, "{a:?}");
    assert_eq!(crm.seen()[0].target, QUERY);
}

#[test]
fn http11_requests_without_one_valid_host_are_refused() {
    let crm = Lookalike::start();
    let h = start(&crm);
    let t = h.token(ALL, SECRET);
    let auth = format!("Authorization: Bearer {t}\r\nContent-Type: application/json\r\n");
    let len = format!("Content-Length: {}\r\n", QUERY_BODY.len());
    for hosts in [
        "",
        "Host: a\r\nHost: b\r\n",
        "Host: a b\r\n",
        "Host: u@crm\r\n",
        "Host:\r\n",
    ] {
        let a = raw(
            &h,
            &format!(
                "POST {QUERY} HTTP/1.1\r\n{hosts}{auth}{len}Connection: close\r\n\r\n{QUERY_BODY}"
            ),
        );
        assert_eq!(a.status(), 400, "{hosts:?}: {a:?}");
    }
    let a = raw(&h, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(a.status(), 400, "unprotected paths too");
    assert!(crm.seen().is_empty(), "{:?}", crm.seen());
    // HTTP/1.0 may leave Host out.
    let a = raw(
        &h,
        &format!("POST {QUERY} HTTP/1.0\r\n{auth}{len}\r\n{QUERY_BODY}"),
    );
    assert_eq!(a.status(), 200, "{a:?}");
    control(&h, &crm, &t);
}

#[test]
fn path_override_headers_never_reach_the_crm() {
    let crm = Lookalike::start();
    let h = start(&crm);
    let t = h.token(READ, SECRET);
    let overrides = [
        "X-Original-URL",
        "X-Rewrite-URL",
        "X-Original-URI",
        "X_Original_URL",
        "X.Rewrite.Url",
        "X-Forwarded-Uri",
        "X-Forwarded-Path",
        "X-Forwarded-Prefix",
        "X-Override-URL",
        "X-Envoy-Original-Path",
        "X-HTTP-DestinationURL",
        "X-Forwarded-Host",
    ];
    let extra: String = overrides
        .iter()
        .map(|n| format!("{n}: /restapi/v1/vtews/create\r\n"))
        .collect();
    for path in [QUERY, "/index.php"] {
        crm.clear();
        let a = raw(
            &h,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {t}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{QUERY_BODY}",
                QUERY_BODY.len()
            ),
        );
        assert_eq!(a.status(), 200, "{path}: {a:?}");
        let seen = &crm.seen()[0];
        for (name, value) in &seen.headers {
            assert!(
                !value.contains("create"),
                "{path}: {name}: {value} reached the CRM"
            );
        }
    }
    control(&h, &crm, &t);
}

#[test]
fn crm_cookies_and_cors_headers_never_reach_bearer_clients() {
    let crm = Lookalike::start();
    let h = start(&crm);
    let t = h.token(ALL, SECRET);
    for origin in [
        "",
        "Origin: https://evil.example\r\n",
        &format!("Origin: {SPA_ORIGIN}\r\n"),
    ] {
        let a = raw(
            &h,
            &format!(
                "POST {QUERY} HTTP/1.1\r\nHost: gw\r\n{origin}Authorization: Bearer {t}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            ),
        );
        assert_eq!(a.status(), 200, "{a:?}");
        assert!(a.header("set-cookie").is_none(), "{a:?}");
        assert!(
            a.header("access-control-allow-credentials").is_none(),
            "{a:?}"
        );
        assert!(a.header("access-control-allow-methods").is_none(), "{a:?}");
        let allowed: Vec<&str> = a
            .headers
            .iter()
            .filter(|(n, _)| n == "access-control-allow-origin")
            .map(|(_, v)| v.as_str())
            .collect();
        if origin.contains(SPA_ORIGIN) {
            assert_eq!(allowed, [SPA_ORIGIN], "ours only");
        } else {
            assert!(allowed.is_empty(), "{origin}: {allowed:?}");
        }
    }
    // The CRM's web UI keeps its session cookie.
    let a = raw(
        &h,
        "GET /index.php HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(a.header("set-cookie"), Some("PHPSESSID=crm-ui; path=/"));
    control(&h, &crm, &t);
}

#[test]
fn the_legacy_webservice_is_refused_unless_allowed() {
    let crm = Lookalike::start();
    let h = start(&crm);
    for path in [
        "/webservice.php?operation=getchallenge&username=aldo",
        "/webservice.php",
        "/WebService.php?operation=login_pwd",
        "/%77ebservice.php",
        "//webservice.php",
        "/x/../webservice.php",
        "/webservice.php/x",
        "/vteservice.php?service=customerportal",
        "/soap/customerportal.php",
    ] {
        for method in ["GET", "POST"] {
            let a = raw(
                &h,
                &format!(
                    "{method} {path} HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                ),
            );
            assert_eq!(a.status(), 403, "{method} {path}: {a:?}");
            assert!(
                a.body.contains("proxy.allow_legacy_webservice"),
                "{}",
                a.body
            );
        }
    }
    assert!(crm.seen().is_empty(), "{:?}", crm.seen());
    let t = h.token(ALL, SECRET);
    control(&h, &crm, &t);
    let allowed = Options {
        extra: "[proxy]\nallow_legacy_webservice = true\n".into(),
        ..Options::default()
    };
    let h = start_with(&crm, allowed);
    let a = raw(
        &h,
        "GET /webservice.php?operation=getchallenge&username=aldo HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(a.status(), 200, "{a:?}");
    assert!(a.body.contains("challenge"));
}

#[test]
fn a_refused_crm_credential_is_a_502_naming_the_gateways_credentials() {
    let crm = Lookalike::start();
    let h = start(&crm);
    let t = h.token(STALE, SECRET);
    let a = raw(&h, &post(QUERY, &t, QUERY_BODY));
    assert_eq!(a.status(), 502, "{a:?}");
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["error"], "bad_gateway");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("refused the gateway's credentials"),
        "{v}"
    );
    assert!(!a.body.contains("InvalidLoginException"), "{}", a.body);
    assert_eq!(crm.seen().len(), 1, "the CRM was asked");
    h.eventually("the log names the user", || {
        h.log().contains("crm refused the user's credentials") && h.log().contains("stale")
    });
    control(&h, &crm, &h.token(ALL, SECRET));
    // `headers` mode in front of a CRM that wants Basic credentials: the same 502.
    let headers = Options {
        upstream_auth: "headers",
        ..Options::default()
    };
    let h = start_with(&crm, headers);
    let t = h.token(ALL, SECRET);
    assert_eq!(raw(&h, &post(QUERY, &t, QUERY_BODY)).status(), 502);
}

#[test]
fn an_http10_crm_that_closes_still_gives_clients_http11_keep_alive() {
    let crm = Lookalike::start();
    let h = start(&crm);
    let t = h.token(ALL, SECRET);
    let mut w = Wire::connect(h.port);
    for i in 0..20 {
        let a = w.exchange(&post(QUERY, &t, QUERY_BODY)).unwrap();
        assert_eq!(a.status_line, "HTTP/1.1 200 OK", "call {i}: {a:?}");
        assert!(!a.closes(), "call {i}: {a:?}");
    }
    // An answer without a length arrives chunked, complete, and the connection stays.
    let a = w
        .exchange(&post(QUERY, &t, r#"{"query":"NOLENGTH"}"#))
        .unwrap();
    assert_eq!(a.status_line, "HTTP/1.1 200 OK");
    assert_eq!(a.header("transfer-encoding"), Some("chunked"), "{a:?}");
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["data"][0]["owner"], "aldo");
    let a = w.exchange(&post(QUERY, &t, QUERY_BODY)).unwrap();
    assert_eq!(a.status(), 200);
    assert_eq!(crm.seen().len(), 22);
}

#[test]
fn refusals_keep_the_connection_open() {
    let crm = Lookalike::start();
    let h = start(&crm);
    let read = h.token(READ, SECRET);
    let mut w = Wire::connect(h.port);
    let create = r#"{"elementType":"Accounts","element":"{}"}"#;
    let refused = [
        (
            format!(
                "POST {QUERY} HTTP/1.1\r\nHost: gw\r\nContent-Length: {}\r\n\r\n{QUERY_BODY}",
                QUERY_BODY.len()
            ),
            401,
        ),
        (post(QUERY, "vte_at_unknown", QUERY_BODY), 401),
        (post("/restapi/v1/vtews/create", &read, create), 403),
        (post("/restapi/v1/vtews/loginpwd", &read, "{}"), 403),
        (post("/restapi/v1/vtews/%71uery", &read, QUERY_BODY), 400),
        (
            format!("GET {QUERY} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {read}\r\n\r\n"),
            405,
        ),
    ];
    for (request, status) in &refused {
        let a = w.exchange(request).unwrap();
        assert_eq!(a.status(), *status, "{request}: {a:?}");
        assert!(!a.closes(), "{request}: {a:?}");
    }
    let a = w.exchange(&post(QUERY, &read, QUERY_BODY)).unwrap();
    assert_eq!(a.status(), 200, "the same connection still serves: {a:?}");
}
