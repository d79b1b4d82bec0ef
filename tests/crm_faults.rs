//! The CRM misbehaving behind the gateway: refusing, resetting connections, answering garbage or
//! another protocol, trickling or not answering at all. Every proxied call must end within a
//! bound, with a JSON 502/504 when nothing usable came back (or a cut connection once the CRM's
//! own headers were forwarded); the OAuth endpoints keep answering meanwhile, and a few hundred
//! faulty calls leave the gateway's open files and memory where they were.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

mod bad_crm;

use std::time::{Duration, Instant};

use bad_crm::{BadCrm, Fault};

use common::*;
use serde_json::Value;

const ID: &str = "vte_e0000000000000000001";
const SECRET: &str = "crm-faults-secret";

// ---------------------------------------------------------------------------------------------
// The gateway in front of it

fn apps() -> String {
    format!(
        "{}{}",
        settings(true, false),
        secret_app(ID, SECRET, "rest.all", "aldo")
    )
}

/// A gateway in front of `crm` with a read timeout of `read_timeout` seconds.
fn gateway(crm: &BadCrm, read_timeout: u64) -> Harness {
    let opts = Options {
        upstream_address: Some(crm.addr.clone()),
        read_timeout,
        ..Options::default()
    };
    Harness::start_with(&apps(), opts)
}

/// How a proxied call ended.
#[derive(Debug)]
struct Outcome {
    status: Option<u16>,
    content_type: String,
    body: Result<String, String>,
    took: Duration,
}

impl Outcome {
    fn error(&self) -> Option<String> {
        let v: Value = serde_json::from_str(self.body.as_deref().ok()?).ok()?;
        v["error"].as_str().map(str::to_string)
    }
}

/// A query through the gateway by a client that gives up after 15 s.
fn query(h: &Harness, token: &str) -> Outcome {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let start = Instant::now();
    let r = http
        .post(h.url("/restapi/v1/vtews/query"))
        .bearer_auth(token)
        .json(&serde_json::json!({"query": "SELECT * FROM Invoice;"}))
        .send();
    let (status, content_type, body) = match r {
        Ok(r) => {
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap_or("").to_string());
            let status = r.status().as_u16();
            (
                Some(status),
                ct.unwrap_or_default(),
                r.text().map_err(|e| e.to_string()),
            )
        }
        Err(e) => (None, String::new(), Err(e.to_string())),
    };
    Outcome {
        status,
        content_type,
        body,
        took: start.elapsed(),
    }
}

/// Asserts `fault` gives `status` with a JSON `error` within `limit`, and that the CRM was asked.
fn assert_bounded(h: &Harness, crm: &BadCrm, token: &str, fault: Fault, want: (u16, &str)) {
    crm.set(fault);
    let asked = crm.accepted();
    let o = query(h, token);
    assert_eq!(
        (o.status, o.error().as_deref()),
        (Some(want.0), Some(want.1)),
        "{fault:?}: {o:?}"
    );
    assert!(
        o.content_type.starts_with("application/json"),
        "{fault:?}: {o:?}"
    );
    assert!(
        o.took < Duration::from_secs(4),
        "{fault:?} took {:?}",
        o.took
    );
    assert!(crm.accepted() > asked, "{fault:?}: the CRM was never asked");
}

#[test]
fn broken_answers_are_a_json_502_at_once() {
    let crm = BadCrm::start(Fault::Healthy);
    let h = gateway(&crm, 1);
    let t = h.token(ID, SECRET);
    for fault in [
        Fault::Reset,
        Fault::Close,
        Fault::Garbage,
        Fault::Banner,
        Fault::BadStatus,
        Fault::HalfHeaders,
        Fault::HugeHeaders,
        Fault::DoubleLength,
    ] {
        assert_bounded(&h, &crm, &t, fault, (502, "bad_gateway"));
    }
    // A CRM that behaves again is reached again.
    crm.set(Fault::Healthy);
    let o = query(&h, &t);
    assert_eq!(o.status, Some(200), "{o:?}");
}

#[test]
fn a_silent_trickling_or_endlessly_continuing_crm_is_a_json_504_within_the_read_timeout() {
    let crm = BadCrm::start(Fault::Hang);
    let h = gateway(&crm, 1);
    let t = h.token(ID, SECRET);
    for fault in [Fault::Hang, Fault::Trickle, Fault::Continues] {
        assert_bounded(&h, &crm, &t, fault, (504, "gateway_timeout"));
    }
    crm.set(Fault::Healthy);
    assert_eq!(query(&h, &t).status, Some(200));
}

