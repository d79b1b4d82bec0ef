//! The redirect URI matcher of the authorization endpoint
//! (`crmgate::oauth::authorize::params::client_and_redirect`): a request's `redirect_uri` is
//! accepted only when it is byte-equal to one registered for the client, or, for a native app,
//! when it is a registered loopback IP literal URI with another port (RFC 8252 §7.3: same
//! scheme, host, path and query, no userinfo or fragment); without one, only the client's single
//! registered URI is used. Registered URIs are mutated (case, escapes, slashes,
//! ports, fragments, inserted bytes) to look for near misses that are let through. Also: the
//! registration check (`registry::check_redirect_uri`) and the redirect and origin builders never
//! panic, and the registration check only accepts absolute URIs without a fragment whose plain
//! `http` points at a loopback host.

#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use arbitrary::Arbitrary;
use crmgate::oauth::authorize::i18n::Lang;
use crmgate::oauth::authorize::params::{Invalid, client_and_redirect, origin, redirect_with};
use crmgate::oauth::form;
use crmgate::registry::{App, ClientType, Registry, check_redirect_uri};
use libfuzzer_sys::fuzz_target;

const APPS: &str = r#"
[[apps]]
client_id = "web"
name = "Web"
client_type = "web_app"
client_secret = "s3cret"
scope = "rest.all"
redirect_uris = [
  "https://app.example.com/cb",
  "https://app.example.com/cb?tenant=1",
  "https://app.example.com:8443/oauth/callback",
  "https://xn--bcher-kva.example/cb",
]

[[apps]]
client_id = "native"
name = "Native"
client_type = "native_app"
scope = "rest.all.read"
redirect_uris = ["http://127.0.0.1:7777/callback"]

[[apps]]
client_id = "multi"
name = "Native with several"
client_type = "native_app"
scope = "rest.all"
redirect_uris = ["com.example.crm:/oauth/callback", "http://[::1]/cb", "http://localhost:1234/"]
"#;

const CLIENTS: [&str; 4] = ["web", "native", "multi", "unknown"];

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let users = crmgate::users::Users::default();
    let hasher = crmgate::keys::KeyRing::from_master(&[7; 32]).secrets;
    crmgate::registry::parse("apps.toml", APPS, Path::new("."), &hasher, &users)
        .unwrap_or_else(|p| panic!("apps fixture: {p}"))
});

fn all_registered() -> Vec<&'static str> {
    REGISTRY
        .apps
        .values()
        .flat_map(|a| a.redirect_uris.iter().map(String::as_str))
        .collect()
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Insert(u16, u8),
    Remove(u16),
    Replace(u16, u8),
    FlipCase(u16),
    /// Percent-encode the byte at a position.
    Escape(u16),
    Append(String),
    TrailingSlash,
    Fragment,
    DefaultPort,
}

#[derive(Arbitrary, Debug)]
enum RedirectParam {
    Absent,
    /// A registered URI (of any client), edited.
    Mutated {
        base: u8,
        edits: Vec<Edit>,
    },
    Arbitrary(String),
}

#[derive(Arbitrary, Debug)]
enum Input {
    /// A structured request.
    Request {
        client: u8,
        redirect: RedirectParam,
        extra: String,
    },
    /// A raw authorization request query.
    Raw(Vec<u8>),
}

