//! "200 means durable": each security-relevant write is sent over a raw connection and the
//! gateway is SIGKILLed from the same thread as soon as the status line of its answer arrives,
//! before anything else can run; after a restart the write must hold. Covered: token issuance
//! (client secret and `private_key_jwt`, whose `jti` must stay used), revocation of access and
//! refresh tokens, the authorization code issued on consent, code redemption, refresh rotation,
//! a user revoking an app's grants and an admin revoking an app's tokens. Each a few times, on
//! each embedded backend (sled and redb: one `#[test]` per backend, `..._sled` / `..._redb`).
//!
//! Also the flow helpers `crash_kill` shares (a browser for the consent, the token calls).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::browser::*;
use common::jwt::{ASSERTION_TYPE, Key};
use common::*;
use reqwest::blocking::Client;
use serde_json::{Value, json};

pub(crate) const SA: &str = "vte_cd000000000000000001";
pub(crate) const SA_SECRET: &str = "durable-secret";
pub(crate) const JWT: &str = "vte_cd000000000000000002";
const TRIALS: usize = 3;

/// A service account, a `signed_jwt` service account with `key`, and the offline web app.
pub(crate) fn apps(key: &Key) -> String {
    format!(
        "{}{}{}{}",
        settings(true, false),
        secret_app(SA, SA_SECRET, "rest.all", "aldo"),
        jwt_app(JWT, &key.public_pem(), "rest.all", "aldo"),
        web_app(WEB, WEB_SECRET, "rest.all.read", WEB_CB, true),
    )
}

// ---------------------------------------------------------------------------------------------
// Flow helpers over plain HTTP (no borrow of the harness, so threads can use them while the
// harness is killed).

/// `application/x-www-form-urlencoded` of `pairs`.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// `Basic` credentials.
pub(crate) fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// A client that does not follow redirects.
pub(crate) fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(html_escape::decode_html_entities(&body[start..end]).into_owned())
}

/// The first `name=value` of a `Set-Cookie` header.
fn cookie_pair(r: &reqwest::blocking::Response) -> Option<String> {
    let set = r.headers().get("set-cookie")?.to_str().ok()?;
    Some(set.split(';').next()?.to_string())
}

/// The consent form of the web app for `user`, after logging in: the cookies a browser sends
/// with it (the pre-login cookie and the session), and the form body that clicks Allow (None
/// when the gateway did not answer as expected).
pub(crate) fn consent(http: &Client, base: &str, user: &str) -> Option<(String, String)> {
    let mut url = url::Url::parse(&format!("{base}/oauth2/v2.0/auth.php")).ok()?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", WEB)
        .append_pair("redirect_uri", WEB_CB)
        .append_pair("state", "st");
    let r = http.get(url).send().ok()?;
    let browser = cookie_pair(&r)?;
    let login = r.text().ok()?;
    let (req, csrf) = (hidden(&login, "req")?, hidden(&login, "csrf")?);
    let password = format!("{user}-pw");
    let fields = [
        ("req", req.as_str()),
        ("csrf", &csrf),
        ("username", user),
        ("password", &password),
    ];
    let r = http
        .post(format!("{base}/oauth2/v2.0/auth.php"))
        .header("Cookie", &browser)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(&fields))
        .send()
        .ok()?;
    let cookie = format!("{browser}; {}", cookie_pair(&r)?);
    let page = r.text().ok()?;
    let (req, csrf) = (hidden(&page, "req")?, hidden(&page, "csrf")?);
    let allow = form(&[("req", &req), ("csrf", &csrf), ("decision", "allow")]);
    Some((cookie, allow))
}

/// The code of a consent redirect.
pub(crate) fn code_of(location: &str) -> String {
    let (code, state) = code_and_state(location, WEB_CB);
    assert_eq!(state, "st");
    code
}

/// A web app code for `user`, the normal way (None when the gateway did not give one).
pub(crate) fn try_authorize(http: &Client, base: &str, user: &str) -> Option<String> {
    let (cookie, allow) = consent(http, base, user)?;
    let r = http
        .post(format!("{base}/oauth2/v2.0/auth.php"))
        .header("Cookie", cookie)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(allow)
        .send()
        .ok()?;
    if r.status() != 303 {
        return None;
    }
    Some(code_of(r.headers().get("location")?.to_str().ok()?))
}

