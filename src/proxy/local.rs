//! Requests the gateway answers itself: the OAuth endpoints, metadata, health and metrics. Paths
//! under `/oauth2/` and `/gateway/` belong to the gateway in any spelling and never reach the CRM.

use std::net::IpAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use serde_json::json;

use super::features::Features;
use super::route::may_be_under;
use crate::gateway::{Gateway, paths};
use crate::login::Login;
use crate::oauth::authorize::AuthRequest;
use crate::oauth::client_auth::ClientThrottle;
use crate::oauth::error::OAuthError;
use crate::oauth::{self, Endpoint, OAuthRequest};

use crate::response::Response;

/// A gateway-owned endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// Authorization endpoint (login and consent pages).
    Authorize,
    /// A static file of the pages (`/gateway/assets/...`).
    Asset,
    /// The admin page.
    AdminPage,
    /// The "Connected applications" page.
    AccountPage,
    /// The admin JSON API (`/gateway/api/...`).
    Api,
    /// Token endpoint.
    Token,
    /// Revocation endpoint.
    Revoke,
    /// Introspection endpoint.
    Introspect,
    /// RFC 8414 metadata.
    Metadata,
    /// Liveness.
    Healthz,
    /// Readiness.
    Readyz,
    /// Prometheus text.
    Metrics,
    /// A CORS preflight answered by the gateway.
    Preflight,
    /// Under a gateway prefix but nothing here.
    NotFound,
}

impl Local {
    /// The name used in logs.
    pub fn name(self) -> &'static str {
        match self {
            Local::Authorize => "authorize",
            Local::Asset => "asset",
            Local::AdminPage => "admin_page",
            Local::AccountPage => "account_page",
            Local::Api => "api",
            Local::Token => "token",
            Local::Revoke => "revoke",
            Local::Introspect => "introspect",
            Local::Metadata => "metadata",
            Local::Healthz => "healthz",
            Local::Readyz => "readyz",
            Local::Metrics => "metrics",
            Local::Preflight => "preflight",
            Local::NotFound => "not_found",
        }
    }
}

/// The local endpoint for `path`, if the gateway owns it.
pub fn route(path: &str) -> Option<Local> {
    let exact = match path {
        paths::AUTHORIZE => Some(Local::Authorize),
        "/gateway/admin" | "/gateway/admin/" => Some(Local::AdminPage),
        "/gateway/account" | "/gateway/account/" => Some(Local::AccountPage),
        p if p.starts_with("/gateway/assets/") => Some(Local::Asset),
        p if p.starts_with("/gateway/api/") => Some(Local::Api),
        paths::TOKEN => Some(Local::Token),
        paths::REVOKE => Some(Local::Revoke),
        paths::INTROSPECT => Some(Local::Introspect),
        paths::METADATA => Some(Local::Metadata),
        paths::HEALTHZ => Some(Local::Healthz),
        paths::READYZ => Some(Local::Readyz),
        paths::METRICS => Some(Local::Metrics),
        _ => None,
    };
    if exact.is_some() {
        return exact;
    }
    let owned = ["/oauth2/", "/gateway/", paths::METADATA]
        .iter()
        .any(|prefix| may_be_under(path, prefix));
    owned.then_some(Local::NotFound)
}

/// With `server.ops_listen` set: the ops listener (`on_ops`) serves metrics, health and
/// readiness and nothing else; the public listener serves everything but those. `Err` is the
/// 404 to answer.
pub fn for_listener(local: Option<Local>, on_ops: bool) -> Result<Option<Local>, Response> {
    let ops = matches!(local, Some(Local::Metrics | Local::Healthz | Local::Readyz));
    if ops == on_ops {
        Ok(local)
    } else if on_ops {
        Err(Response::json(404, &json!({"error": "not_found"})))
    } else {
        Ok(Some(Local::NotFound))
    }
}

/// Answers a local endpoint for a client at `client` (the peer, or the address trusted proxies
/// forwarded for).
pub async fn serve(
    gw: &Gateway,
    features: &Features,
    session: &mut Session,
    local: Local,
    client: Option<IpAddr>,
) -> Response {
    match local {
        Local::Token | Local::Revoke | Local::Introspect => {
            post(gw, &features.clients, session, local, client).await
        }
        Local::Authorize => authorize(gw, &features.login, session, client).await,
        Local::Api => api(gw, features, session, client).await,
        Local::Asset if is_get(session) => {
            let name = session
                .req_header()
                .uri
                .path()
                .trim_start_matches("/gateway/assets/");
            crate::admin::assets::file(name)
        }
        Local::AdminPage if is_get(session) => crate::admin::assets::file("admin.html"),
        Local::AccountPage if is_get(session) => crate::admin::assets::file("account.html"),
        Local::Metadata if is_get(session) => oauth::metadata::handle(gw),
        Local::Healthz if is_get(session) => healthz(gw),
        Local::Readyz if is_get(session) => super::ready::readyz(gw).await,
        Local::Metrics if is_get(session) => Response::bytes(
            200,
            "text/plain; version=0.0.4",
            Bytes::from(gw.metrics.render()),
        ),
        Local::NotFound | Local::Preflight => Response::json(404, &json!({"error": "not_found"})),
        _ => Response::json(405, &json!({"error": "method_not_allowed"})).header("Allow", "GET"),
    }
}

