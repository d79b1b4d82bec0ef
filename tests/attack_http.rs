//! HTTP-level attacks on the proxy over raw TCP: control characters in header values, request
//! smuggling (Content-Length against Transfer-Encoding, obfuscated encodings, requests hidden in
//! bodies), oversized heads, slow clients, misplaced tokens and path tricks. Every test states the
//! input, the answer the gateway gives, and what the recording CRM did (or did not) receive.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const READ: &str = "vte_e0000000000000000001";
const ALL: &str = "vte_e0000000000000000002";
const QUERY: &str = "/restapi/v1/vtews/query";
const CREATE: &str = "/restapi/v1/vtews/create";
const BODY: &str = r#"{"query":"SELECT * FROM Invoice;"}"#;

/// A gateway with a read-only and a full-scope app, and a token of each.
fn harness() -> (Harness, String, String) {
    let apps = format!(
        "{}{}{}",
        settings(true, false),
        secret_app(READ, "s-read", "rest.all.read", "aldo"),
        secret_app(ALL, "s-all", "rest.all", "aldo"),
    );
    let h = Harness::start(&apps);
    let (read, all) = (h.token(READ, "s-read"), h.token(ALL, "s-all"));
    (h, read, all)
}

/// What came back on one connection.
#[derive(Debug)]
struct Reply {
    /// Every status line's code, in order.
    statuses: Vec<u16>,
    /// The bytes, lossily as text.
    text: String,
    /// The gateway closed the connection (EOF or reset) before the deadline.
    closed: bool,
}

impl Reply {
    /// The `error` of the first response's JSON body.
    fn error(&self) -> Value {
        let body = self.text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let mut values = serde_json::Deserializer::from_str(body).into_iter::<Value>();
        match values.next() {
            Some(Ok(v)) => v["error"].clone(),
            _ => panic!("no JSON body in {:?}", self.text),
        }
    }
}

/// Reads from `s` until the gateway closes the connection or `wait` has passed.
fn collect(mut s: TcpStream, wait: Duration) -> Reply {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + wait;
    let (mut bytes, mut closed, mut buf) = (Vec::new(), false, [0u8; 16 * 1024]);
    while !closed && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => closed = true,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => closed = true,
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let statuses = text
        .match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
        .collect();
    Reply {
        statuses,
        text,
        closed,
    }
}

/// Sends `request` on a fresh connection in one write and collects the answer for up to 5 s.
fn ask(h: &Harness, request: &str) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    // The gateway may refuse and close before reading everything (huge heads): not an error.
    let _ = s.write_all(request.as_bytes());
    collect(s, Duration::from_secs(5))
}

/// A POST to `path` with the raw header lines `head` and a JSON body, closing after.
fn post_with(path: &str, head: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{head}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    )
}

/// [`post_with`] a Bearer token and the `extra` header lines.
fn post(path: &str, token: &str, extra: &str) -> String {
    post_with(path, &format!("Authorization: Bearer {token}\r\n{extra}"))
}

/// Sends `request`, asserts the single `status` answer and that the CRM received nothing.
fn assert_refused(h: &Harness, request: &str, status: u16, what: &str) -> Reply {
    let before = h.crm.received().len();
    let reply = ask(h, request);
    assert_eq!(reply.statuses, [status], "{what}: {reply:?}");
    assert_crm_count(h, before, what);
    reply
}

/// Asserts that the CRM received `n` requests in all.
fn assert_crm_count(h: &Harness, n: usize, what: &str) {
    let got = h.crm.received();
    assert_eq!(got.len(), n, "{what}: {:?}", got.get(n.min(got.len())..));
}

/// Asserts that the gateway still serves a query.
fn assert_serving(h: &Harness, token: &str) {
    assert_eq!(h.query_invoices(token).status(), 200, "starved or stopped");
}

/// Asserts that nothing the CRM ever received was a write operation.
fn assert_no_write_reached_the_crm(h: &Harness) {
    for r in h.crm.received() {
        assert!(!r.uri.contains("create"), "a write reached the CRM: {r:?}");
    }
}