/// A web app code for `user` (the gateway must give one).
pub(crate) fn authorize(http: &Client, base: &str, user: &str) -> String {
    try_authorize(http, base, user).expect("no authorization code")
}

/// POSTs a form to the token endpoint as the web app: status and JSON (null when the answer
/// was lost).
pub(crate) fn web_token(http: &Client, base: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let r = http
        .post(format!("{base}/oauth2/v2.0/token.php"))
        .header("Authorization", basic(WEB, WEB_SECRET))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(fields))
        .send();
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

/// Redeems a web app code.
pub(crate) fn exchange_fields(code: &str) -> [(&str, &str); 3] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", WEB_CB),
    ]
}

/// Rotates a web app refresh token.
pub(crate) fn refresh_fields(token: &str) -> [(&str, &str); 2] {
    [("grant_type", "refresh_token"), ("refresh_token", token)]
}

/// What the proxy answers a Bearer `token` (200 valid, 401 refused, 0 no answer).
pub(crate) fn bearer_status(http: &Client, base: &str, token: &str) -> u16 {
    http.post(format!("{base}/restapi/v1/vtews/query"))
        .bearer_auth(token)
        .json(&json!({"query": "SELECT * FROM Invoice;"}))
        .send()
        .map_or(0, |r| r.status().as_u16())
}

/// Claims of a fresh assertion of the JWT app (fresh `jti`).
pub(crate) fn assertion(key: &Key, base: &str) -> String {
    let t = common::jwt::now();
    key.sign(&json!({
        "iss": JWT, "sub": JWT, "aud": format!("{base}/oauth2/v2.0/token.php"),
        "iat": t, "exp": t + 300, "jti": common::jwt::jti(),
    }))
}

/// The form of a client_credentials request authenticated by `jwt`.
pub(crate) fn assertion_fields(jwt: &str) -> [(&str, &str); 3] {
    [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", jwt),
    ]
}

/// Status and JSON of a token request authenticated by an assertion.
pub(crate) fn assertion_token(http: &Client, base: &str, jwt: &str) -> (u16, Value) {
    let r = http
        .post(format!("{base}/oauth2/v2.0/token.php"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(&assertion_fields(jwt)))
        .send();
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

// ---------------------------------------------------------------------------------------------
// Send, and kill at the status line.

/// The part of an answer that arrived around the kill.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("incomplete or non-JSON body: {:?}", self.body))
    }

    fn header(&self, name: &str) -> String {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_string())
            .unwrap_or_else(|| panic!("no {name} in {}", self.head))
    }
}

/// Sends a request on a fresh connection, SIGKILLs the gateway the moment the status line has
/// arrived (asserting it is `expect`), then reads what was already received.
fn send_then_kill(
    h: &mut Harness,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    expect: u16,
) -> Answer {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
        h.port,
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed before the status line");
        buf.extend_from_slice(&chunk[..n]);
    }
    let t = Instant::now();
    h.kill();
    assert!(t.elapsed() < Duration::from_secs(2), "the kill took long");
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert_eq!(status, expect, "answer before the kill: {text}");
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn token_then_kill(h: &mut Harness, auth: &str, fields: &[(&str, &str)]) -> Value {
    let headers = [("Authorization", auth), FORM];
    let a = send_then_kill(h, "/oauth2/v2.0/token.php", &headers, &form(fields), 200);
    assert_eq!(a.status, 200);
    a.json()
}

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_string()
}

fn harness(key: &Key, backend: Backend) -> Harness {
    Harness::start_on(&apps(key), backend)
}

// ---------------------------------------------------------------------------------------------
// Tests: each body runs once per embedded backend (the `#[test]`s at the end).

