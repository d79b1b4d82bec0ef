//! Which redirect URIs of an authorization request an app accepts: a registered one, compared
//! as exact strings (RFC 6749 §3.1.2.3, OAuth 2.0 Security BCP §4.1.3), and for native apps
//! also a registered loopback IP literal URI (`http://127.0.0.1` or `http://[::1]`) with
//! another port or none (RFC 8252 §7.3): the scheme, host, path and query still match byte for
//! byte. `localhost` is a name, not a loopback IP literal (RFC 8252 §8.3), and matches exactly;
//! web apps match exactly, loopback included.

use super::{App, ClientType};

/// The loopback IP literals a native app's redirect URI may vary the port of.
const LOOPBACK: [&str; 2] = ["http://127.0.0.1", "http://[::1]"];

impl App {
    /// Whether `requested` is an acceptable redirect URI for this app.
    pub fn accepts_redirect(&self, requested: &str) -> bool {
        let native = self.client_type == ClientType::NativeApp;
        self.redirect_uris
            .iter()
            .any(|registered| matches(registered, requested, native))
    }
}

/// Whether `requested` matches `registered`: the same string, or (`native` only) the same
/// loopback IP literal URI but for a valid port.
pub fn matches(registered: &str, requested: &str, native: bool) -> bool {
    if registered == requested {
        return true;
    }
    if !native {
        return false;
    }
    match (loopback_parts(registered), loopback_parts(requested)) {
        (Some((host, _, rest)), Some((req_host, port, req_rest))) => {
            host == req_host && rest == req_rest && port.is_none_or(valid_port)
        }
        _ => false,
    }
}

/// A loopback IP literal URI as (scheme and host, port if written, everything after the port).
fn loopback_parts(uri: &str) -> Option<(&'static str, Option<&str>, &str)> {
    LOOPBACK.iter().find_map(|host| {
        let after = uri.strip_prefix(host)?;
        let (port, rest) = match after.strip_prefix(':') {
            Some(p) => {
                let end = p.find(['/', '?', '#']).unwrap_or(p.len());
                (Some(&p[..end]), &p[end..])
            }
            None => (None, after),
        };
        let ends_authority = rest.is_empty() || rest.starts_with(['/', '?', '#']);
        ends_authority.then_some((*host, port, rest))
    })
}

/// A port as a URL parser would write it back: 1 to 65535 in decimal, no leading zero.
fn valid_port(port: &str) -> bool {
    !port.starts_with('0')
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_loopback_ip_literals_match_any_port_and_nothing_else() {
        let v4 = "http://127.0.0.1/cb";
        let v6 = "http://[::1]:7777/cb?app=1";
        for ok in [
            "http://127.0.0.1/cb",
            "http://127.0.0.1:1/cb",
            "http://127.0.0.1:65535/cb",
        ] {
            assert!(matches(v4, ok, true), "{ok}");
        }
        for ok in ["http://[::1]/cb?app=1", "http://[::1]:50000/cb?app=1"] {
            assert!(matches(v6, ok, true), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:0/cb",
            "http://127.0.0.1:080/cb",
            "http://127.0.0.1:65536/cb",
            "http://127.0.0.1:/cb",
            "http://127.0.0.1:+80/cb",
            "http://127.0.0.1:80@evil.example/cb",
            "http://127.0.0.1.evil.example/cb",
            "http://127.0.0.1:80/cb/",
            "http://127.0.0.1:80/cb#x",
            "http://127.0.0.1:80/cb?x",
            "https://127.0.0.1:80/cb",
            "http://[::1]:80/cb",
        ] {
            assert!(!matches(v4, bad, true), "{bad}");
        }
        assert!(!matches(v6, "http://[::1]:80/cb", true));
        assert!(!matches(v6, "http://[0:0:0:0:0:0:0:1]:80/cb?app=1", true));
    }

    #[test]
    fn localhost_and_web_apps_match_exactly() {
        let localhost = "http://localhost:7777/cb";
        assert!(matches(localhost, localhost, true));
        assert!(!matches(localhost, "http://localhost:8888/cb", true));
        let web = "http://127.0.0.1:8000/cb";
        assert!(matches(web, web, false));
        assert!(!matches(web, "http://127.0.0.1:9000/cb", false));
        assert!(!matches(web, "http://127.0.0.1/cb", false));
        assert!(!matches(
            "https://app.example/cb",
            "https://app.example:443/cb",
            true
        ));
    }
}