#[test]
fn control_characters_in_header_values_are_refused_before_the_crm() {
    let (h, t, _) = harness();
    // A bare CR, NUL or DEL inside a value, a CR inside a name, and an obs-fold continuation
    // line (RFC 9112 §5.2). pingora (httparse) answers 400 and closes before any filter runs;
    // without it the requests below would get 401 (no token) or 200.
    for line in [
        "Authorization: Bearer crm_at_x\rX-Crm-User: admin\r\n",
        "Authorization: Bearer crm_at_x\0\r\n",
        "X-Crm-User: aldo\0admin\r\n",
        "X-Crm-User: aldo\rX-Crm-Scope: rest.all\r\n",
        "X-Note: a\0b\r\n",
        "X-Note: a\rb\r\n",
        "X-Note: a\x7fb\r\n",
        "X-No\rte: a\r\n",
        "X-Note: a\r\n X-Crm-User: admin\r\n",
    ] {
        let reply = assert_refused(&h, &post_with(QUERY, line), 400, line);
        assert!(reply.closed, "{line:?}: the connection stayed open");
        let with_token = match line.strip_prefix("Authorization: Bearer crm_at_x") {
            Some(rest) => post_with(QUERY, &format!("Authorization: Bearer {t}{rest}")),
            None => post(QUERY, &t, line),
        };
        assert_refused(&h, &with_token, 400, line);
    }
    assert_serving(&h, &t);
}

#[test]
fn bare_lf_line_endings_are_refused_before_the_crm() {
    let (h, t, _) = harness();
    // httparse takes a bare LF as a line end (RFC 9112 §2.2 allows it); the gateway refuses
    // such heads itself, so nobody in front of it can read them differently.
    for request in [
        post(QUERY, &t, "X-Note: a\nX-Crm-User: admin\r\n"),
        post(QUERY, &t, "X-Crm-Scope: x\nAuthorization: Bearer x\r\n"),
        format!("GET {QUERY} HTTP/1.1\nHost: x\nAuthorization: Bearer {t}\nConnection: close\n\n"),
        "GET /index.php HTTP/1.1\nHost: x\nConnection: close\n\n".to_string(),
    ] {
        let reply = assert_refused(&h, &request, 400, &request);
        assert_eq!(reply.error(), "invalid_request", "{request:?}");
    }
}

#[test]
fn header_lines_injected_with_crlf_cannot_change_the_identity() {
    let (h, t, _) = harness();
    // What a CRLF "inside" a value becomes on the wire: header lines of their own. They are the
    // client's headers, and identity headers are stripped in every spelling.
    let injected =
        "X-Note: a\r\nX-Crm-User: admin\r\nX_Crm_Scope: rest.all\r\nClient-IP: 6.6.6.6\r\n";
    assert_eq!(ask(&h, &post(QUERY, &t, injected)).statuses, [200]);
    let got = h.last_received();
    assert_eq!(got.header_values("x-crm-user"), ["aldo"]);
    assert_eq!(got.header_values("x-crm-scope"), ["rest.all.read"]);
    assert_eq!(got.header_values("x-note"), ["a"]);
    let all = format!("{:?}", got.headers);
    assert!(!all.contains("admin") && !all.contains("6.6.6.6"), "{all}");
    // A second Authorization line is a second token: refused, never forwarded.
    let two = post(QUERY, &t, "X-Note: a\r\nAuthorization: Bearer x\r\n");
    let reply = assert_refused(&h, &two, 400, "two tokens");
    assert_eq!(reply.error(), "invalid_request");
}

/// `body` as one chunk and the last chunk.
fn chunked(body: &str) -> String {
    format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len())
}

/// A kept-alive query with `framing` header lines whose body is `body` followed by a complete
/// `create` with the full-scope token `all`: if anything ever read that tail as a request of its
/// own, the CRM would receive a write.
fn smuggling(t: &str, all: &str, framing: &str, body: &str) -> String {
    let hidden = post(CREATE, all, "");
    format!(
        "POST {QUERY} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\
         Content-Type: application/json\r\n{framing}\r\n{body}{hidden}"
    )
}

/// Sends `request` and asserts one 200 answer and a closed connection, and that the CRM got
/// exactly one more request: the query with `BODY`, framed one way only.
fn assert_forwarded_once(h: &Harness, request: &str, what: &str) {
    let before = h.crm.received().len();
    let reply = ask(h, request);
    assert_eq!(reply.statuses, [200], "{what}: {reply:?}");
    assert!(reply.closed, "{what}: the connection stayed open");
    assert_crm_count(h, before + 1, what);
    let r = h.last_received();
    assert_eq!((r.uri.as_str(), &r.body[..]), (QUERY, BODY.as_bytes()));
    let framings = ["content-length", "transfer-encoding"].map(|n| r.header_values(n).len());
    assert!(framings.contains(&0), "{what}: {:?}", r.headers);
    assert_no_write_reached_the_crm(h);
}