fn tokens_and_used_jtis_survive_a_kill_at_the_200(backend: Backend) {
    let key = Key::es256();
    let mut h = harness(&key, backend);
    for trial in 0..TRIALS {
        let auth = basic(SA, SA_SECRET);
        let v = token_then_kill(&mut h, &auth, &[("grant_type", "client_credentials")]);
        h.restart();
        let token = s(&v, "access_token");
        assert_eq!(
            bearer_status(&h.http, &h.base, &token),
            200,
            "trial {trial}"
        );
        let jwt = assertion(&key, &h.base);
        let headers = [FORM];
        let a = send_then_kill(
            &mut h,
            "/oauth2/v2.0/token.php",
            &headers,
            &form(&assertion_fields(&jwt)),
            200,
        );
        h.restart();
        let token = s(&a.json(), "access_token");
        assert_eq!(
            bearer_status(&h.http, &h.base, &token),
            200,
            "trial {trial}"
        );
        let (status, v) = assertion_token(&h.http, &h.base, &jwt);
        assert_eq!(
            (status, &v["error"]),
            (401, &json!("invalid_client")),
            "jti replayed after a kill: {v}"
        );
    }
}

fn revocations_survive_a_kill_at_the_200(backend: Backend) {
    let key = Key::es256();
    let mut h = harness(&key, backend);
    let http = client();
    for trial in 0..TRIALS {
        let token = h.token(SA, SA_SECRET);
        let auth = basic(SA, SA_SECRET);
        let headers = [("Authorization", auth.as_str()), FORM];
        let body = form(&[("token", &token)]);
        send_then_kill(&mut h, "/oauth2/v2.0/revoke.php", &headers, &body, 200);
        h.restart();
        assert_eq!(bearer_status(&http, &h.base, &token), 401, "trial {trial}");
        // A refresh token takes its grant with it.
        let code = authorize(&http, &h.base, "bruna");
        let (_, t) = web_token(&http, &h.base, &exchange_fields(&code));
        let auth = basic(WEB, WEB_SECRET);
        let headers = [("Authorization", auth.as_str()), FORM];
        let body = form(&[("token", &s(&t, "refresh_token"))]);
        send_then_kill(&mut h, "/oauth2/v2.0/revoke.php", &headers, &body, 200);
        h.restart();
        assert_eq!(bearer_status(&http, &h.base, &s(&t, "access_token")), 401);
        let (status, v) = web_token(&http, &h.base, &refresh_fields(&s(&t, "refresh_token")));
        assert_eq!((status, &v["error"]), (400, &json!("invalid_grant")), "{v}");
    }
}

fn codes_issued_and_redeemed_survive_a_kill_at_the_answer(backend: Backend) {
    let key = Key::es256();
    let mut h = harness(&key, backend);
    let http = client();
    for trial in 0..TRIALS {
        // The code of a 303 after Allow must be redeemable after a kill.
        let (cookie, allow) = consent(&http, &h.base, "bruna").unwrap();
        let headers = [("Cookie", cookie.as_str()), FORM];
        let a = send_then_kill(&mut h, "/oauth2/v2.0/auth.php", &headers, &allow, 303);
        let code = code_of(&a.header("location"));
        h.restart();
        // Redemption: the tokens must work and the code must stay spent.
        let auth = basic(WEB, WEB_SECRET);
        let t = token_then_kill(&mut h, &auth, &exchange_fields(&code));
        h.restart();
        assert_eq!(
            bearer_status(&http, &h.base, &s(&t, "access_token")),
            200,
            "trial {trial}"
        );
        let (status, v) = web_token(&http, &h.base, &refresh_fields(&s(&t, "refresh_token")));
        assert_eq!(status, 200, "refresh token of the redemption: {v}");
        let (status, v) = web_token(&http, &h.base, &exchange_fields(&code));
        assert_eq!((status, &v["error"]), (400, &json!("invalid_grant")), "{v}");
    }
}

fn refresh_rotations_survive_a_kill_at_the_200(backend: Backend) {
    let key = Key::es256();
    let mut h = harness(&key, backend);
    let http = client();
    for trial in 0..TRIALS {
        let code = authorize(&http, &h.base, "bruna");
        let (_, t0) = web_token(&http, &h.base, &exchange_fields(&code));
        let old = s(&t0, "refresh_token");
        let auth = basic(WEB, WEB_SECRET);
        let t1 = token_then_kill(&mut h, &auth, &refresh_fields(&old));
        h.restart();
        assert_eq!(
            bearer_status(&http, &h.base, &s(&t1, "access_token")),
            200,
            "trial {trial}"
        );
        let (status, v) = web_token(&http, &h.base, &refresh_fields(&s(&t1, "refresh_token")));
        assert_eq!(status, 200, "the rotated-to refresh token: {v}");
        let (status, v) = web_token(&http, &h.base, &refresh_fields(&old));
        assert_eq!(
            (status, &v["error"]),
            (400, &json!("invalid_grant")),
            "old token: {v}"
        );
    }
}

