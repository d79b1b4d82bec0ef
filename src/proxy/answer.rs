//! What a client gets back from the CRM: HTTP/1.1 whatever version the CRM spoke, and on
//! protected paths none of the CRM's own CORS headers, no CRM session cookie and no header that
//! repeats a credential the gateway injected.

use http::{HeaderName, StatusCode, Version};
use pingora::http::ResponseHeader;

use super::echo::Secrets;

/// An answer of the CRM that the gateway does not hand to a Bearer client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// 401: the CRM refused the credentials the gateway sent for the user.
    CredentialsRefused,
    /// 101: the CRM tried to switch protocols on a protected path.
    Upgrade,
}

impl Unusable {
    /// The CRM's answer on a protected path, when it must not reach the client.
    pub fn of(status: StatusCode) -> Option<Self> {
        match status {
            StatusCode::UNAUTHORIZED => Some(Unusable::CredentialsRefused),
            StatusCode::SWITCHING_PROTOCOLS => Some(Unusable::Upgrade),
            _ => None,
        }
    }

    /// What the client is told (502).
    pub fn description(self) -> &'static str {
        match self {
            Unusable::CredentialsRefused => {
                "the CRM refused the gateway's credentials for this user"
            }
            Unusable::Upgrade => "the CRM answered with a protocol switch",
        }
    }

    /// For the log.
    pub fn reason(self) -> &'static str {
        match self {
            Unusable::CredentialsRefused => "crm refused the user's credentials",
            Unusable::Upgrade => "crm switched protocols",
        }
    }
}

/// Answers an HTTP/1.1 client in HTTP/1.1 (a CRM behind Apache answers `HTTP/1.0`): a body
/// without a length is then sent chunked, so the client's connection stays open.
pub fn as_http11(resp: &mut ResponseHeader, client: Version) {
    if client != Version::HTTP_11 || resp.version == Version::HTTP_11 {
        return;
    }
    resp.set_version(Version::HTTP_11);
    let framed = resp.headers.contains_key(http::header::CONTENT_LENGTH)
        || resp.headers.contains_key(http::header::TRANSFER_ENCODING);
    let bodiless = resp.status.is_informational()
        || matches!(
            resp.status,
            StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
        );
    if !framed && !bodiless {
        let _ = resp.insert_header(http::header::TRANSFER_ENCODING, "chunked");
    }
}

/// Removes from a protected answer the CRM's CORS headers (the gateway's policy is the only
/// one), its cookies, and any header that repeats an injected credential.
pub fn clean_protected(resp: &mut ResponseHeader, secrets: &Secrets) {
    let doomed: Vec<HeaderName> = resp
        .headers
        .iter()
        .filter(|(name, value)| {
            let n = name.as_str();
            n.starts_with("access-control-")
                || n == "set-cookie"
                || n == "set-cookie2"
                || secrets.found_in(value.as_bytes())
        })
        .map(|(name, _)| name.clone())
        .collect();
    for name in doomed {
        while resp.remove_header(&name).is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_answers_lose_crm_cors_cookies_and_echoes() {
        let mut r = ResponseHeader::build(200, None).unwrap();
        for (n, v) in [
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Set-Cookie", "PHPSESSID=abc; path=/"),
            ("X-Echo", "Basic YWxkbzpCOWdWZDZ5ZUxYeVRUNDFm"),
            ("Content-Type", "application/json"),
        ] {
            r.append_header(n, v).unwrap();
        }
        clean_protected(&mut r, &Secrets::basic("aldo", "B9gVd6yeLXyTT41f"));
        let left: Vec<&str> = r.headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, vec!["content-type"]);
    }

    #[test]
    fn http10_answers_become_http11() {
        let mut r = ResponseHeader::build(200, None).unwrap();
        r.set_version(Version::HTTP_10);
        as_http11(&mut r, Version::HTTP_11);
        assert_eq!(r.version, Version::HTTP_11);
        assert_eq!(r.headers.get("transfer-encoding").unwrap(), "chunked");
        let mut r = ResponseHeader::build(200, None).unwrap();
        r.set_version(Version::HTTP_10);
        r.append_header("Content-Length", "2").unwrap();
        as_http11(&mut r, Version::HTTP_11);
        assert!(r.headers.get("transfer-encoding").is_none());
        let mut r = ResponseHeader::build(200, None).unwrap();
        r.set_version(Version::HTTP_10);
        as_http11(&mut r, Version::HTTP_10);
        assert_eq!(r.version, Version::HTTP_10);
    }
}
