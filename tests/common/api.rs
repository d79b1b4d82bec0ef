//! A small admin API client for tests: signs in, keeps the session cookie and CSRF token, and
//! answers status and JSON body.

use serde_json::{Value, json};

use super::Harness;

pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self, status: u16, case: &str) -> &Value {
        assert_eq!(self.status, status, "{case}: {}", self.body);
        &self.body
    }
}

pub struct Api<'h> {
    pub h: &'h Harness,
    cookie: String,
    csrf: String,
}

impl<'h> Api<'h> {
    pub fn login(h: &'h Harness, user: &str) -> Self {
        let body = json!({"username": user, "password": format!("{user}-pw")});
        let r = h
            .http
            .post(h.url("/gateway/api/login"))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "login as {user}");
        let set = r.headers()["set-cookie"].to_str().unwrap();
        let cookie = set.split(';').next().unwrap().to_string();
        let v: Value = r.json().unwrap();
        let csrf = v["csrf_token"].as_str().unwrap().to_string();
        Self { h, cookie, csrf }
    }

    pub fn call(&self, method: &str, route: &str, body: &Value) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let url = self.h.url(&format!("/gateway/api/{route}"));
        let mut rb = self.h.http.request(method, url);
        rb = rb
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf);
        if !body.is_null() {
            rb = rb.json(body);
        }
        let r = rb.send().unwrap();
        let status = r.status().as_u16();
        let text = r.text().unwrap();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{route}: not JSON: {text}"));
        Answer { status, body }
    }

    pub fn get(&self, route: &str) -> Answer {
        self.call("GET", route, &Value::Null)
    }
}
