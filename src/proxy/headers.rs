//! What the CRM receives: client headers that could carry an identity are removed in every
//! spelling, then the gateway sets its own (`X-Crm-*`, `X-Forwarded-For`, `X-Request-Id`, and
//! `Authorization` when acting as the user with Basic auth).

use http::HeaderName;
use pingora::http::RequestHeader;

/// Headers the gateway sets towards the CRM.
pub mod names {
    /// The CRM user the call acts as.
    pub const USER: &str = "X-Crm-User";
    /// The OAuth client.
    pub const CLIENT_ID: &str = "X-Crm-Client-Id";
    /// The effective scope.
    pub const SCOPE: &str = "X-Crm-Scope";
    /// Unix seconds of the signature.
    pub const TIMESTAMP: &str = "X-Crm-Gateway-Timestamp";
    /// HMAC-SHA256 signature.
    pub const SIGNATURE: &str = "X-Crm-Gateway-Signature";
    /// Request id.
    pub const REQUEST_ID: &str = "X-Request-Id";
    /// Client address chain.
    pub const FORWARDED_FOR: &str = "X-Forwarded-For";
}

/// How a header name reads once case and punctuation are ignored, as CGI and PHP do: servers
/// such as lighttpd turn every byte but letters and digits into `_`, so `X.Crm.User` is
/// `HTTP_X_CRM_USER` (names arrive lower-cased; only names with punctuation other than `-` need
/// a copy).
fn folded(name: &str) -> std::borrow::Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    if !name.bytes().all(plain) {
        let f: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    b.to_ascii_lowercase() as char
                } else {
                    '-'
                }
            })
            .collect();
        std::borrow::Cow::Owned(f)
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// Headers that carry an identity or a client address: never forwarded as the client sent them.
fn is_identity(folded: &str) -> bool {
    folded.starts_with("x-crm-")
        || matches!(folded, "client-ip" | "x-request-id" | "proxy-authorization")
}

/// Address and origin headers kept (and extended) only when the peer is a trusted proxy.
fn is_forwarding(folded: &str) -> bool {
    matches!(
        folded,
        "x-forwarded-for"
            | "forwarded"
            | "x-real-ip"
            | "x-forwarded-host"
            | "x-forwarded-proto"
            | "x-forwarded-port"
            | "x-forwarded-server"
            | "x-forwarded-scheme"
            | "x-forwarded-ssl"
    )
}

/// Headers some servers and frameworks read as the request's real path (`X-Original-URL`,
/// `X-Rewrite-URL`, `X-Original-URI`, `X-Forwarded-Prefix`, ...): the gateway decides by the
/// request line alone, so none is ever forwarded, on any path.
fn is_path_override(folded: &str) -> bool {
    let Some(name) = folded.strip_prefix("x-") else {
        return false;
    };
    let names_a_path = ["-url", "-uri", "-path", "-prefix"]
        .iter()
        .any(|end| name.ends_with(end));
    let rewrites = [
        "original",
        "rewrite",
        "override",
        "forwarded",
        "request",
        "proxy",
    ]
    .iter()
    .any(|word| name.contains(word));
    (names_a_path && rewrites)
        || matches!(
            name,
            "http-destinationurl" | "envoy-original-path" | "accel-redirect"
        )
}

/// Method override headers: refused on protected paths, since the operation is decided by path.
fn is_method_override(folded: &str) -> bool {
    matches!(
        folded,
        "x-http-method-override" | "x-http-method" | "x-method-override"
    )
}

/// Headers dropped on protected paths: the client's own credentials (its token, a CRM session
/// cookie) and method overrides, since the operation is decided by path.
fn is_protected_only(folded: &str) -> bool {
    matches!(folded, "authorization" | "cookie" | "cookie2") || is_method_override(folded)
}

