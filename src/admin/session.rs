//! Sessions of the admin and account pages: `POST login` checks the password (throttled like the
//! login page), then a random session id travels in the `crmgate_admin` cookie (HttpOnly,
//! SameSite=Strict, Path=/gateway/) and every mutation must repeat the session's CSRF token.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, ApiRequest, ApiResult, Caller, body_object};
use crate::gateway::Gateway;
use crate::keys::KeyedHash;
use crate::login::sessions::{random_id, same_secret};
use crate::login::throttle::{Refused, Throttle};
use crate::response::Response;
use crate::store::StoreError;
use crate::store::ephemeral::{Ephemeral, Kind};
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

/// Live sessions, in the deployment's [`Ephemeral`] store by keyed hash of the cookie value.
pub struct AdminSessions {
    store: Arc<dyn Ephemeral>,
    hasher: KeyedHash,
    ttl: u64,
    secure: bool,
}

/// What the store keeps of a session (never its id).
#[derive(Serialize, Deserialize)]
struct Stored {
    username: String,
    csrf: String,
}

impl AdminSessions {
    /// Sessions lasting `ttl` seconds (from their last use); cookies `Secure` when `secure`.
    pub fn new(ttl: u64, secure: bool, hasher: KeyedHash, store: Arc<dyn Ephemeral>) -> Self {
        Self {
            store,
            hasher,
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

    async fn insert(&self, session: &Session) -> Result<(), StoreError> {
        let stored = Stored {
            username: session.username.clone(),
            csrf: session.csrf.clone(),
        };
        let key = self.hasher.hash(session.id.as_bytes());
        let raw = crate::token::record::encode(&stored);
        let ttl = Duration::from_secs(self.ttl);
        self.store.put(Kind::AdminSession, &key.0, &raw, ttl).await
    }

    /// The live session with cookie value `id`; its lifetime starts again.
    async fn get(&self, id: &str) -> Result<Option<Arc<Session>>, StoreError> {
        let key = self.hasher.hash(id.as_bytes());
        let Some(raw) = self.store.get(Kind::AdminSession, &key.0).await? else {
            return Ok(None);
        };
        let stored: Stored = crate::token::record::decode(&raw)?;
        let session = Session {
            id: id.to_string(),
            username: stored.username,
            csrf: stored.csrf,
        };
        self.insert(&session).await?;
        Ok(Some(Arc::new(session)))
    }

    async fn remove(&self, id: &str) -> Result<(), StoreError> {
        let key = self.hasher.hash(id.as_bytes());
        self.store.delete(Kind::AdminSession, &key.0).await
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
    if let Some(refused) = throttled(throttle, &username, req).await? {
        return Ok(refused);
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
        throttle.failed(&username, req.peer).await;
        tracing::info!(user = %username, "admin API login failed");
        return Err(ApiError::new(
            401,
            "unauthorized",
            "wrong username or password",
        ));
    };
    throttle.succeeded(&username).await;
    let session = Arc::new(Session {
        id: random_id(),
        username,
        csrf: random_id(),
    });
    sessions
        .insert(&session)
        .await
        .map_err(ApiError::unavailable)?;
    tracing::info!(user = %session.username, "admin API login");
    let body = json!({"csrf_token": session.csrf, "user": user_json(&user)});
    Ok(Response::json(200, &body)
        .header("Set-Cookie", sessions.cookie(&session.id, sessions.ttl))
        .header("Cache-Control", "no-store"))
}

/// The 429 for a name or address over its limit, if it is.
async fn throttled(
    throttle: &Throttle,
    username: &str,
    req: &ApiRequest<'_>,
) -> Result<Option<Response>, ApiError> {
    match throttle.check(username, req.peer).await {
        Ok(()) => Ok(None),
        Err(Refused::Wait(wait)) => {
            let e = ApiError::new(
                429,
                "too_many_requests",
                "too many failed attempts: wait and retry",
            );
            Ok(Some(e.response().header("Retry-After", wait.to_string())))
        }
        Err(Refused::Unavailable(e)) => Err(ApiError::unavailable(e)),
    }
}

/// The caller of a request, or 401.
pub async fn caller(
    gw: &Gateway,
    sessions: &AdminSessions,
    req: &ApiRequest<'_>,
) -> Result<Caller, ApiError> {
    let unauthorized = || ApiError::new(401, "unauthorized", "sign in first");
    let values = req
        .cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value);
    let mut found = None;
    for value in values {
        if let Some(s) = sessions.get(value).await.map_err(ApiError::unavailable)? {
            found = Some(s);
            break;
        }
    }
    let session = found.ok_or_else(unauthorized)?;
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
pub async fn logout(sessions: &AdminSessions, caller: &Caller) -> ApiResult {
    sessions
        .remove(&caller.session.id)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Response::json(200, &json!({}))
        .header("Set-Cookie", sessions.cookie("", 0))
        .header("Cache-Control", "no-store"))
}