#[test]
fn content_length_with_transfer_encoding_is_framed_by_the_chunks_and_closed() {
    let (h, t, all) = harness();
    // RFC 9112 §6.1: Transfer-Encoding overrides Content-Length and the connection closes after
    // the answer. pingora drops the Content-Length, so the CRM sees one framing only, and the
    // bytes after the last chunk go away with the connection.
    let body = chunked(BODY);
    let cl = body.len() + post(CREATE, &all, "").len();
    for framing in [
        format!("Content-Length: {cl}\r\nTransfer-Encoding: chunked\r\n"),
        format!("Transfer-Encoding: chunked\r\nContent-Length: {cl}\r\n"),
        "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n".to_string(),
    ] {
        assert_forwarded_once(&h, &smuggling(&t, &all, &framing, &body), &framing);
        let dropped = h.last_received().header_values("content-length").is_empty();
        assert!(dropped, "{framing:?}: the CRM got a Content-Length");
    }
}

#[test]
fn obfuscated_transfer_encodings_are_refused_or_read_as_chunked() {
    let (h, t, all) = harness();
    let body = chunked(BODY);
    let cl = format!("Content-Length: {}\r\n", body.len());
    let smuggle = |te: &str| smuggling(&t, &all, &format!("{cl}{te}"), &body);
    // Refused with 400 by pingora before any filter runs: chunked is not the final coding, or
    // the header name is malformed.
    for te in [
        "Transfer-Encoding: xchunked\r\n",
        "Transfer-Encoding: chunked, identity\r\n",
        "Transfer-Encoding: identity\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
        "Transfer-Encoding : chunked\r\n",
        "Transfer-Encoding\t: chunked\r\n",
    ] {
        assert!(assert_refused(&h, &smuggle(te), 400, te).closed, "{te:?}");
    }
    // HTTP/1.0 with a Transfer-Encoding has faulty framing (RFC 9112 §6.1).
    let old = smuggle("Transfer-Encoding: chunked\r\n").replacen("HTTP/1.1", "HTTP/1.0", 1);
    assert_refused(&h, &old, 400, "HTTP/1.0");
    // Whitespace and letter case around `chunked` are no obfuscation to pingora: it reads them
    // as chunked, as the CRM would, and forwards one request.
    for te in [
        "Transfer-Encoding:  chunked\r\n",
        "Transfer-Encoding:\tchunked\r\n",
        "Transfer-Encoding: CHUNKED \r\n",
    ] {
        assert_forwarded_once(&h, &smuggle(te), te);
    }
}

#[test]
fn conflicting_content_lengths_are_refused() {
    let (h, t, all) = harness();
    let (n, m) = (BODY.len(), BODY.len() + 60);
    for framing in [
        format!("Content-Length: {n}\r\nContent-Length: {m}\r\n"),
        format!("Content-Length: {m}\r\nContent-Length: {n}\r\n"),
        format!("Content-Length: {n}, {m}\r\n"),
        format!("Content-Length: +{n}\r\n"),
        format!("Content-Length: -{n}\r\n"),
        format!("Content-Length: 0x{n:x}\r\n"),
        format!("Content-Length: {n} 0\r\n"),
    ] {
        let reply = assert_refused(&h, &smuggling(&t, &all, &framing, BODY), 400, &framing);
        assert!(reply.closed, "{framing:?}");
    }
    // Identical repeats are one length (RFC 9110 §8.6); the tail is still never a request.
    let same = format!("Content-Length: {n}\r\nContent-Length: {n}\r\n");
    assert_forwarded_once(&h, &smuggling(&t, &all, &same, BODY), "identical repeats");
}

#[test]
fn a_request_hidden_after_or_inside_the_body_never_reaches_the_crm() {
    let (h, t, all) = harness();
    // The body ends where Content-Length says. The bytes after it came with the request, so
    // pingora (pipelining off) answers the first request and closes instead of reading more.
    let framing = format!("Content-Length: {}\r\n", BODY.len());
    assert_forwarded_once(
        &h,
        &smuggling(&t, &all, &framing, BODY),
        "request after the body",
    );
    // A request inside the body is just body bytes to the CRM.
    let hidden = post(CREATE, &all, "");
    let inside = format!(
        "POST {QUERY} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{hidden}",
        hidden.len()
    );
    let before = h.crm.received().len();
    assert_eq!(ask(&h, &inside).statuses.len(), 1);
    let got = h.crm.received();
    assert_eq!(got.len(), before + 1);
    assert_eq!(got[before].body, hidden.as_bytes());
    assert_no_write_reached_the_crm(&h);
}

