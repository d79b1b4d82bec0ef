//! What a request must look like before the gateway reads it any further (RFC 9112 §3): an
//! origin-form target of visible ASCII with no backslash in any reading, exactly one valid `Host`
//! on HTTP/1.1, no method that echoes or tunnels, and, where tokens are checked, only the methods
//! the REST API uses and no protocol upgrade.

use http::Method;
use pingora::http::RequestHeader;

/// Methods the CRM's REST API is called with (it routes POST only; OPTIONS is the preflight the
/// gateway answers itself).
pub const PROTECTED_ALLOW: &str = "POST, OPTIONS";
/// What other paths may be called with.
const OTHER_ALLOW: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Why a request head is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Problem {
    /// HTTP status (400 or 405).
    pub status: u16,
    /// For the client.
    pub description: &'static str,
    /// For the access log.
    pub reason: &'static str,
    /// The `Allow` header of a 405.
    pub allow: Option<&'static str>,
}

const fn bad(description: &'static str, reason: &'static str) -> Problem {
    Problem {
        status: 400,
        description,
        reason,
        allow: None,
    }
}

/// The form of an acceptable request target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `/path?query`, forwarded as it is.
    Origin,
    /// `http://host/path` from a trusted proxy: forwarded in origin-form.
    Absolute,
}

/// Checks everything about a request head that does not depend on the path's owner: the target
/// form, `Host`, and the methods no path is served with.
pub fn check(req: &RequestHeader, trusted_peer: bool) -> Result<Target, Problem> {
    let target = check_target(req.raw_path(), trusted_peer)?;
    check_host(req)?;
    if matches!(req.method.as_str(), "TRACE" | "TRACK" | "CONNECT") {
        return Err(not_allowed(OTHER_ALLOW));
    }
    if is_h2c_upgrade(req) {
        return Err(bad(
            "upgrades to HTTP/2 cleartext are not accepted",
            "h2c upgrade",
        ));
    }
    Ok(target)
}

/// Checks what only protected paths require: the REST API's methods and no upgrade.
pub fn check_protected(req: &RequestHeader) -> Result<(), Problem> {
    if req.method != Method::POST {
        return Err(not_allowed(PROTECTED_ALLOW));
    }
    if asks_upgrade(req) {
        return Err(bad(
            "protocol upgrades are not available on the REST API",
            "upgrade on protected path",
        ));
    }
    Ok(())
}

fn not_allowed(allow: &'static str) -> Problem {
    Problem {
        status: 405,
        description: "this method is not allowed here",
        reason: "method not allowed",
        allow: Some(allow),
    }
}

/// RFC 9112 §3.2: origin-form only (absolute-form from a trusted proxy), visible ASCII, and no
/// backslash in the path as sent or after any round of percent-decoding (the query may carry
/// one: it is data).
pub fn check_target(raw: &[u8], trusted_peer: bool) -> Result<Target, Problem> {
    if !raw.iter().all(|b| b.is_ascii_graphic()) || raw.is_empty() {
        return Err(bad(
            "the request target must be visible ASCII",
            "target bytes",
        ));
    }
    let (form, path) = if raw.starts_with(b"/") {
        (Target::Origin, raw)
    } else if let Some(path) = absolute_path(raw) {
        if !trusted_peer {
            return Err(bad(
                "the request target must be a path (origin-form)",
                "absolute-form target",
            ));
        }
        (Target::Absolute, path)
    } else {
        return Err(bad(
            "the request target must be a path (origin-form)",
            "target form",
        ));
    };
    let path = path.split(|b| *b == b'?').next().unwrap_or_default();
    if has_backslash(path) {
        return Err(bad(
            "the request target must not contain backslashes",
            "backslash in target",
        ));
    }
    Ok(form)
}

/// The path of an `http://` or `https://` absolute-form target (`/` when it has none).
fn absolute_path(raw: &[u8]) -> Option<&[u8]> {
    let lower = |n: usize| raw.get(..n).map(|p| p.to_ascii_lowercase());
    let rest = if lower(7).as_deref() == Some(b"http://") {
        &raw[7..]
    } else if lower(8).as_deref() == Some(b"https://") {
        &raw[8..]
    } else {
        return None;
    };
    let end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[end..])
}

/// A backslash, sent as it is or percent-encoded (up to three rounds deep).
fn has_backslash(path: &[u8]) -> bool {
    if !path.contains(&b'%') {
        return path.contains(&b'\\');
    }
    let mut current = String::from_utf8_lossy(path).into_owned();
    for _ in 0..=3 {
        if current.contains('\\') {
            return true;
        }
        let decoded = super::route::decode_once(&current);
        if decoded == current {
            return false;
        }
        current = decoded;
    }
    current.contains('\\')
}

/// RFC 9112 §3.2: HTTP/1.1 needs exactly one `Host`; no version may send two, or one that is
/// not a valid `host[:port]`.
fn check_host(req: &RequestHeader) -> Result<(), Problem> {
    let mut hosts = req.headers.get_all(http::header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(bad("more than one Host header", "repeated host"));
    }
    let Some(host) = first else {
        if req.version == http::Version::HTTP_11 {
            return Err(bad("HTTP/1.1 requests need a Host header", "missing host"));
        }
        return Ok(());
    };
    if valid_host(host.as_bytes()) {
        Ok(())
    } else {
        Err(bad("the Host header is not a valid host", "invalid host"))
    }
}