/// Removes every client header that could impersonate a user or spoof an address, plus the
/// headers a `Connection` header names (hop-by-hop, RFC 9110 §7.6.1); `Connection` itself keeps
/// only `keep-alive`, `close` and `upgrade`, so that no later hop drops a header the gateway
/// sets. Path override headers go everywhere; on protected paths the client's `Authorization`,
/// cookies and method override headers go too.
pub fn strip(req: &mut RequestHeader, protected: bool, trusted_peer: bool) {
    let mut doomed: Vec<HeaderName> = Vec::new();
    let mut kept: Vec<&'static str> = Vec::new();
    let mut connection = false;
    for value in req.headers.get_all(http::header::CONNECTION) {
        connection = true;
        for token in value.as_bytes().split(|b| *b == b',') {
            let token = token.trim_ascii().to_ascii_lowercase();
            match token.as_slice() {
                b"" => {}
                b"keep-alive" => kept.push("keep-alive"),
                b"close" => kept.push("close"),
                b"upgrade" => kept.push("upgrade"),
                // Host is end to end (RFC 9110 §7.2): naming it does not remove it.
                b"host" => {}
                _ => doomed.extend(HeaderName::from_bytes(&token).ok()),
            }
        }
    }
    if connection {
        kept.dedup();
        while req.remove_header(&http::header::CONNECTION).is_some() {}
        if !kept.is_empty() {
            let _ = req.insert_header(http::header::CONNECTION, kept.join(", "));
        }
    }
    for name in req.headers.keys() {
        let f = folded(name.as_str());
        let f = f.as_ref();
        let drop = is_identity(f)
            || is_path_override(f)
            || (is_forwarding(f) && (!trusted_peer || f != name.as_str()))
            || (protected && is_protected_only(f))
            || f == "proxy-connection";
        if drop {
            doomed.push(name.clone());
        }
    }
    for name in doomed {
        while req.remove_header(&name).is_some() {}
    }
}

/// Most header fields a request may carry (Apache's `LimitRequestFields` default, so a request
/// the gateway forwards is one the CRM can read).
pub const MAX_FIELDS: usize = 100;
/// Most bytes of header names and values together (nginx's default for a whole head).
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// True when the header section exceeds [`MAX_FIELDS`] or [`MAX_HEAD_BYTES`]: answered with 431
/// (RFC 6585 §5) before anything else looks at the request. Heads beyond pingora's own limits
/// (256 fields, 1 MiB) never get this far: pingora answers 400 itself.
pub fn too_large(req: &RequestHeader) -> bool {
    let bytes: usize = req
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    req.headers.len() > MAX_FIELDS || bytes > MAX_HEAD_BYTES
}

/// True when a raw request head ends a line with a bare LF. RFC 9112 §2.2 lets a recipient
/// accept it; the gateway refuses, so that no proxy in front of it that reads the LF as part of
/// a value can disagree with it about which header fields were sent.
pub fn has_bare_lf(raw: &[u8]) -> bool {
    raw.iter()
        .enumerate()
        .any(|(i, b)| *b == b'\n' && (i == 0 || raw[i - 1] != b'\r'))
}

/// Sets `X-Forwarded-For`: the trusted chain extended by `peer`, or just `peer`.
pub fn set_forwarded_for(req: &mut RequestHeader, peer: Option<&str>, trusted_peer: bool) {
    let mut chain: Vec<String> = Vec::new();
    if trusted_peer {
        for v in req.headers.get_all(names::FORWARDED_FOR) {
            if let Ok(s) = v.to_str() {
                chain.extend(
                    s.split(',')
                        .map(|p| p.trim().to_string())
                        .filter(|p| !p.is_empty()),
                );
            }
        }
    }
    chain.extend(peer.map(str::to_string));
    while req.remove_header(names::FORWARDED_FOR).is_some() {}
    if !chain.is_empty() {
        let _ = req.insert_header(names::FORWARDED_FOR, chain.join(", "));
    }
}