#[test]
fn every_request_on_a_kept_alive_connection_is_checked_on_its_own() {
    let (h, t, _) = harness();
    let mut s = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    let keep = |path: &str| post(path, &t, "").replace("Connection: close\r\n", "");
    s.write_all(keep(QUERY).as_bytes()).unwrap();
    let first = collect(s.try_clone().unwrap(), Duration::from_secs(3));
    assert!(first.statuses == [200] && !first.closed, "{first:?}");
    let before = h.crm.received().len();
    s.write_all(keep(CREATE).as_bytes()).unwrap();
    let second = collect(s, Duration::from_secs(3));
    assert_eq!(second.statuses, [403], "{second:?}");
    assert_eq!(h.crm.received().len(), before, "a write reached the CRM");
}

#[test]
fn oversized_heads_are_refused_and_the_gateway_keeps_serving() {
    let (h, t, _) = harness();
    // The gateway's limits: 100 fields, 32 KiB of names and values (431, RFC 6585 §5), on every
    // path, before routing.
    let big = format!("X-Big: {}\r\n", "a".repeat(100 * 1024));
    let many: String = (0..150).map(|i| format!("X-Many-{i}: v\r\n")).collect();
    for request in [
        post(QUERY, &t, &big),
        post(QUERY, &t, &many),
        post_with("/oauth2/v2.0/token.php", &big),
        post_with("/index.php", &big),
    ] {
        let reply = assert_refused(&h, &request, 431, &request[..40]);
        assert_eq!(reply.error(), "invalid_request");
    }
    // Beyond pingora's own limits (256 fields, a 1 MiB head) pingora answers 400 itself (or
    // resets a client still writing) before any filter of the gateway runs: these cannot be 431.
    let too_many: String = (0..300).map(|i| format!("X-Many-{i}: v\r\n")).collect();
    let huge = format!("X-Huge: {}\r\n", "a".repeat(2 * 1024 * 1024));
    for request in [post(QUERY, &t, &too_many), post(QUERY, &t, &huge)] {
        let before = h.crm.received().len();
        let reply = ask(&h, &request);
        let (statuses, closed) = (reply.statuses, reply.closed);
        assert!(
            closed && matches!(statuses[..], [] | [400]),
            "{statuses:?} {closed}"
        );
        assert_crm_count(&h, before, "an oversized head");
    }
    assert_serving(&h, &t);
}

/// pingora's read timeout for a request head: 60 s per read, not configurable in crmgate (no
/// config key, and no pingora hook runs before the head is complete). A client that drips a
/// byte of its head now and then restarts it each time; only pingora's 1 MiB head limit ends
/// that one.
const HEAD_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn a_stalled_request_head_is_closed_while_other_clients_are_served() {
    let (h, t, _) = harness();
    let partial = [
        "POST /restapi/v1/vt".to_string(),
        format!("POST {QUERY} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Le"),
        "GET / HTTP/1.1\r\n".to_string(),
    ];
    let started = Instant::now();
    let stalled: Vec<TcpStream> = (0..30)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
            s.write_all(partial[i % partial.len()].as_bytes()).unwrap();
            s
        })
        .collect();
    for _ in 0..5 {
        assert_serving(&h, &t);
    }
    assert!(started.elapsed() < Duration::from_secs(10), "too slow");
    let before = h.crm.received().len();
    let limit = HEAD_TIMEOUT + Duration::from_secs(15);
    for s in stalled {
        let reply = collect(s, limit.saturating_sub(started.elapsed()));
        assert!(reply.closed, "a stalled client kept its connection");
        assert!(reply.statuses.is_empty(), "{reply:?}");
    }
    assert_crm_count(&h, before, "a stalled request");
}

