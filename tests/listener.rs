//! The listener side: HTTPS with a certificate from the config, the start-up warning for plain
//! http on a public address, and forwarding headers kept only for trusted proxies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::*;
use serde_json::json;

const ID: &str = "vte_90000000000000000001";

fn apps() -> String {
    format!(
        "{}{}",
        settings(true, false),
        secret_app(ID, "s", "rest.all", "aldo")
    )
}

#[test]
fn https_listener_serves_tokens_and_the_api() {
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let tls = Some((cert.cert.pem(), cert.signing_key.serialize_pem()));
    let h = Harness::start_with(
        &apps(),
        Options {
            tls,
            ..Options::default()
        },
    );
    assert!(h.base.starts_with("https://"));
    let t = h.token(ID, "s");
    assert_eq!(h.query_invoices(&t).status(), 200);
    let v = json(
        h.http
            .get(h.url("/.well-known/oauth-authorization-server"))
            .send()
            .unwrap(),
    );
    assert_eq!(v["token_endpoint"], h.url("/oauth2/v2.0/token.php"));
    let plain = reqwest::blocking::get(format!("http://127.0.0.1:{}/gateway/healthz", h.port));
    assert!(
        plain.is_err() || plain.unwrap().status() != 200,
        "plain http answered on the TLS port"
    );
}

#[test]
fn plain_http_on_a_public_address_warns_at_start() {
    let opts = Options {
        public_url: Some("http://crm.example.com".into()),
        ..Options::default()
    };
    let h = Harness::start_with(&apps(), opts);
    assert!(
        h.log().contains("OAuth needs TLS in production"),
        "{}",
        h.log()
    );
    let quiet = Harness::start(&apps());
    assert!(!quiet.log().contains("OAuth needs TLS"));
}

#[test]
fn a_trusted_proxy_keeps_and_extends_the_forwarded_chain() {
    let opts = Options {
        server_extra: "trusted_proxies = [\"127.0.0.0/8\"]\n".into(),
        ..Options::default()
    };
    let h = Harness::start_with(&apps(), opts);
    let t = h.token(ID, "s");
    let r = h
        .http
        .post(h.url("/restapi/v1/vtews/query"))
        .bearer_auth(&t)
        .header("X-Forwarded-For", "203.0.113.7")
        .header("Forwarded", "for=203.0.113.7")
        .header("X_Forwarded_For", "6.6.6.6")
        .header("Client-IP", "6.6.6.6")
        .json(&json!({"query": "SELECT * FROM Invoice;"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = h.last_received();
    assert_eq!(
        got.header_values("x-forwarded-for"),
        ["203.0.113.7, 127.0.0.1"]
    );
    assert_eq!(got.header_values("forwarded"), ["for=203.0.113.7"]);
    assert!(got.header_values("x_forwarded_for").is_empty());
    assert!(got.header_values("client-ip").is_empty());
}

#[test]
fn a_busy_listen_address_fails_start_up_with_a_clear_message() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\n\n[upstream]\naddress = \"127.0.0.1:9\"\n"
    );
    std::fs::write(dir.path().join("crmgate.toml"), config).unwrap();
    std::fs::write(dir.path().join("apps.toml"), settings(true, false)).unwrap();
    std::fs::write(dir.path().join("users.toml"), "").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crmgate"))
        .args(["serve", "--config"])
        .arg(dir.path().join("crmgate.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn ops_listen_takes_metrics_and_health_off_the_public_listener() {
    let ops = free_port();
    let apps = format!(
        "{}{}",
        settings(true, false),
        secret_app("vte_ops00000000000000001", "s-o", "rest.all", "aldo")
    );
    let h = Harness::start_with(
        &apps,
        Options {
            server_extra: format!("ops_listen = \"127.0.0.1:{ops}\"\n"),
            ..Options::default()
        },
    );
    let get = |url: String| h.http.get(url).send().unwrap();
    for path in ["/gateway/metrics", "/gateway/healthz", "/gateway/readyz"] {
        assert_eq!(get(h.url(path)).status(), 404, "public {path}");
        let r = get(format!("http://127.0.0.1:{ops}{path}"));
        assert_eq!(r.status(), 200, "ops {path}");
    }
    let metrics = get(format!("http://127.0.0.1:{ops}/gateway/metrics"))
        .text()
        .unwrap();
    assert!(metrics.contains("# TYPE"), "{metrics}");
    // The public listener still does its job; the ops one does nothing else.
    let token = h.token("vte_ops00000000000000001", "s-o");
    assert_eq!(h.query_invoices(&token).status(), 200);
    let before = h.crm.received().len();
    let r = h
        .http
        .post(format!("http://127.0.0.1:{ops}/restapi/v1/vtews/query"))
        .bearer_auth(&token)
        .body("{\"query\":\"SELECT * FROM Invoice;\"}")
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = get(format!("http://127.0.0.1:{ops}/oauth2/v2.0/auth.php"));
    assert_eq!(r.status(), 404);
    assert_eq!(
        h.crm.received().len(),
        before,
        "nothing reached the CRM from the ops listener"
    );
}