fn is_get(session: &Session) -> bool {
    matches!(session.req_header().method.as_str(), "GET" | "HEAD")
}

/// What the endpoints read of a request head.
struct Head<'a>(&'a pingora::http::RequestHeader);

impl<'a> Head<'a> {
    /// The first value of `name`, if it is text.
    fn text(&self, name: &str) -> Option<&'a str> {
        self.0.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of `name`.
    fn all(&self, name: &str) -> Vec<&'a [u8]> {
        self.0
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.as_bytes())
            .collect()
    }

    /// `Content-Type`.
    fn content_type(&self) -> Option<&'a [u8]> {
        self.0
            .headers
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.as_bytes())
    }

    /// Every `Cookie` value, joined with `; `.
    fn cookies(&self) -> String {
        let all: Vec<&str> = self
            .0
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        all.join("; ")
    }
}

/// The token, revocation and introspection endpoints.
async fn post(
    gw: &Gateway,
    clients: &ClientThrottle,
    session: &mut Session,
    local: Local,
    client: Option<IpAddr>,
) -> Response {
    let body = match read_body(session, gw.config.limits.oauth_body_bytes, OAUTH_BODY_TIME).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let head = Head(session.req_header());
    let authorization = head.all("authorization");
    let oauth_req = OAuthRequest {
        method: head.0.method.as_str(),
        query: head.0.uri.query(),
        authorization: &authorization,
        content_type: head.content_type(),
        body: &body,
        peer: client,
    };
    match local {
        Local::Token => oauth::token::handle(gw, clients, &oauth_req).await,
        Local::Revoke => oauth::about_a_token(gw, clients, Endpoint::Revoke, &oauth_req).await,
        _ => oauth::about_a_token(gw, clients, Endpoint::Introspect, &oauth_req).await,
    }
}

/// Largest body the admin API reads (an icon upload fits).
const API_BODY_BYTES: usize = 2 * 1024 * 1024;
/// How long the body of an OAuth request may take to arrive (at most 64 KiB by default).
const OAUTH_BODY_TIME: Duration = Duration::from_secs(10);
/// How long the body of an admin API request may take to arrive (up to 2 MiB).
const API_BODY_TIME: Duration = Duration::from_secs(60);

async fn api(
    gw: &Gateway,
    features: &Features,
    session: &mut Session,
    client: Option<IpAddr>,
) -> Response {
    let body = match read_body(session, API_BODY_BYTES, API_BODY_TIME).await {
        Ok(b) => b,
        Err(resp) if resp.status == 413 => {
            let msg = "the request body is larger than 2 MiB";
            return Response::json(413, &json!({"error": "too_large", "message": msg}));
        }
        Err(resp) if resp.status == 408 => {
            let msg = "the request body did not arrive in time";
            return Response::json(408, &json!({"error": "timeout", "message": msg}));
        }
        Err(_) => {
            let msg = "the request body could not be read";
            return Response::json(400, &json!({"error": "invalid", "message": msg}));
        }
    };
    let head = Head(session.req_header());
    let cookies = head.cookies();
    let api = crate::admin::ApiRequest {
        method: head.0.method.as_str(),
        route: head.0.uri.path().trim_start_matches("/gateway/api/"),
        cookies: &cookies,
        csrf: head.text("x-csrf-token"),
        if_match: head.text("if-match"),
        content_type: head.content_type(),
        body: &body,
        peer: client,
    };
    crate::admin::handle(gw, &features.admin, &features.login.throttle, &api).await
}