#[test]
fn a_slow_token_request_body_gets_408_while_other_clients_are_served() {
    let (h, _, _) = harness();
    let head = "POST /oauth2/v2.0/token.php HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n";
    let started = Instant::now();
    // One client sends part of its body and stalls, one drips a byte every 200 ms: the body has
    // 10 s in all (pingora's own timeout is 60 s per read, which a drip never hits).
    let mut stalled = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    stalled
        .write_all(format!("{head}grant_type=client").as_bytes())
        .unwrap();
    let mut dripping = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    dripping.write_all(head.as_bytes()).unwrap();
    let dripped = dripping.try_clone().unwrap();
    let drip = std::thread::spawn(move || {
        for _ in 0..200 {
            if dripping.write_all(b"a").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let ok = h.token_basic(READ, "s-read", &[("grant_type", "client_credentials")]);
    assert_eq!(ok.status(), 200, "starved by slow clients");
    let limit = Duration::from_secs(25);
    for (what, s) in [("stalled", stalled), ("dripping", dripped)] {
        let reply = collect(s, limit.saturating_sub(started.elapsed()));
        assert_eq!(reply.statuses, [408], "{what}: {reply:?}");
        assert_eq!(reply.error(), "invalid_request", "{what}");
        assert!(reply.text.contains("no-store"), "{what}: {reply:?}");
        assert!(reply.closed, "{what}: kept for {:?}", started.elapsed());
    }
    drip.join().unwrap();
}

#[test]
fn tokens_anywhere_but_one_bearer_header_are_refused() {
    // Beyond proxy_identity's bearer test: tokens in a form body, a cookie or a differently
    // spelled query, a query token next to a valid header, two tokens or schemes at once.
    let (h, t, _) = harness();
    let form = format!("access_token={t}");
    let in_body = format!(
        "POST {QUERY} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    let basic = "Authorization: Basic YWxkbzpway1hbGRv\r\n";
    let no_token = [
        in_body,
        post_with(QUERY, &format!("Cookie: access_token={t}\r\n")),
        post_with(&format!("{QUERY}?ACCESS_TOKEN={t}"), ""),
        post_with(QUERY, &format!("Authorization: Bearer\t{t}\r\n")),
    ];
    let malformed = [
        post(&format!("{QUERY}?access_token={t}"), &t, ""),
        post(&format!("{QUERY}?access%5Ftoken={t}"), &t, ""),
        post(QUERY, &format!("{t}, Bearer {t}"), ""),
        post(QUERY, &format!("{t} {t}"), ""),
        post(QUERY, &t, basic),
        post_with(QUERY, &format!("{basic}Authorization: Bearer {t}\r\n")),
    ];
    let cases = no_token.iter().map(|r| (r, 401, "invalid_token"));
    for (request, status, error) in
        cases.chain(malformed.iter().map(|r| (r, 400, "invalid_request")))
    {
        let reply = assert_refused(&h, request, status, request);
        assert_eq!(reply.error(), error, "{request}");
    }
    let upper = post_with(QUERY, &format!("Authorization: BEARER {t}\r\n"));
    assert_eq!(ask(&h, &upper).statuses, [200], "the scheme is case-blind");
}

#[test]
fn more_non_canonical_protected_paths_are_refused_before_the_crm() {
    // Beyond proxy_scope's list: encoded dot segments, inner and leading double slashes,
    // encoded slashes and NUL, fragments, backslashes, the case of a read path, and the
    // absolute form of the request target.
    let (h, t, _) = harness();
    for path in [
        "/restapi/v1/vtews/query/%2e%2e/create",
        "/restapi/v1/vtews/query/%2E%2E/create",
        "/restapi/v1/vtews/query/..%2fcreate",
        "/restapi/v1/vtews/query%2F..%2Fcreate",
        "/restapi/v1/vtews/%2e%2e/%2e%2e/v1/vtews/create",
        "/restapi/v1/vtews//create",
        "/%2frestapi/v1/vtews/create",
        "/restapi/v1/vtews/./create",
        "/restapi/v1/vtews/query/..",
        "/restapi/v1/vtews/query;/../create",
        "/restapi/v1/vtews/create%00",
        "/restapi/v1/vtews/query%23/../create",
        "/restapi/v1/vtews/query\\..\\create",
        "/RESTAPI/v1/vtews/query",
        "/Restapi/v1/vtews/query",
        "/restapi/v1/vtews/query%20",
        "http://x//restapi/v1/vtews/create",
        // Absolute-form is accepted only from trusted proxies (tests/outside_proxy.rs).
        "http://x/restapi/v1/vtews/create",
    ] {
        let reply = assert_refused(&h, &post(path, &t, ""), 400, path);
        assert_eq!(reply.error(), "invalid_request", "{path}");
    }
    // A canonical spelling the gateway classifies itself: not a known operation shape.
    let path = "/restapi/v1/VTEWS/query";
    let reply = assert_refused(&h, &post(path, &t, ""), 403, path);
    assert_eq!(reply.error(), "insufficient_scope", "{path}");
}
