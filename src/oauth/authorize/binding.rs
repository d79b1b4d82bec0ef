//! What ties the authorization endpoint's forms to the browser that opened the authorize link
//! (login CSRF and forced consent, RFC 6749 §10.12, OAuth 2.0 Security BCP §4.4.1.8): the
//! cookies of a request, and the `Origin` / `Sec-Fetch-Site` rule for the form posts.
//!
//! A post is refused when `Sec-Fetch-Site` is present and is not `same-origin` or `none`
//! (`cross-site`, and also `same-site`: the forms are only ever posted from the gateway's own
//! pages, and a sibling host or another port of the same host is not the gateway), or when
//! `Origin` is present and is not exactly the origin of `server.public_url` (`null` included).
//! Clients that send neither header (not browsers) still need the pre-login cookie.

use super::AuthRequest;
use crate::login::sessions::{BROWSER_COOKIE, COOKIE, is_random_id};

/// The values of every cookie named `name` in a `Cookie` header value.
pub fn cookie_values<'a>(cookies: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> {
    cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .filter(move |(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// The pre-login cookie values the request carries.
pub fn browser_cookies<'a>(req: &AuthRequest<'a>) -> impl Iterator<Item = &'a str> {
    cookie_values(req.cookies, BROWSER_COOKIE)
}

/// The session cookie values the request carries.
pub fn session_cookies<'a>(req: &AuthRequest<'a>) -> impl Iterator<Item = &'a str> {
    cookie_values(req.cookies, COOKIE)
}

/// The browser's pre-login cookie when it already has a well-formed one (kept, so that
/// requests started in several tabs all stay usable), else `None`.
pub fn existing_browser(req: &AuthRequest<'_>) -> Option<String> {
    browser_cookies(req)
        .find(|v| is_random_id(v))
        .map(str::to_string)
}

/// The origin (`scheme://host[:port]`) of the gateway's public URL.
pub fn own_origin(public_url: &str) -> String {
    url::Url::parse(public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// Whether a form post comes from the gateway's own pages as far as the browser tells:
/// `Sec-Fetch-Site` absent, `same-origin` or `none`, and `Origin` absent or `own_origin`.
pub fn same_origin_post(req: &AuthRequest<'_>, own_origin: &str) -> bool {
    let site_ok = req
        .fetch_site
        .iter()
        .all(|v| matches!(*v, b"same-origin" | b"none"));
    let origin_ok = req
        .origin
        .iter()
        .all(|v| !own_origin.is_empty() && *v == own_origin.as_bytes());
    site_ok && origin_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post<'a>(origin: &'a [&'a [u8]], fetch_site: &'a [&'a [u8]]) -> AuthRequest<'a> {
        AuthRequest {
            method: "POST",
            query: None,
            content_type: None,
            body: b"",
            cookies: "a=1; crmgate_browser=x; crmgate_session=s1;crmgate_session=s2",
            accept_language: None,
            peer: None,
            origin,
            fetch_site,
        }
    }

    fn allowed(origin: &[&str], fetch_site: &[&str], own: &str) -> bool {
        let origin: Vec<&[u8]> = origin.iter().map(|s| s.as_bytes()).collect();
        let site: Vec<&[u8]> = fetch_site.iter().map(|s| s.as_bytes()).collect();
        same_origin_post(&post(&origin, &site), own)
    }

    #[test]
    fn origin_and_fetch_metadata_decide_cross_site_posts() {
        let own = own_origin("https://gw.example:8443/");
        assert_eq!(own, "https://gw.example:8443");
        assert_eq!(own_origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert!(allowed(&[], &[], &own));
        assert!(allowed(&[&own], &["same-origin"], &own));
        assert!(allowed(&[], &["none"], &own));
        let refused: [(&[&str], &[&str]); 8] = [
            (&[], &["cross-site"]),
            (&[], &["same-site"]),
            (&[], &["Same-Origin"]),
            (&["null"], &[]),
            (&["https://gw.example"], &[]),
            (&["https://gw.example:8443/"], &[]),
            (&[&own, "https://evil.example"], &[]),
            (&[&own], &["same-origin", "cross-site"]),
        ];
        for (origin, site) in refused {
            assert!(!allowed(origin, site, &own), "{origin:?} {site:?}");
        }
        assert!(
            !allowed(&[""], &[], ""),
            "no own origin: every Origin is refused"
        );
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let req = post(&[], &[]);
        assert_eq!(browser_cookies(&req).collect::<Vec<_>>(), ["x"]);
        assert_eq!(session_cookies(&req).collect::<Vec<_>>(), ["s1", "s2"]);
        assert_eq!(existing_browser(&req), None, "not a gateway-made value");
    }
}
