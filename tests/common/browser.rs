//! Driving the authorization endpoint the way a browser does: GET the authorize link, post the
//! login form and the consent form with the hidden fields and the cookies the gateway set (the
//! pre-login cookie and the session), and read the redirect. Also the apps and helpers the
//! authorization code tests share.

use std::cell::RefCell;
use std::collections::BTreeMap;

use reqwest::blocking::Client;
use serde_json::Value;

use super::Harness;

pub const WEB: &str = "vte_a1a1a1a1a1a1a1a1a1a1";
pub const WEB_SECRET: &str = "web-app-secret";
pub const WEB_CB: &str = "https://portal.example/cb";
pub const NATIVE: &str = "vte_b2b2b2b2b2b2b2b2b2b2";
pub const NATIVE_CB: &str = "http://127.0.0.1:7777/callback";

/// A web app (secret, read-only, offline access) and a native app (PKCE, read-write).
pub fn web_apps() -> String {
    format!(
        "{}{}{}",
        super::settings(true, false),
        web_app(WEB, WEB_SECRET, "rest.all.read", WEB_CB, true),
        native_app(NATIVE, "rest.all", NATIVE_CB),
    )
}

/// A `web_app` entry.
pub fn web_app(id: &str, secret: &str, scope: &str, redirect: &str, offline: bool) -> String {
    format!(
        "[[apps]]\nclient_id = \"{id}\"\nname = \"Portal {id}\"\ndescription = \"Customer portal\"\n\
         client_type = \"web_app\"\nclient_secret = \"{secret}\"\nscope = \"{scope}\"\n\
         redirect_uris = [\"{redirect}\"]\noffline_access = {offline}\n\n"
    )
}

/// A `native_app` entry.
pub fn native_app(id: &str, scope: &str, redirect: &str) -> String {
    format!(
        "[[apps]]\nclient_id = \"{id}\"\nname = \"Mobile {id}\"\nclient_type = \"native_app\"\n\
         scope = \"{scope}\"\nredirect_uris = [\"{redirect}\"]\n\n"
    )
}

/// The authorize link.
pub fn authorize_url(
    h: &Harness,
    client: &str,
    redirect: &str,
    state: &str,
    challenge: Option<&str>,
) -> String {
    let mut url = url::Url::parse(&h.url("/oauth2/v2.0/auth.php")).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client)
            .append_pair("redirect_uri", redirect)
            .append_pair("state", state);
        if let Some(c) = challenge {
            q.append_pair("code_challenge", c)
                .append_pair("code_challenge_method", "S256");
        }
    }
    url.to_string()
}

/// A page as the browser got it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub body: String,
    pub location: String,
}

impl Page {
    /// Asserts that this is the sign-in form again: no redirect, no code, no consent buttons.
    pub fn assert_sign_in_again(&self) {
        assert!(self.location.is_empty(), "{}", self.location);
        assert!(self.body.contains("name=\"username\""), "{}", self.body);
        assert!(!self.body.contains("name=\"decision\""), "{}", self.body);
    }

    /// The value of a hidden input.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        html_escape::decode_html_entities(&self.body[start..end]).into_owned()
    }
}

/// A browser: no automatic redirects and a cookie jar, so every request to the gateway carries
/// the cookies it set (the pre-login cookie of the authorization endpoint and the session), as a
/// browser does. Cookies are kept by name; a `Max-Age=0` or empty value removes one.
pub struct Browser<'h> {
    h: &'h Harness,
    http: Client,
    jar: RefCell<BTreeMap<String, String>>,
}

