//! The header sanitizer (`crmgate::proxy::headers`): strip, then set, as the proxy's
//! `upstream_request_filter` does, on a request with arbitrary headers (reserved names in any
//! case and punctuation, repeats, comma-joined values, `Connection` naming headers).
//!
//! Property, on the HTTP/1 wire form pingora sends to the CRM: no reserved or identity header
//! survives in any spelling a CGI/PHP server would read as the same variable (case-insensitive,
//! every non-alphanumeric byte alike); the gateway's own identity headers appear once, spelt as
//! the gateway spells them, with the gateway's values; and no remaining `Connection` header names
//! a header that is forwarded (a hop that honours `Connection` would drop it).

#![no_main]

use arbitrary::Arbitrary;
use crmgate::proxy::headers::{self, names};
use libfuzzer_sys::fuzz_target;
use pingora_http::RequestHeader;

const RESERVED: [&str; 18] = [
    "x-crm-user",
    "x-crm-client-id",
    "x-crm-scope",
    "x-crm-gateway-timestamp",
    "x-crm-gateway-signature",
    "x-crm-other",
    "client-ip",
    "x-request-id",
    "proxy-authorization",
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    "authorization",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "proxy-connection",
    "connection",
];
const COMMON: [&str; 6] = [
    "accept",
    "content-type",
    "host",
    "keep-alive",
    "upgrade",
    "te",
];
/// The non-alphanumeric bytes allowed in a header name (RFC 9110 tchar).
const PUNCT: &[u8] = b"-_.~!#$%&'*+^`|";

const PEER: &str = "203.0.113.7";
const REQUEST_ID: &str = "00000000000000010000002a";
const USER: &str = "alice";
const CLIENT: &str = "app-1";
const SCOPE: &str = "rest.all.read";
const ACCESS_KEY: &str = "k3y";
const TIMESTAMP: &str = "1900000000";
const SIGNATURE: &str = "ab12";

#[derive(Arbitrary, Debug)]
enum HName {
    /// A reserved name respelt: each byte of `spelling` picks the case of a letter or the
    /// punctuation that replaces a `-`.
    Reserved {
        which: u8,
        spelling: Vec<u8>,
    },
    Common(u8),
    Arbitrary(String),
}