/// `uri-host [ ":" port ]` (RFC 9110 §7.2): a bracketed IP literal or a non-empty reg-name,
/// and an optional port of at most five digits.
fn valid_host(host: &[u8]) -> bool {
    let (name, port) = match host.iter().rposition(|b| *b == b':') {
        Some(i) if !host.ends_with(b"]") => (&host[..i], Some(&host[i + 1..])),
        _ => (host, None),
    };
    let port_ok = port.is_none_or(|p| p.len() <= 5 && p.iter().all(u8::is_ascii_digit));
    let name_ok = if let Some(inner) = name.strip_prefix(b"[") {
        inner.strip_suffix(b"]").is_some_and(|ip| {
            !ip.is_empty()
                && ip
                    .iter()
                    .all(|b| b.is_ascii_hexdigit() || b":.".contains(b))
        })
    } else {
        !name.is_empty()
            && name
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(b))
    };
    port_ok && name_ok
}

/// Any sign of a protocol switch: an `Upgrade` header, `Connection: upgrade`, `HTTP2-Settings`.
fn asks_upgrade(req: &RequestHeader) -> bool {
    req.headers.contains_key(http::header::UPGRADE)
        || req.headers.contains_key("http2-settings")
        || req
            .headers
            .get_all(http::header::CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
}

/// An upgrade to HTTP/2 over cleartext (RFC 7540 §3.2), which would let a client speak to the
/// CRM directly on the same connection afterwards.
fn is_h2c_upgrade(req: &RequestHeader) -> bool {
    req.headers.contains_key("http2-settings")
        || req
            .headers
            .get_all(http::header::UPGRADE)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .any(|t| {
                let t = t.trim_ascii();
                t.len() >= 2 && t[..2].eq_ignore_ascii_case(b"h2")
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &[u8], headers: &[(&str, &str)]) -> RequestHeader {
        let mut r = RequestHeader::build(method, target, None).unwrap();
        for (n, v) in headers {
            r.append_header(n.to_string(), *v).unwrap();
        }
        r
    }

    #[test]
    fn only_origin_form_targets() {
        assert_eq!(check_target(b"/restapi/v1", false), Ok(Target::Origin));
        assert_eq!(check_target(b"/?a=b", false), Ok(Target::Origin));
        for t in [
            &b"restapi/v1/vtews/create"[..],
            b"*",
            b"?x=1",
            b"http://crm/restapi/v1/vtews/create",
            b"HTTPS://crm/restapi",
            b"//crm/x\\y",
            b"/restapi\\v1",
            b"/restapi%5cv1",
            b"/restapi%5Cv1",
            b"/restapi%255cv1",
            b"/a\xffb",
            b"crm:80",
        ] {
            assert!(
                check_target(t, false).is_err(),
                "{}",
                String::from_utf8_lossy(t)
            );
        }
        assert_eq!(
            check_target(b"http://crm/restapi/v1", true),
            Ok(Target::Absolute)
        );
        assert!(check_target(b"http://crm/a%5cb", true).is_err());
        assert!(check_target(b"http:///x", true).is_err());
        assert_eq!(
            check_target(b"/auth?state=a%5Cb\\c", false),
            Ok(Target::Origin)
        );
    }

    #[test]
    fn host_rules() {
        let ok = req("POST", b"/", &[("Host", "crm:8080")]);
        assert!(check(&ok, false).is_ok());
        let none = req("POST", b"/", &[]);
        assert_eq!(check(&none, false).unwrap_err().reason, "missing host");
        let two = req("POST", b"/", &[("Host", "a"), ("Host", "b")]);
        assert_eq!(check(&two, false).unwrap_err().reason, "repeated host");
        for good in [
            "crm",
            "crm:8080",
            "127.0.0.1:80",
            "[::1]:8080",
            "[::1]",
            "crm:",
        ] {
            let r = req("POST", b"/", &[("Host", good)]);
            assert!(check(&r, false).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "a b",
            "user@crm",
            "crm:x",
            "[::1",
            "a/b",
            "crm:123456",
            ":80",
        ] {
            let r = req("POST", b"/", &[("Host", bad)]);
            assert!(check(&r, false).is_err(), "{bad:?}");
        }
        let mut old = req("GET", b"/", &[]);
        old.set_version(http::Version::HTTP_10);
        assert!(check(&old, false).is_ok());
    }

    #[test]
    fn methods_and_upgrades() {
        let h = [("Host", "crm")];
        for m in ["TRACE", "TRACK"] {
            let p = check(&req(m, b"/index.php", &h), false).unwrap_err();
            assert_eq!(p.status, 405);
        }
        let post = req("POST", b"/restapi/v1/vtews/query", &h);
        assert!(check_protected(&post).is_ok());
        for m in ["GET", "PUT", "DELETE", "PATCH", "HEAD", "PROPFIND"] {
            let p = check_protected(&req(m, b"/restapi/v1/vtews/query", &h)).unwrap_err();
            assert_eq!((p.status, p.allow), (405, Some(PROTECTED_ALLOW)), "{m}");
        }
        for extra in [
            [("Upgrade", "websocket"), ("Connection", "Upgrade")],
            [("Connection", "keep-alive, UPGRADE"), ("X", "y")],
            [("HTTP2-Settings", "AAMAAABkAAQAAP__"), ("X", "y")],
        ] {
            let r = req("POST", b"/restapi/v1/vtews/query", &extra);
            assert_eq!(check_protected(&r).unwrap_err().status, 400);
        }
        let h2c = req("GET", b"/", &[("Host", "crm"), ("Upgrade", "h2c")]);
        assert_eq!(check(&h2c, false).unwrap_err().reason, "h2c upgrade");
        let ws = req(
            "GET",
            b"/chat",
            &[("Host", "crm"), ("Upgrade", "websocket")],
        );
        assert!(check(&ws, false).is_ok());
    }
}