impl<'h> Browser<'h> {
    pub fn new(h: &'h Harness) -> Self {
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            h,
            http,
            jar: RefCell::new(BTreeMap::new()),
        }
    }

    /// Keeps the cookies a response sets.
    fn remember(&self, headers: &reqwest::header::HeaderMap) {
        for c in headers.get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let gone = value.is_empty()
                || c.split(';')
                    .any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            let mut jar = self.jar.borrow_mut();
            if gone {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_string(), value.to_string());
            }
        }
    }

    fn page(&self, r: reqwest::blocking::Response) -> Page {
        self.remember(r.headers());
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Page {
            status: r.status().as_u16(),
            location,
            body: r.text().unwrap(),
        }
    }

    /// From now on posts forms to `h` (another gateway behind the same public URL), with the
    /// same cookies.
    pub fn switch(&mut self, h: &'h Harness) {
        self.h = h;
    }

    /// The HTTP client (no automatic redirects), to build requests for [`Browser::send`].
    pub fn http(&self) -> &Client {
        &self.http
    }

    /// The `Cookie` header this browser sends (None with an empty jar).
    pub fn cookie_header(&self) -> Option<String> {
        let jar = self.jar.borrow();
        let pairs: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// The value of the cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.borrow().get(name).cloned()
    }

    /// Sets (`Some`) or removes (`None`) the cookie `name`, as another site or a user could.
    pub fn set_cookie(&self, name: &str, value: Option<&str>) {
        let mut jar = self.jar.borrow_mut();
        match value {
            Some(v) => jar.insert(name.to_string(), v.to_string()),
            None => jar.remove(name),
        };
    }

    fn with_cookie(
        &self,
        rb: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match self.cookie_header() {
            Some(c) => rb.header("Cookie", c),
            None => rb,
        }
    }

    /// Sends a request with this browser's cookies and keeps the cookies of the answer.
    pub fn send(&self, rb: reqwest::blocking::RequestBuilder) -> reqwest::blocking::Response {
        let r = self.with_cookie(rb).send().unwrap();
        self.remember(r.headers());
        r
    }

    /// GETs a URL.
    pub fn get(&self, url: &str) -> Page {
        self.page(self.with_cookie(self.http.get(url)).send().unwrap())
    }

    /// GETs a URL with extra request headers.
    pub fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> Page {
        let mut rb = self.http.get(url);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        self.page(self.with_cookie(rb).send().unwrap())
    }

    /// The raw answer to a form posted to the authorization endpoint with extra headers.
    pub fn post_raw(
        &self,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> reqwest::blocking::Response {
        let mut rb = self
            .http
            .post(self.h.url("/oauth2/v2.0/auth.php"))
            .form(form);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        self.send(rb)
    }

    /// Posts a form to the authorization endpoint with extra request headers.
    pub fn post_with(&self, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let r = self.post_raw(form, headers);
        self.page(r)
    }

    /// Posts a form to the authorization endpoint.
    pub fn post(&self, form: &[(&str, &str)]) -> Page {
        self.post_with(form, &[])
    }

    /// Fills in and submits the login form of `page`.
    pub fn login(&self, page: &Page, user: &str, password: &str) -> Page {
        let (req, csrf) = (page.hidden("req"), page.hidden("csrf"));
        self.post(&[
            ("req", &req),
            ("csrf", &csrf),
            ("username", user),
            ("password", password),
        ])
    }

    /// Clicks Allow or Deny on the consent `page`.
    pub fn decide(&self, page: &Page, decision: &str) -> Page {
        let (req, csrf) = (page.hidden("req"), page.hidden("csrf"));
        self.post(&[("req", &req), ("csrf", &csrf), ("decision", decision)])
    }
}

/// The `code` and `state` of a redirect to `redirect_uri`; checks `iss` too.
pub fn code_and_state(location: &str, redirect_uri: &str) -> (String, String) {
    assert!(
        location.starts_with(&format!("{redirect_uri}?")),
        "redirected to {location:?}"
    );
    let url = url::Url::parse(location).unwrap();
    let get = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert!(get("iss").is_some(), "no iss in {location}");
    let code = get("code").unwrap_or_else(|| panic!("no code in {location}"));
    (code, get("state").unwrap_or_default())
}

/// The token endpoint's answer to an authorization code exchange (must be 200).
pub fn exchange(
    h: &Harness,
    client: &str,
    secret: Option<&str>,
    code: &str,
    redirect: &str,
    verifier: Option<&str>,
) -> Value {
    let r = exchange_raw(h, client, secret, code, Some(redirect), verifier);
    let status = r.status();
    let v: Value = r.json().unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

/// The token endpoint's raw answer to an authorization code exchange.
pub fn exchange_raw(
    h: &Harness,
    client: &str,
    secret: Option<&str>,
    code: &str,
    redirect: Option<&str>,
    verifier: Option<&str>,
) -> reqwest::blocking::Response {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code)];
    form.extend(redirect.map(|r| ("redirect_uri", r)));
    form.extend(verifier.map(|v| ("code_verifier", v)));
    let rb = h.http.post(h.token_url());
    let rb = match secret {
        Some(s) => rb.basic_auth(client, Some(s)),
        None => {
            form.push(("client_id", client));
            rb
        }
    };
    rb.form(&form).send().unwrap()
}