/// The address a request really comes from: the peer, or behind trusted proxies the last
/// address in their `X-Forwarded-For` chain that is not itself a trusted proxy. Used for
/// throttles and for the CRM's lock-out counter.
pub fn client_address(
    req: &RequestHeader,
    peer: Option<std::net::IpAddr>,
    trusted: &[ipnet::IpNet],
) -> Option<std::net::IpAddr> {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut chain: Vec<std::net::IpAddr> = Vec::new();
    for v in req.headers.get_all(names::FORWARDED_FOR) {
        let Ok(s) = v.to_str() else { return Some(peer) };
        for part in s.split(',') {
            match part.trim().parse() {
                Ok(ip) => chain.push(ip),
                Err(_) => return Some(peer),
            }
        }
    }
    Some(
        chain
            .iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .or(chain.first())
            .copied()
            .unwrap_or(peer),
    )
}

/// Sets one header, replacing any value; values that are not valid header text are skipped.
pub fn set(req: &mut RequestHeader, name: &'static str, value: &str) {
    let _ = req.insert_header(name, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> RequestHeader {
        let mut r = RequestHeader::build("POST", b"/restapi/v1/vtews/query", None).unwrap();
        for (n, v) in headers {
            r.append_header(n.to_string(), *v).unwrap();
        }
        r
    }

    #[test]
    fn identity_headers_go_in_every_spelling() {
        let mut r = request(&[
            ("X-Crm-User", "admin"),
            ("x-crm-user", "admin"),
            ("X-CRM-Scope", "rest.all"),
            ("X_Crm_User", "admin"),
            ("x_crm_client_id", "x"),
            ("Client-IP", "1.2.3.4"),
            ("client_ip", "1.2.3.4"),
            ("X-Forwarded-For", "1.2.3.4"),
            ("X_Forwarded_For", "1.2.3.4"),
            ("Forwarded", "for=1.2.3.4"),
            ("Authorization", "Bearer t"),
            ("X-HTTP-Method-Override", "DELETE"),
            ("Connection", "keep-alive, X-Secret-Hop"),
            ("X-Secret-Hop", "1"),
            ("Accept", "application/json"),
        ]);
        strip(&mut r, true, false);
        let mut left: Vec<&str> = r.headers.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, vec!["accept", "connection"]);
    }

    #[test]
    fn identity_headers_go_in_any_punctuation() {
        // Found by the header_sanitizer fuzz target ("X.Crm-scope"): CGI servers such as
        // lighttpd read every punctuation byte of a name as `_`.
        let mut r = request(&[
            ("X.Crm-scope", "rest.all"),
            ("x~crm~user", "admin"),
            ("Client!IP", "1.2.3.4"),
            ("X.Forwarded.For", "6.6.6.6"),
            ("x.real.ip", "6.6.6.6"),
            ("Accept", "*/*"),
        ]);
        strip(&mut r, true, true);
        let left: Vec<&str> = r.headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, vec!["accept"]);
    }

    #[test]
    fn connection_names_no_forwarded_header() {
        // Found by the header_sanitizer fuzz target: `Connection: X-Forwarded-For` reached the
        // CRM next to the X-Forwarded-For the gateway sets, so a hop honouring it would drop it.
        let mut r = request(&[
            ("Connection", "keep-alive, X-Forwarded-For, x-crm-user"),
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
        ]);
        strip(&mut r, true, false);
        set_forwarded_for(&mut r, Some("127.0.0.1"), false);
        set(&mut r, names::USER, "aldo");
        let connection: Vec<_> = r.headers.get_all("connection").iter().collect();
        assert_eq!(connection, ["keep-alive, upgrade"]);
        assert_eq!(r.headers.get("x-forwarded-for").unwrap(), "127.0.0.1");
        let mut r = request(&[("Connection", "X-Forwarded-For")]);
        strip(&mut r, false, false);
        assert!(r.headers.get("connection").is_none());
    }

    #[test]
    fn trusted_proxies_keep_their_chain() {
        let mut r = request(&[
            ("X-Forwarded-For", "10.0.0.1, 10.0.0.2"),
            ("X_Forwarded_For", "6.6.6.6"),
        ]);
        strip(&mut r, false, true);
        set_forwarded_for(&mut r, Some("127.0.0.1"), true);
        assert_eq!(
            r.headers.get("x-forwarded-for").unwrap(),
            "10.0.0.1, 10.0.0.2, 127.0.0.1"
        );
        let mut r = request(&[("X-Forwarded-For", "10.0.0.1")]);
        strip(&mut r, false, false);
        set_forwarded_for(&mut r, Some("127.0.0.1"), false);
        assert_eq!(r.headers.get("x-forwarded-for").unwrap(), "127.0.0.1");
    }

    #[test]
    fn client_address_behind_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = Some("10.0.0.9".parse().unwrap());
        let r = request(&[("X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.0.0.2")]);
        assert_eq!(
            client_address(&r, peer, &trusted),
            Some("203.0.113.7".parse().unwrap())
        );
        let stranger = Some("198.51.100.1".parse().unwrap());
        assert_eq!(client_address(&r, stranger, &trusted), stranger);
        let garbage = request(&[("X-Forwarded-For", "nonsense")]);
        assert_eq!(client_address(&garbage, peer, &trusted), peer);
        let none = request(&[]);
        assert_eq!(client_address(&none, peer, &trusted), peer);
    }

    #[test]
    fn head_limits() {
        assert!(has_bare_lf(b"GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n"));
        assert!(has_bare_lf(b"\n"));
        assert!(!has_bare_lf(b"GET / HTTP/1.1\r\nA: b\r\n\r\n"));
        let many: Vec<(String, &str)> = (0..=MAX_FIELDS).map(|i| (format!("x-{i}"), "v")).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        assert!(too_large(&request(&many)));
        assert!(!too_large(&request(&many[..MAX_FIELDS])));
        let big = "a".repeat(MAX_HEAD_BYTES);
        assert!(too_large(&request(&[("x-big", &big)])));
        assert!(!too_large(&request(&[(
            "x-big",
            &big[..MAX_HEAD_BYTES / 2]
        )])));
    }

    #[test]
    fn path_overrides_go_everywhere_and_cookies_on_protected_paths() {
        let names = [
            "X-Original-URL",
            "X-Rewrite-URL",
            "X-Original-URI",
            "X_Original_Url",
            "X-Forwarded-Uri",
            "X-Forwarded-Path",
            "X-Forwarded-Prefix",
            "X-Override-URL",
            "X-Envoy-Original-Path",
            "X-HTTP-DestinationURL",
            "X-Forwarded-Host",
            "X-Forwarded-Proto",
        ];
        for protected in [true, false] {
            let mut headers: Vec<(&str, &str)> = names.iter().map(|n| (*n, "/restapi/x")).collect();
            headers.push(("Cookie", "PHPSESSID=x"));
            headers.push(("X-Callback", "/keep"));
            let mut r = request(&headers);
            strip(&mut r, protected, false);
            let mut left: Vec<&str> = r.headers.keys().map(|k| k.as_str()).collect();
            left.sort_unstable();
            let expected = if protected {
                vec!["x-callback"]
            } else {
                vec!["cookie", "x-callback"]
            };
            assert_eq!(left, expected);
        }
        let mut r = request(&[("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "a")]);
        strip(&mut r, true, true);
        assert_eq!(r.headers.len(), 2);
    }

    #[test]
    fn unprotected_paths_keep_authorization() {
        let mut r = request(&[("Authorization", "Basic abc"), ("X-Crm-User", "x")]);
        strip(&mut r, false, false);
        assert!(r.headers.get("authorization").is_some());
        assert!(r.headers.get("x-crm-user").is_none());
    }
}
