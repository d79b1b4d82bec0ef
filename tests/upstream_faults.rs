//! When the CRM is down or hangs, proxied calls get a bounded 502/504 with a JSON body, and the
//! OAuth endpoints keep working.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const ID: &str = "vte_f0000000000000000001";

fn apps() -> String {
    format!(
        "{}{}",
        settings(true, false),
        secret_app(ID, "s", "rest.all", "aldo")
    )
}

#[test]
fn crm_down_gives_502_and_tokens_still_issue() {
    let dead = free_port();
    let opts = Options {
        upstream_address: Some(format!("127.0.0.1:{dead}")),
        ..Options::default()
    };
    let h = Harness::start_with(&apps(), opts);
    let t = h.token(ID, "s");
    let r = h.query_invoices(&t);
    assert_eq!(r.status(), 502);
    assert_eq!(json(r)["error"], "bad_gateway");
    assert_eq!(
        h.token_basic(ID, "s", &[("grant_type", "client_credentials")])
            .status(),
        200
    );
    assert_eq!(
        h.http
            .get(h.url("/gateway/healthz"))
            .send()
            .unwrap()
            .status(),
        200
    );
    // Alive, but not ready: the CRM does not answer.
    let ready = h.http.get(h.url("/gateway/readyz")).send().unwrap();
    assert_eq!(ready.status(), 503);
    let body = json(ready);
    assert_eq!(body["status"], "crm_unreachable", "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains(&dead.to_string()),
        "{body}"
    );
}

#[test]
fn readyz_is_ok_when_the_store_takes_writes_and_the_crm_answers() {
    let h = Harness::start(&apps());
    let ready = h.http.get(h.url("/gateway/readyz")).send().unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(json(ready)["status"], "ok");
    // The log goes to a file here, not a terminal: no colour codes in it.
    let log = h.log();
    assert!(log.contains("crmgate listening"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a log file: {log:?}"
    );
}

#[test]
fn a_hanging_crm_gives_504_within_the_read_timeout() {
    let hang = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = hang.local_addr().unwrap();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in hang.incoming().take(4) {
            held.push(s);
        }
        std::thread::sleep(Duration::from_secs(10));
    });
    let opts = Options {
        upstream_address: Some(addr.to_string()),
        read_timeout: 1,
        ..Options::default()
    };
    let h = Harness::start_with(&apps(), opts);
    let t = h.token(ID, "s");
    let start = Instant::now();
    let r = h.query_invoices(&t);
    assert_eq!(r.status(), 504);
    assert_eq!(json(r)["error"], "gateway_timeout");
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "took {:?}",
        start.elapsed()
    );
    drop(holder);
}

#[test]
fn metrics_count_requests_tokens_and_cache() {
    let h = Harness::start(&apps());
    let t = h.token(ID, "s");
    h.query_invoices(&t);
    h.query_invoices(&t);
    h.query_invoices("crm_at_nope");
    let text = h
        .http
        .get(h.url("/gateway/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "crmgate_tokens_issued_total{grant_type=\"client_credentials\"} 1",
        "crmgate_proxy_requests_total{outcome=\"allowed\"} 2",
        "crmgate_proxy_requests_total{outcome=\"unauthorized\"} 1",
        "crmgate_token_cache_hits_total 1",
        "crmgate_token_cache_misses_total 1",
        &format!(
            "crmgate_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        ),
        "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_cpu_seconds_total counter",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn json_logs_carry_one_access_line_per_proxied_call() {
    let extra = "[logging]\njson = true\n";
    let mut h = Harness::start_with(
        &apps(),
        Options {
            extra: extra.into(),
            ..Options::default()
        },
    );
    let t = h.token(ID, "s");
    h.query_invoices(&t);
    h.call("/restapi/v1/vtews/loginpwd", &t, &serde_json::json!({}));
    // The access line is written once the response is on its way: wait for it, boundedly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while h.log().matches("crmgate::access").count() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.kill();
    let lines: Vec<serde_json::Value> = h
        .log()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["target"] == "crmgate::access")
        .collect();
    assert_eq!(access.len(), 2, "{lines:#?}");
    let ok = &access[0]["fields"];
    assert_eq!(ok["client_id"], ID);
    assert_eq!(ok["user"], "aldo");
    assert_eq!(ok["op"], "query");
    assert_eq!(ok["decision"], "allowed");
    assert_eq!(ok["status"], 200);
    assert!(ok["request_id"].as_str().unwrap().len() >= 16);
    assert!(ok["latency_us"].as_u64().is_some());
    let denied = &access[1]["fields"];
    assert_eq!(
        (denied["decision"].clone(), denied["status"].clone()),
        (json!("denied op"), json!(403))
    );
    assert_eq!(denied["user"], "aldo");
    assert!(!h.log().contains(&t[7..]));
}
