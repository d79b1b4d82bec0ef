//! Sessions of the admin and account pages: `POST login` checks the password (throttled like the
//! login page), then a random session id travels in the `crmgate_admin` cookie (HttpOnly,
//! SameSite=Strict, Path=/gateway/) and every mutation must repeat the session's CSRF token.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use serde_json::{Value, json};

use super::{ApiError, ApiRequest, ApiResult, Caller, body_object};
use crate::gateway::Gateway;
use crate::login::sessions::{random_id, same_secret};
use crate::login::throttle::Throttle;
use crate::response::Response;
use crate::users::User;

/// Name of the admin session cookie.
pub const COOKIE: &str = "crmgate_admin";

/// A signed-in user of the admin API.
#[derive(Debug)]
pub struct Session {
    /// Session id (the cookie value).
    pub id: String,
    /// Username.
    pub username: String,
    /// The token mutations must send as `X-CSRF-Token`.
    pub csrf: String,
}

/// Live sessions.
pub struct AdminSessions {
    live: Cache<String, Arc<Session>>,
    ttl: u64,
    secure: bool,
}

impl AdminSessions {
    /// Sessions lasting `ttl` seconds; cookies `Secure` when `secure`.
    pub fn new(ttl: u64, secure: bool) -> Self {
        Self {
            live: Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(ttl))
                .build(),
            ttl,
            secure,
        }
    }

    fn cookie(&self, value: &str, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{COOKIE}={value}; Path=/gateway/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
        )
    }
}

fn user_json(user: &User) -> Value {
    json!({"username": user.username, "name": user.name, "admin": user.admin})
}

/// `POST login`.
/// `throttle` is the login pages' password throttle: both count the same failures.
pub async fn login(
    gw: &Gateway,
    sessions: &AdminSessions,
    throttle: &Throttle,
    req: &ApiRequest<'_>,
) -> ApiResult {
    let body = body_object(req)?;
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (username, password) = (field("username"), field("password"));
    if username.is_empty() || password.is_empty() {
        return Err(ApiError::invalid("username and password are required"));
    }
    if let Err(wait) = throttle.check(&username, req.peer) {
        let e = ApiError::new(
            429,
            "too_many_requests",
            "too many failed attempts: wait and retry",
        );
        return Ok(e.response().header("Retry-After", wait.to_string()));
    }
    let ok = gw
        .identity
        .check_password(&username, &password, req.peer)
        .await
        .map_err(ApiError::unavailable)?;
    let user = if ok {
        gw.identity.user_named(&username)
    } else {
        None
    };
    let Some(user) = user else {
        throttle.failed(&username, req.peer);
        tracing::info!(user = %username, "admin API login failed");
        return Err(ApiError::new(
            401,
            "unauthorized",
            "wrong username or password",
        ));
    };
    throttle.succeeded(&username);
    let session = Arc::new(Session {
        id: random_id(),
        username,
        csrf: random_id(),
    });
    sessions.live.insert(session.id.clone(), session.clone());
    tracing::info!(user = %session.username, "admin API login");
    let body = json!({"csrf_token": session.csrf, "user": user_json(&user)});
    Ok(Response::json(200, &body)
        .header("Set-Cookie", sessions.cookie(&session.id, sessions.ttl))
        .header("Cache-Control", "no-store"))
}

/// The caller of a request, or 401.
pub fn caller(
    gw: &Gateway,
    sessions: &AdminSessions,
    req: &ApiRequest<'_>,
) -> Result<Caller, ApiError> {
    let unauthorized = || ApiError::new(401, "unauthorized", "sign in first");
    let session = req
        .cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .find_map(|(_, value)| sessions.live.get(value))
        .ok_or_else(unauthorized)?;
    let user = gw
        .identity
        .user_named(&session.username)
        .ok_or_else(unauthorized)?;
    Ok(Caller { session, user })
}

/// 403 unless the request carries the session's CSRF token.
pub fn check_csrf(caller: &Caller, req: &ApiRequest<'_>) -> Result<(), ApiError> {
    match req.csrf {
        Some(t) if same_secret(t, &caller.session.csrf) => Ok(()),
        _ => Err(ApiError::new(
            403,
            "forbidden",
            "missing or wrong X-CSRF-Token header",
        )),
    }
}

/// `GET session`.
pub fn describe(caller: &Caller) -> Response {
    let body = json!({"csrf_token": caller.session.csrf, "user": user_json(&caller.user)});
    Response::json(200, &body).header("Cache-Control", "no-store")
}

/// `POST logout`.
pub fn logout(sessions: &AdminSessions, caller: &Caller) -> Response {
    sessions.live.invalidate(&caller.session.id);
    Response::json(200, &json!({}))
        .header("Set-Cookie", sessions.cookie("", 0))
        .header("Cache-Control", "no-store")
}
