//! The admin JSON API under `/gateway/api/` (see docs/admin-api.md): sessions with CSRF tokens,
//! settings and applications for admins, "connected applications" for every user. Every error
//! is JSON with a sentence for people; every admin change goes to the audit log.

pub mod apps;
pub mod assets;
pub mod audit;
pub mod credentials;
pub mod icons;
pub mod me;
pub mod session;
pub mod view;

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::gateway::Gateway;
use crate::login::throttle::Throttle;
use crate::registry::edit::EditError;
use crate::response::Response;
use crate::users::User;
use session::{AdminSessions, Session};

/// The parts of a request the API looks at.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// Method.
    pub method: &'a str,
    /// Path after `/gateway/api/`.
    pub route: &'a str,
    /// Every `Cookie` value joined with `; `.
    pub cookies: &'a str,
    /// `X-CSRF-Token`.
    pub csrf: Option<&'a str>,
    /// `If-Match`.
    pub if_match: Option<&'a str>,
    /// `Content-Type`.
    pub content_type: Option<&'a [u8]>,
    /// Body.
    pub body: &'a [u8],
    /// Client address.
    pub peer: Option<IpAddr>,
}

/// An API error: status, code and a message for people.
#[derive(Debug)]
pub struct ApiError {
    status: u16,
    code: &'static str,
    /// The sentence for people.
    pub message: String,
    problems: Vec<String>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// 400 `invalid`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid", message)
    }

    /// 404 `not_found`.
    pub fn not_found() -> Self {
        Self::new(404, "not_found", "no such application")
    }

    /// 503 `unavailable`, for store and file failures (logged, not shown).
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "admin API failure");
        Self::new(
            503,
            "unavailable",
            "the change could not be saved; try again",
        )
    }

    fn response(&self) -> Response {
        let mut body = json!({"error": self.code, "message": self.message});
        if !self.problems.is_empty() {
            body["problems"] = json!(self.problems);
        }
        Response::json(self.status, &body).header("Cache-Control", "no-store")
    }
}

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        match e {
            EditError::Stale => ApiError::new(
                409,
                "conflict",
                "apps.toml changed since you loaded this page: reload and apply your change again",
            ),
            EditError::NotFound => ApiError::not_found(),
            EditError::BadValue(m) => ApiError::invalid(m),
            EditError::Invalid(p) => ApiError {
                problems: p.0.iter().map(ToString::to_string).collect(),
                ..ApiError::invalid("the change would make apps.toml invalid")
            },
            EditError::Io(e) => ApiError::unavailable(e),
            EditError::Exists(id) => {
                ApiError::new(409, "conflict", format!("client_id {id} already exists"))
            }
        }
    }
}

/// The result of a handler: a JSON body and its status, or an error.
pub type ApiResult = Result<Response, ApiError>;

/// A 200 JSON answer carrying the registry version as `ETag`.
pub fn with_version(status: u16, body: &Value, version: &str) -> Response {
    Response::json(status, body)
        .header("ETag", format!("\"{version}\""))
        .header("Cache-Control", "no-store")
}

/// Who is calling: the session and the user it belongs to.
pub struct Caller {
    /// The session.
    pub session: Arc<Session>,
    /// The user, as the users file or the CRM knows them now.
    pub user: Arc<User>,
}

/// Handles an API request; `sessions` are the API's own, `throttle` the login pages' password
/// throttle (both count the same failures).
pub async fn handle(
    gw: &Gateway,
    sessions: &AdminSessions,
    throttle: &Throttle,
    req: &ApiRequest<'_>,
) -> Response {
    match route(gw, sessions, throttle, req).await {
        Ok(r) => r,
        Err(e) => e.response(),
    }
}

async fn route(
    gw: &Gateway,
    sessions: &AdminSessions,
    throttle: &Throttle,
    req: &ApiRequest<'_>,
) -> ApiResult {
    let parts: Vec<&str> = req.route.trim_end_matches('/').split('/').collect();
    match (req.method, parts.as_slice()) {
        ("POST", ["login"]) => return session::login(gw, sessions, throttle, req).await,
        (_, ["login"]) => return Err(method_not_allowed()),
        _ => {}
    }
    let caller = session::caller(gw, sessions, req).await?;
    let mutating = !matches!(req.method, "GET" | "HEAD");
    if mutating {
        session::check_csrf(&caller, req)?;
    }
    match (req.method, parts.as_slice()) {
        ("GET", ["session"]) => Ok(session::describe(&caller)),
        ("POST", ["logout"]) => session::logout(sessions, &caller).await,
        (_, ["me", rest @ ..]) => me::route(gw, req, &caller, rest).await,
        (_, ["settings"] | ["apps", ..]) if !caller.user.admin => Err(ApiError::new(
            403,
            "forbidden",
            "only administrators can manage applications",
        )),
        (_, ["settings"]) => apps::settings(gw, req, &caller).await,
        (_, ["apps", rest @ ..]) => apps::route(gw, req, &caller, rest).await,
        _ => Err(ApiError::new(404, "not_found", "no such API route")),
    }
}

/// 405 for a known route with the wrong method.
pub fn method_not_allowed() -> ApiError {
    ApiError::new(
        405,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// The JSON object of a request body.
pub fn body_object(req: &ApiRequest<'_>) -> Result<serde_json::Map<String, Value>, ApiError> {
    let is_json = req
        .content_type
        .and_then(|c| std::str::from_utf8(c).ok())
        .is_some_and(|c| {
            c.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if req.body.is_empty() {
        return Ok(serde_json::Map::new());
    }
    if !is_json {
        return Err(ApiError::invalid(
            "send a JSON body with Content-Type: application/json",
        ));
    }
    match serde_json::from_slice(req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::invalid("the body must be a JSON object")),
    }
}