impl HName {
    fn text(&self) -> String {
        match self {
            HName::Reserved { which, spelling } => {
                let base = RESERVED[usize::from(*which) % RESERVED.len()];
                base.bytes()
                    .enumerate()
                    .map(|(i, b)| {
                        let s = spelling.get(i).copied().unwrap_or(0);
                        match b {
                            b'-' => PUNCT[usize::from(s) % PUNCT.len()] as char,
                            b if s & 1 == 1 => b.to_ascii_uppercase() as char,
                            b => b as char,
                        }
                    })
                    .collect()
            }
            HName::Common(i) => COMMON[usize::from(*i) % COMMON.len()].to_string(),
            HName::Arbitrary(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum HValue {
    Text(String),
    /// Comma-joined header names, as a `Connection` value would carry them.
    Names(Vec<(HName, u8)>),
    Bytes(Vec<u8>),
}

impl HValue {
    fn bytes(&self) -> Vec<u8> {
        match self {
            HValue::Text(s) => s.clone().into_bytes(),
            HValue::Names(list) => list
                .iter()
                .map(|(n, ws)| format!("{}{}", " ".repeat(usize::from(ws % 3)), n.text()))
                .collect::<Vec<_>>()
                .join(",")
                .into_bytes(),
            HValue::Bytes(b) => b.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Headers {
    /// A header block as sent: `Name: value` lines.
    Raw(Vec<u8>),
    /// Headers built from reserved names in odd spellings and lists of names.
    Built(Vec<(HName, HValue)>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    protected: bool,
    trusted: bool,
    basic: bool,
    signing: bool,
    headers: Headers,
}

/// How CGI and PHP see a header name: case-insensitive, any punctuation read as `_`.
fn fold(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                b.to_ascii_lowercase() as char
            } else {
                '-'
            }
        })
        .collect()
}

fn wire(req: &RequestHeader) -> Vec<(String, Vec<u8>)> {
    let mut buf: Vec<u8> = Vec::new();
    req.header_to_h1_wire(&mut buf);
    let mut out = Vec::new();
    for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let line = line.strip_suffix(b"\r").expect("CRLF line ends");
        let colon = line.iter().position(|b| *b == b':').expect("name: value");
        let name = String::from_utf8(line[..colon].to_vec()).expect("ASCII name");
        let value = line[colon + 1..]
            .strip_prefix(b" ")
            .unwrap_or(&line[colon + 1..]);
        out.push((name, value.to_vec()));
    }
    out
}

fuzz_target!(|input: Input| {
    let mut req = RequestHeader::build("POST", b"/restapi/v1/vtews/query", None).expect("request");
    let list: Vec<(String, Vec<u8>)> = match &input.headers {
        Headers::Raw(block) => block
            .split(|b| *b == b'\n')
            .filter_map(|line| {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let colon = line.iter().position(|b| *b == b':')?;
                let name = String::from_utf8(line[..colon].to_vec()).ok()?;
                Some((name, line[colon + 1..].trim_ascii().to_vec()))
            })
            .collect(),
        Headers::Built(list) => list.iter().map(|(n, v)| (n.text(), v.bytes())).collect(),
    };
    for (name, value) in list {
        let Ok(v) = http::HeaderValue::from_bytes(&value) else {
            continue;
        };
        let _ = req.append_header(name, v);
    }
    // The strip-then-set sequence of GatewayProxy::upstream_request_filter.
    headers::strip(&mut req, input.protected, input.trusted);
    headers::set_forwarded_for(&mut req, Some(PEER), input.trusted);
    headers::set(&mut req, names::REQUEST_ID, REQUEST_ID);
    let basic = crmgate::users::basic_header(USER, ACCESS_KEY);
    if input.protected {
        headers::set(&mut req, names::USER, USER);
        headers::set(&mut req, names::CLIENT_ID, CLIENT);
        headers::set(&mut req, names::SCOPE, SCOPE);
        if input.basic {
            headers::set(&mut req, "Authorization", &basic);
        }
    }
    if input.signing {
        headers::set(&mut req, names::TIMESTAMP, TIMESTAMP);
        headers::set(&mut req, names::SIGNATURE, SIGNATURE);
    }

    // What the gateway itself sends: (spelling, value).
    let mut ours: Vec<(&str, String)> = vec![(names::REQUEST_ID, REQUEST_ID.to_string())];
    if input.protected {
        ours.push((names::USER, USER.into()));
        ours.push((names::CLIENT_ID, CLIENT.into()));
        ours.push((names::SCOPE, SCOPE.into()));
        if input.basic {
            ours.push(("Authorization", basic.clone()));
        }
    }
    if input.signing {
        ours.push((names::TIMESTAMP, TIMESTAMP.into()));
        ours.push((names::SIGNATURE, SIGNATURE.into()));
    }

    let sent = wire(&req);
    for (name, value) in &sent {
        let f = fold(name);
        let value = String::from_utf8_lossy(value);
        if f == "x-forwarded-for" {
            assert_eq!(
                name,
                names::FORWARDED_FOR,
                "a client X-Forwarded-For survived"
            );
            if input.trusted {
                assert!(
                    value == PEER || value.ends_with(&format!(", {PEER}")),
                    "{value:?}"
                );
            } else {
                assert_eq!(value, PEER, "an untrusted peer's chain survived");
            }
            continue;
        }
        if let Some((spelling, v)) = ours.iter().find(|(n, _)| fold(n) == f) {
            assert_eq!(name, spelling, "identity header spelt {name:?}");
            assert_eq!(&value, v, "{name} carries the client's value");
            continue;
        }
        let identity = f.starts_with("x-crm-")
            || matches!(
                f.as_str(),
                "client-ip" | "x-request-id" | "proxy-authorization" | "proxy-connection"
            );
        assert!(!identity, "client header {name:?} survived");
        if matches!(f.as_str(), "forwarded" | "x-real-ip") {
            assert!(input.trusted, "{name:?} from an untrusted peer survived");
            assert!(
                name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                "{name:?} in an odd spelling survived"
            );
        }
        if input.protected {
            assert!(
                !matches!(
                    f.as_str(),
                    "authorization"
                        | "x-http-method-override"
                        | "x-http-method"
                        | "x-method-override"
                ),
                "client {name:?} survived on a protected path"
            );
        }
    }
    // Each of ours exactly once.
    for (spelling, _) in &ours {
        let n = sent
            .iter()
            .filter(|(name, _)| fold(name) == fold(spelling))
            .count();
        assert_eq!(n, 1, "{spelling} appears {n} times");
    }
    assert_eq!(
        sent.iter()
            .filter(|(n, _)| fold(n) == "x-forwarded-for")
            .count(),
        1
    );
    // No Connection header names a header that is forwarded.
    let forwarded: Vec<String> = sent.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    for (name, value) in &sent {
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|b| *b == b',') {
                let token = String::from_utf8_lossy(token.trim_ascii()).to_ascii_lowercase();
                assert!(
                    !forwarded.contains(&token)
                        || matches!(token.as_str(), "upgrade" | "keep-alive" | "close"),
                    "Connection names the forwarded header {token:?}"
                );
            }
        }
    }
});
