//! Driving the authorization endpoint the way a browser does: GET the authorize link, post the
//! login form and the consent form with the hidden fields and the session cookie, and read the
//! redirect. Also the apps and helpers the authorization code tests share.

use std::cell::RefCell;

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

/// A browser: no automatic redirects, one cookie jar entry for the gateway session.
pub struct Browser<'h> {
    h: &'h Harness,
    http: Client,
    cookie: RefCell<Option<String>>,
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
            cookie: RefCell::new(None),
        }
    }

    fn page(&self, r: reqwest::blocking::Response) -> Page {
        if let Some(c) = r.headers().get("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap().to_string();
            *self.cookie.borrow_mut() = Some(pair);
        }
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

    fn with_cookie(
        &self,
        rb: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match self.cookie.borrow().as_ref() {
            Some(c) => rb.header("Cookie", c.clone()),
            None => rb,
        }
    }

    /// GETs a URL.
    pub fn get(&self, url: &str) -> Page {
        self.page(self.with_cookie(self.http.get(url)).send().unwrap())
    }

    /// Posts a form to the authorization endpoint.
    pub fn post(&self, form: &[(&str, &str)]) -> Page {
        let rb = self
            .http
            .post(self.h.url("/oauth2/v2.0/auth.php"))
            .form(form);
        self.page(self.with_cookie(rb).send().unwrap())
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