/// Logs in to the admin API: cookie and CSRF token.
fn api_login(http: &Client, base: &str, user: &str) -> (String, String) {
    let body = json!({"username": user, "password": format!("{user}-pw")});
    let r = http
        .post(format!("{base}/gateway/api/login"))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "login as {user}");
    let set = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_string();
    let v: Value = r.json().unwrap();
    (cookie, s(&v, "csrf_token"))
}

fn grant_and_app_revocations_survive_a_kill_at_the_200(backend: Backend) {
    let key = Key::es256();
    let mut h = harness(&key, backend);
    let http = client();
    for trial in 0..TRIALS {
        let code = authorize(&http, &h.base, "bruna");
        let (_, t) = web_token(&http, &h.base, &exchange_fields(&code));
        let (cookie, csrf) = api_login(&http, &h.base, "bruna");
        let headers = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
        let route = format!("/gateway/api/me/apps/{WEB}/revoke");
        send_then_kill(&mut h, &route, &headers, "", 200);
        h.restart();
        assert_eq!(
            bearer_status(&http, &h.base, &s(&t, "access_token")),
            401,
            "trial {trial}"
        );
        let (status, v) = web_token(&http, &h.base, &refresh_fields(&s(&t, "refresh_token")));
        assert_eq!((status, &v["error"]), (400, &json!("invalid_grant")), "{v}");
        // An admin revoking every token of a service account.
        let tokens: Vec<String> = (0..3).map(|_| h.token(SA, SA_SECRET)).collect();
        let (cookie, csrf) = api_login(&http, &h.base, "admin");
        let headers = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
        let route = format!("/gateway/api/apps/{SA}/revoke");
        send_then_kill(&mut h, &route, &headers, "", 200);
        h.restart();
        for t in &tokens {
            assert_eq!(bearer_status(&http, &h.base, t), 401, "trial {trial}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One test per backend.

#[test]
fn tokens_and_used_jtis_survive_a_kill_at_the_200_sled() {
    tokens_and_used_jtis_survive_a_kill_at_the_200(Backend::Sled);
}

#[test]
fn tokens_and_used_jtis_survive_a_kill_at_the_200_redb() {
    tokens_and_used_jtis_survive_a_kill_at_the_200(Backend::Redb);
}

#[test]
fn revocations_survive_a_kill_at_the_200_sled() {
    revocations_survive_a_kill_at_the_200(Backend::Sled);
}

#[test]
fn revocations_survive_a_kill_at_the_200_redb() {
    revocations_survive_a_kill_at_the_200(Backend::Redb);
}

#[test]
fn codes_issued_and_redeemed_survive_a_kill_at_the_answer_sled() {
    codes_issued_and_redeemed_survive_a_kill_at_the_answer(Backend::Sled);
}

#[test]
fn codes_issued_and_redeemed_survive_a_kill_at_the_answer_redb() {
    codes_issued_and_redeemed_survive_a_kill_at_the_answer(Backend::Redb);
}

#[test]
fn refresh_rotations_survive_a_kill_at_the_200_sled() {
    refresh_rotations_survive_a_kill_at_the_200(Backend::Sled);
}

#[test]
fn refresh_rotations_survive_a_kill_at_the_200_redb() {
    refresh_rotations_survive_a_kill_at_the_200(Backend::Redb);
}

#[test]
fn grant_and_app_revocations_survive_a_kill_at_the_200_sled() {
    grant_and_app_revocations_survive_a_kill_at_the_200(Backend::Sled);
}

#[test]
fn grant_and_app_revocations_survive_a_kill_at_the_200_redb() {
    grant_and_app_revocations_survive_a_kill_at_the_200(Backend::Redb);
}