fn mutate(base: &str, edits: &[Edit]) -> String {
    let mut b = base.as_bytes().to_vec();
    for e in edits {
        let at = |p: &u16, len: usize| usize::from(*p) % (len + 1);
        match e {
            Edit::Insert(p, c) => {
                let i = at(p, b.len());
                b.insert(i, *c);
            }
            Edit::Remove(p) if !b.is_empty() => {
                let i = at(p, b.len() - 1);
                b.remove(i);
            }
            Edit::Replace(p, c) if !b.is_empty() => {
                let i = at(p, b.len() - 1);
                b[i] = *c;
            }
            Edit::FlipCase(p) if !b.is_empty() => {
                let i = at(p, b.len() - 1);
                b[i] = if b[i].is_ascii_lowercase() {
                    b[i].to_ascii_uppercase()
                } else {
                    b[i].to_ascii_lowercase()
                };
            }
            Edit::Escape(p) if !b.is_empty() => {
                let i = at(p, b.len() - 1);
                let esc = format!("%{:02X}", b[i]);
                b.splice(i..=i, esc.bytes());
            }
            Edit::Append(s) => b.extend_from_slice(s.as_bytes()),
            Edit::TrailingSlash => b.push(b'/'),
            Edit::Fragment => b.push(b'#'),
            Edit::DefaultPort => {
                let s = String::from_utf8_lossy(&b).replacen(".com/", ".com:443/", 1);
                b = s.into_bytes();
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// RFC 8252 §7.3: `sent` is, for a native app, one of its registered loopback IP literal URIs
/// (`http://127.0.0.1`, `http://[::1]`) but for the port.
fn loopback_port_variant(app: &App, sent: &str) -> bool {
    let Ok(s) = url::Url::parse(sent) else {
        return false;
    };
    let literal = sent.starts_with("http://127.0.0.1") || sent.starts_with("http://[::1]");
    let plain = s.username().is_empty() && s.password().is_none() && s.fragment().is_none();
    let same_but_port = |r: &String| {
        url::Url::parse(r).is_ok_and(|r| {
            (r.as_str().starts_with("http://127.0.0.1") || r.as_str().starts_with("http://[::1]"))
                && r.host() == s.host()
                && r.path() == s.path()
                && r.query() == s.query()
        })
    };
    app.client_type == ClientType::NativeApp
        && literal
        && plain
        && s.port() != Some(0)
        && app.redirect_uris.iter().any(same_but_port)
}

fn check(body: &[u8]) {
    let Ok(form) = form::parse(body) else {
        return;
    };
    let result = client_and_redirect(&REGISTRY, &form, Lang::En.text());
    let sent = form.get("redirect_uri");
    match result {
        Ok((app, uri)) => {
            assert_eq!(Some(app.client_id.as_str()), form.get("client_id"));
            match sent {
                Some(sent) => {
                    assert_eq!(uri.as_bytes(), sent.as_bytes());
                    assert!(
                        app.redirect_uris
                            .iter()
                            .any(|r| r.as_bytes() == sent.as_bytes())
                            || loopback_port_variant(&app, sent),
                        "{sent:?} accepted for {} but not registered",
                        app.client_id
                    );
                }
                None => assert_eq!(app.redirect_uris, vec![uri.clone()]),
            }
            let _ = redirect_with(&uri, "https://gw.example", &[("code", "c"), ("state", "s")]);
            let _ = origin(&uri);
        }
        Err(Invalid::Page { .. }) => {}
        Err(Invalid::Redirect { .. }) => panic!("client_and_redirect never redirects"),
    }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Request {
            client,
            redirect,
            extra,
        } => {
            let client = CLIENTS[usize::from(client) % CLIENTS.len()];
            let mut body = format!("response_type=code&client_id={client}");
            let uri = match redirect {
                RedirectParam::Absent => None,
                RedirectParam::Mutated { base, edits } => {
                    let all = all_registered();
                    Some(mutate(all[usize::from(base) % all.len()], &edits))
                }
                RedirectParam::Arbitrary(s) => Some(s),
            };
            if let Some(uri) = &uri {
                body.push_str("&redirect_uri=");
                body.push_str(&urlencode(uri));
                // What the registration check thinks of it.
                let _ = redirect_with(uri, "https://gw.example", &[("state", &extra)]);
                let _ = origin(uri);
                if check_redirect_uri(uri).is_ok() {
                    let url = url::Url::parse(uri).expect("accepted URIs parse");
                    assert!(url.fragment().is_none(), "{uri:?}");
                    assert!(
                        !matches!(url.scheme(), "javascript" | "data" | "file" | "vbscript"),
                        "{uri:?}"
                    );
                    if url.scheme() == "http" {
                        let host = url.host_str().unwrap_or_default();
                        assert!(
                            matches!(host, "127.0.0.1" | "[::1]" | "localhost"),
                            "{uri:?}"
                        );
                    }
                }
            }
            if !extra.is_empty() {
                body.push_str("&state=");
                body.push_str(&urlencode(&extra));
            }
            check(body.as_bytes());
        }
        Input::Raw(bytes) => check(&bytes),
    }
});