/// The authorization endpoint: its pages (GET) and forms (POST).
async fn authorize(
    gw: &Gateway,
    login: &Login,
    session: &mut Session,
    client: Option<IpAddr>,
) -> Response {
    let body = match read_body(session, gw.config.limits.oauth_body_bytes, OAUTH_BODY_TIME).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let head = Head(session.req_header());
    let cookies = head.cookies();
    let (origin, fetch_site) = (head.all("origin"), head.all("sec-fetch-site"));
    let req = AuthRequest {
        method: head.0.method.as_str(),
        query: head.0.uri.query(),
        content_type: head.content_type(),
        body: &body,
        cookies: &cookies,
        accept_language: head.text("accept-language"),
        peer: client,
        origin: &origin,
        fetch_site: &fetch_site,
    };
    oauth::authorize::handle(gw, login, &req).await
}

/// Reads the whole body, refusing with 413 as soon as it is known to exceed `limit`, and with
/// 408 when it has not fully arrived `within` the given time.
async fn read_body(
    session: &mut Session,
    limit: usize,
    within: Duration,
) -> Result<Bytes, Response> {
    let too_large = || {
        let msg = format!("the request body exceeds {limit} bytes");
        OAuthError::invalid_request(msg).status(413).to_response()
    };
    let declared = declared_length(session);
    if declared.is_some_and(|n| n > limit) {
        // Refused unread. A client still sending a moderate body gets to finish, so it reads
        // the answer instead of a connection reset; nothing of it is kept.
        if declared.is_some_and(|n| n <= DRAIN_BYTES) && !expects_continue(session) {
            drain(session).await;
        }
        return Err(too_large());
    }
    if expects_continue(session) {
        let _ = session.write_continue_response().await;
    }
    // pingora's read timeout applies per read, so a client dripping a byte now and then would
    // hold the connection for as long as it likes: the whole body has one deadline.
    let deadline = tokio::time::Instant::now() + within;
    let mut body = BytesMut::new();
    loop {
        let next = tokio::time::timeout_at(deadline, session.read_request_body()).await;
        match next {
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Ok(None)) => return Ok(body.freeze()),
            Ok(Err(_)) => {
                let e = OAuthError::invalid_request("the request body could not be read");
                return Err(e.to_response());
            }
            Err(_) => {
                let msg = format!(
                    "the request body did not arrive within {} s",
                    within.as_secs()
                );
                return Err(OAuthError::invalid_request(msg).status(408).to_response());
            }
        }
    }
}

/// Most bytes of a refused body read and thrown away (beyond it the connection just closes).
const DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// The request's `Content-Length`, when it has a valid one.
fn declared_length(session: &Session) -> Option<usize> {
    session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

fn expects_continue(session: &Session) -> bool {
    session
        .req_header()
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

async fn drain(session: &mut Session) {
    drain_up_to(session, DRAIN_BYTES, Duration::from_secs(10)).await;
}

/// Most bytes of a refused request's body read so that its connection can stay open.
const REUSE_DRAIN_BYTES: usize = 1024 * 1024;

/// Reads and discards the rest of the body of a request the gateway refuses, when it is small
/// (at most 1 MiB, arriving within 5 s) and the client is not waiting for `100 Continue`, so
/// the refusal keeps the connection alive; otherwise pingora closes it after the answer.
pub async fn drain_for_reuse(session: &mut Session) {
    let declared = declared_length(session);
    if expects_continue(session) || declared.is_some_and(|n| n > REUSE_DRAIN_BYTES) {
        return;
    }
    drain_up_to(session, REUSE_DRAIN_BYTES, Duration::from_secs(5)).await;
}

async fn drain_up_to(session: &mut Session, most: usize, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = 0usize;
    while seen <= most {
        let next = tokio::time::timeout_at(deadline, session.read_request_body()).await;
        match next {
            Ok(Ok(Some(chunk))) => seen += chunk.len(),
            _ => return,
        }
    }
}

/// Writes a response the gateway computed.
pub async fn write(session: &mut Session, resp: Response) -> pingora::Result<()> {
    let mut header =
        pingora::http::ResponseHeader::build(resp.status, Some(resp.headers.len() + 1))?;
    for (name, value) in resp.headers {
        header.append_header(name, value)?;
    }
    header.insert_header(http::header::CONTENT_LENGTH, resp.body.len().to_string())?;
    let head_only = session.req_header().method == http::Method::HEAD || resp.body.is_empty();
    session
        .write_response_header(Box::new(header), head_only)
        .await?;
    if !head_only {
        session.write_response_body(Some(resp.body), true).await?;
    }
    Ok(())
}

/// Liveness: 503 once the token store can no longer make writes durable, so that an
/// orchestrator restarts the gateway (a restart verifies the store and recovers).
fn healthz(gw: &Gateway) -> Response {
    if gw.tokens.store().healthy() {
        Response::json(200, &json!({"status": "ok"}))
    } else {
        Response::json(503, &json!({"status": "store_failed"}))
    }
}