#[test]
fn a_body_cut_short_or_stalled_ends_the_call_within_the_read_timeout() {
    let crm = BadCrm::start(Fault::ShortBody);
    let h = gateway(&crm, 1);
    let t = h.token(ID, SECRET);
    for fault in [Fault::ShortBody, Fault::StallBody] {
        crm.set(fault);
        let o = query(&h, &t);
        // The CRM's head was already forwarded: the client sees it, then a cut connection, never
        // a complete body of the announced length.
        assert_eq!(o.status, Some(200), "{fault:?}: {o:?}");
        assert!(
            o.body.as_ref().map_or(true, |b| b.len() < 1000),
            "{fault:?}: {o:?}"
        );
        assert!(
            o.took < Duration::from_secs(4),
            "{fault:?} took {:?}",
            o.took
        );
    }
}

#[test]
fn oauth_endpoints_answer_at_once_while_calls_hang_on_the_crm() {
    let crm = BadCrm::start(Fault::Hang);
    let h = gateway(&crm, 5);
    let t = h.token(ID, SECRET);
    std::thread::scope(|s| {
        let pending: Vec<_> = (0..8).map(|_| s.spawn(|| query(&h, &t))).collect();
        // Wait (boundedly) until every call is parked on the CRM.
        let deadline = Instant::now() + Duration::from_secs(5);
        while crm.accepted() < 8 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            crm.accepted() >= 8,
            "only {} calls reached the CRM",
            crm.accepted()
        );
        let timed = |what: &str, f: &dyn Fn() -> u16| {
            let start = Instant::now();
            let status = f();
            assert_eq!(status, 200, "{what}");
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "{what} took {:?}",
                start.elapsed()
            );
        };
        let g = [("grant_type", "client_credentials")];
        timed("token", &|| h.token_basic(ID, SECRET, &g).status().as_u16());
        let introspect = || {
            h.http
                .post(h.url("/oauth2/v2.0/introspect.php"))
                .basic_auth(ID, Some(SECRET))
                .form(&[("token", t.as_str())])
                .send()
                .unwrap()
                .status()
                .as_u16()
        };
        timed("introspection", &introspect);
        let get = |path: &str| h.http.get(h.url(path)).send().unwrap().status().as_u16();
        timed("metadata", &|| {
            get("/.well-known/oauth-authorization-server")
        });
        timed("healthz", &|| get("/gateway/healthz"));
        for p in pending {
            let o = p.join().unwrap();
            assert_eq!(o.status, Some(504), "{o:?}");
            assert!(o.took < Duration::from_secs(10), "took {:?}", o.took);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Resources

/// The pid of the gateway process serving `h` (the one started with its config file).
fn gateway_pid(h: &Harness) -> u32 {
    let config = h.path("crmgate.toml").to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&config) {
            return pid;
        }
    }
    panic!("no process runs with {config}");
}

/// Open descriptors of `pid`.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Resident memory of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// One round of faulty calls: every quick fault once, then the slow ones ten at a time.
fn faulty_round(h: &Harness, crm: &BadCrm, token: &str) {
    for fault in [
        Fault::Reset,
        Fault::Close,
        Fault::Garbage,
        Fault::Banner,
        Fault::BadStatus,
        Fault::HalfHeaders,
        Fault::HugeHeaders,
        Fault::DoubleLength,
        Fault::ShortBody,
    ] {
        crm.set(fault);
        for _ in 0..4 {
            let o = query(h, token);
            assert!(o.took < Duration::from_secs(4), "{fault:?}: {o:?}");
        }
    }
    for fault in [Fault::Trickle, Fault::Continues, Fault::StallBody] {
        crm.set(fault);
        std::thread::scope(|s| {
            let calls: Vec<_> = (0..10).map(|_| s.spawn(|| query(h, token))).collect();
            for c in calls {
                let o = c.join().unwrap();
                assert!(o.took < Duration::from_secs(4), "{fault:?}: {o:?}");
            }
        });
    }
}

#[test]
fn hundreds_of_faulty_calls_leave_open_files_and_memory_bounded() {
    let crm = BadCrm::start(Fault::Healthy);
    let h = gateway(&crm, 1);
    let t = h.token(ID, SECRET);
    let pid = gateway_pid(&h);
    // Warm up: pools, caches and buffers reach their working size.
    faulty_round(&h, &crm, &t);
    let settle = |limit: usize| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while open_fds(pid) > limit && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        open_fds(pid)
    };
    let fds_before = settle(0);
    let rss_before = rss_kib(pid);
    // 66 calls a round: 396 faulty calls.
    for _ in 0..6 {
        faulty_round(&h, &crm, &t);
    }
    let fds_after = settle(fds_before + 4);
    let rss_after = rss_kib(pid);
    eprintln!("fds {fds_before} -> {fds_after}, rss {rss_before} -> {rss_after} KiB");
    assert!(
        fds_after <= fds_before + 4,
        "open descriptors grew from {fds_before} to {fds_after}"
    );
    assert!(
        rss_after <= rss_before + 16 * 1024,
        "resident memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    // Still serving.
    crm.set(Fault::Healthy);
    assert_eq!(query(&h, &t).status, Some(200));
    assert_eq!(
        h.token_basic(ID, SECRET, &[("grant_type", "client_credentials")])
            .status(),
        200
    );
}
