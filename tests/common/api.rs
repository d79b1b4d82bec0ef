//! The admin API client of the tests: requests with or without a session, a signed-in client
//! that keeps the session cookie and CSRF token, and answers with status, headers and JSON body.

use reqwest::blocking::RequestBuilder;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::Harness;

/// One answer of the admin API.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts the status; the body.
    pub fn ok(&self, status: u16, case: &str) -> &Value {
        assert_eq!(self.status, status, "{case}: {}", self.body);
        &self.body
    }

    /// Asserts an error answer: status, `error` code and a non-empty `message`.
    pub fn err(&self, status: u16, code: &str, case: &str) {
        assert_eq!(self.status, status, "{case}: {}", self.body);
        assert_eq!(self.body["error"], code, "{case}: {}", self.body);
        let message = self.body["message"].as_str().unwrap_or_default();
        assert!(
            !message.trim().is_empty(),
            "{case}: no message: {}",
            self.body
        );
    }

    /// The `ETag`, if the answer has one.
    pub fn etag_value(&self) -> Option<String> {
        self.headers
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// The `ETag` (panics without one).
    pub fn etag(&self) -> String {
        self.etag_value()
            .unwrap_or_else(|| panic!("no ETag with {}", self.body))
    }
}

fn request(h: &Harness, method: &str, route: &str) -> RequestBuilder {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    h.http
        .request(method, h.url(&format!("/gateway/api/{route}")))
}

/// Sends and reads the JSON answer (panics when it is not JSON).
fn exchange(rb: RequestBuilder, route: &str) -> Answer {
    let r = rb.send().unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{route}: not JSON: {text}"));
    Answer {
        status,
        headers,
        body,
    }
}

/// A request with exactly the given headers and a JSON body (none when `body` is null).
pub fn send(
    h: &Harness,
    method: &str,
    route: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Answer {
    let mut rb = request(h, method, route);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    if !body.is_null() {
        rb = rb.json(body);
    }
    exchange(rb, route)
}

/// `POST login` with a username and password.
pub fn login_raw(h: &Harness, user: &str, password: &str) -> Answer {
    let body = json!({"username": user, "password": password});
    send(h, "POST", "login", &[], &body)
}

/// A signed-in client.
pub struct Api<'h> {
    pub h: &'h Harness,
    /// The session cookie (`name=value`).
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
}

impl<'h> Api<'h> {
    /// Signs in as `user` (password `<user>-pw`).
    pub fn login(h: &'h Harness, user: &str) -> Self {
        let a = login_raw(h, user, &format!("{user}-pw"));
        assert_eq!(a.status, 200, "login as {user}: {}", a.body);
        let set = a.headers["set-cookie"].to_str().unwrap();
        let cookie = set.split(';').next().unwrap().to_string();
        let csrf = a.body["csrf_token"].as_str().unwrap().to_string();
        Self { h, cookie, csrf }
    }

    /// A call with the session cookie, the CSRF token on anything but GET, `If-Match` when
    /// given, and a JSON body (none when `body` is null).
    pub fn send(&self, method: &str, route: &str, body: &Value, if_match: Option<&str>) -> Answer {
        let mut rb = request(self.h, method, route).header("Cookie", &self.cookie);
        if method != "GET" {
            rb = rb.header("X-CSRF-Token", &self.csrf);
        }
        if let Some(v) = if_match {
            rb = rb.header("If-Match", v);
        }
        if !body.is_null() {
            rb = rb.json(body);
        }
        exchange(rb, route)
    }

    /// [`Self::send`] without `If-Match`.
    pub fn call(&self, method: &str, route: &str, body: &Value) -> Answer {
        self.send(method, route, body, None)
    }

    /// A GET with the session cookie.
    pub fn get(&self, route: &str) -> Answer {
        self.send("GET", route, &Value::Null, None)
    }

    /// A call with the session cookie, the CSRF token, and a raw body of `content_type` (no
    /// `Content-Type` when empty).
    pub fn raw(&self, method: &str, route: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let mut rb = request(self.h, method, route)
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf);
        if !content_type.is_empty() {
            rb = rb.header("Content-Type", content_type);
        }
        exchange(rb.body(body), route)
    }
}
