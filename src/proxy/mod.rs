//! The pingora proxy: decides in `request_filter` (framing rules, local endpoint, pass-through,
//! or a typed permit), rewrites headers in `upstream_request_filter` (strip first, then set),
//! bounds the CRM's response head with a [`deadline::HeadDeadline`], cleans what the CRM answers
//! on protected paths, and writes one access log line per call in `logging`.

pub mod answer;
pub mod authorize;
pub mod bearer;
pub mod cors;
pub mod deadline;
pub mod echo;
pub mod features;
pub mod framing;
pub mod headers;
pub mod local;
pub mod ready;
pub mod route;
pub mod sign;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use ipnet::IpNet;
use pingora::http::RequestHeader;
use pingora::prelude::*;
use pingora::protocols::http::ServerSession;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use serde_json::json;

use crate::config::UpstreamAuth;
use crate::gateway::Gateway;
use crate::metrics::ProxyOutcome;
use crate::response::Response;
use authorize::{Permit, Refusal};
use headers::names;
use local::Local;
use route::Route;

/// What `request_filter` decided.
#[derive(Debug, Default)]
pub enum Decision {
    /// Not decided yet.
    #[default]
    Pending,
    /// Answered by the gateway itself.
    Local(Local),
    /// Not protected: forwarded without identity.
    Passthrough,
    /// Protected and allowed.
    Allowed(Box<Permit>),
    /// Refused with a response.
    Refused {
        /// Why.
        reason: &'static str,
        /// Client, if known.
        client_id: Option<String>,
        /// User, if known.
        user: Option<String>,
    },
}

/// Per-request state.
pub struct Ctx {
    start: Instant,
    request_id: String,
    peer: Option<IpAddr>,
    /// The peer, or behind trusted proxies the address they forwarded for.
    client: Option<IpAddr>,
    cors: Option<String>,
    decision: Decision,
    outcome: ProxyOutcome,
    deadline: deadline::HeadDeadline,
    /// An absolute-form target from a trusted proxy, forwarded in origin-form.
    absolute: bool,
    /// Blanks the injected credentials in the CRM's answer.
    redactor: Option<echo::Redactor>,
    /// A CRM answer replaced by a 502.
    unusable: Option<answer::Unusable>,
}

/// The proxy service.
pub struct GatewayProxy {
    gw: Arc<Gateway>,
    features: features::Features,
    peer: HttpPeer,
    trusted: Vec<IpNet>,
    boot: u64,
    counter: AtomicU64,
}

impl GatewayProxy {
    /// The local endpoint as this listener serves it (`server.ops_listen` splits them).
    fn on_this_listener(
        &self,
        session: &Session,
        local: Option<Local>,
    ) -> std::result::Result<Option<Local>, Response> {
        let Some(ops) = self.gw.config.server.ops_listen else {
            return Ok(local);
        };
        let here = session.server_addr().and_then(|a| a.as_inet()).copied();
        let on_ops = here.is_some_and(|h| {
            h.port() == ops.port() && (ops.ip().is_unspecified() || h.ip() == ops.ip())
        });
        local::for_listener(local, on_ops)
    }

    /// Notes the allowed CORS origin of the request; the preflight answer for an OPTIONS.
    fn cors(&self, session: &Session, ctx: &mut Ctx) -> Option<Response> {
        let origin = session.req_header().headers.get(http::header::ORIGIN);
        let origin = origin.and_then(|o| o.to_str().ok());
        ctx.cors = cors::allowed(&self.gw.directory.registry(), origin).map(str::to_string);
        (session.req_header().method == http::Method::OPTIONS)
            .then(|| cors::preflight(ctx.cors.as_deref()))
    }

    /// A proxy forwarding to `peer`.
    pub fn new(gw: Arc<Gateway>, peer: HttpPeer) -> Self {
        let trusted = gw.config.server.trusted_proxies.clone();
        Self {
            features: features::Features::new(&gw.config, &gw.keys, &gw.ephemeral),
            gw,
            peer,
            trusted,
            boot: rand::random::<u64>(),
            counter: AtomicU64::new(0),
        }
    }

    fn is_trusted(&self, peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|ip| self.trusted.iter().any(|net| net.contains(&ip)))
    }

    async fn respond(&self, session: &mut Session, resp: Response) -> Result<bool> {
        local::write(session, resp).await?;
        Ok(true)
    }

    async fn refuse(&self, session: &mut Session, ctx: &mut Ctx, refusal: Refusal) -> Result<bool> {
        ctx.outcome = refusal.outcome;
        ctx.decision = Decision::Refused {
            reason: refusal.reason,
            client_id: refusal.client_id,
            user: refusal.user,
        };
        let resp = cors::decorate(refusal.response, ctx.cors.as_deref());
        // A refusal keeps the connection open: the unread rest of a small body is read first.
        local::drain_for_reuse(session).await;
        self.respond(session, resp).await
    }
}

/// A refusal for a request head the gateway does not read any further: a bare LF as a line end
/// (400) or too many or too large header fields (431).
fn head_refusal(session: &Session) -> Option<Refusal> {
    let bare_lf = match session.as_downstream() {
        ServerSession::H1(h1) => headers::has_bare_lf(&h1.get_headers_raw_bytes()),
        _ => false,
    };
    let (status, description, reason) = if bare_lf {
        (400, "header lines must end with CRLF", "bare LF")
    } else if headers::too_large(session.req_header()) {
        (
            431,
            "the request header fields are too large",
            "oversized head",
        )
    } else {
        return None;
    };
    let error = crate::oauth::error::ErrorCode::InvalidRequest.as_str();
    let body = json!({"error": error, "error_description": description});
    Some(Refusal {
        response: Response::json(status, &body).no_store(),
        outcome: ProxyOutcome::BadRequest,
        reason,
        client_id: None,
        user: None,
    })
}

#[async_trait]
impl ProxyHttp for GatewayProxy {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        Ctx {
            start: Instant::now(),
            request_id: format!("{:016x}{n:08x}", self.boot),
            peer: None,
            client: None,
            cors: None,
            decision: Decision::Pending,
            outcome: ProxyOutcome::Passthrough,
            deadline: deadline::HeadDeadline::default(),
            absolute: false,
            redactor: None,
            unusable: None,
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        ctx.peer = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        ctx.client = headers::client_address(session.req_header(), ctx.peer, &self.trusted);
        if let Some(refusal) = head_refusal(session) {
            return self.refuse(session, ctx, refusal).await;
        }
        match framing::check(session.req_header(), self.is_trusted(ctx.peer)) {
            Ok(target) => ctx.absolute = target == framing::Target::Absolute,
            Err(problem) => return self.refuse(session, ctx, problem.into()).await,
        }
        let path = session.req_header().uri.path().to_string();
        let prefix = &self.gw.config.proxy.protected_prefix;
        let route = route::route(&path, prefix);
        let local = match self.on_this_listener(session, local::route(&path)) {
            Ok(local) => local,
            Err(not_here) => {
                ctx.decision = Decision::Local(Local::NotFound);
                return self.respond(session, not_here).await;
            }
        };
        let cors_path = matches!(local, Some(Local::Token | Local::Revoke))
            || !matches!(route, Route::Unprotected);
        if cors_path && let Some(preflight) = self.cors(session, ctx) {
            ctx.decision = Decision::Local(Local::Preflight);
            return self.respond(session, preflight).await;
        }
        if let Some(endpoint) = local {
            ctx.decision = Decision::Local(endpoint);
            let resp = local::serve(&self.gw, &self.features, session, endpoint, ctx.client).await;
            return self
                .respond(session, cors::decorate(resp, ctx.cors.as_deref()))
                .await;
        }
        let decided = match route {
            Route::Unprotected => {
                if !self.gw.config.proxy.allow_legacy_webservice && route::is_legacy_api(&path) {
                    return self.refuse(session, ctx, authorize::legacy_api()).await;
                }
                ctx.decision = Decision::Passthrough;
                return Ok(false);
            }
            Route::NonCanonical => Err(Box::new(authorize::non_canonical())),
            Route::Protected { op } => match framing::check_protected(session.req_header()) {
                Err(problem) => Err(Box::new(problem.into())),
                Ok(()) => authorize::authorize(&self.gw, session.req_header(), op).await,
            },
        };
        match decided {
            Ok(permit) => {
                ctx.outcome = ProxyOutcome::Allowed;
                ctx.decision = Decision::Allowed(Box::new(permit));
                Ok(false)
            }
            Err(refusal) => self.refuse(session, ctx, *refusal).await,
        }
    }

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        Ok(Box::new(self.peer.clone()))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let trusted = self.is_trusted(ctx.peer);
        if ctx.absolute {
            let origin_form = req.uri.path_and_query().cloned();
            req.set_uri(http::Uri::from(
                origin_form.unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
            ));
        }
        let permit = match &ctx.decision {
            Decision::Allowed(p) => Some(p.as_ref()),
            _ => None,
        };
        headers::strip(req, permit.is_some(), trusted);
        let peer = ctx.peer.map(|ip| ip.to_string());
        headers::set_forwarded_for(req, peer.as_deref(), trusted);
        headers::set(req, names::REQUEST_ID, &ctx.request_id);
        let (user, client_id, scope) = match permit {
            Some(p) => (
                p.grant.user.username.as_str(),
                p.grant.app.client_id.as_str(),
                p.grant.scope.as_str(),
            ),
            None => ("", "", ""),
        };
        if let Some(p) = permit {
            headers::set(req, names::USER, user);
            headers::set(req, names::CLIENT_ID, client_id);
            headers::set(req, names::SCOPE, scope);
            let key = p.grant.user.crm_access_key.as_deref();
            if let (UpstreamAuth::Basic, Some(key)) = (self.gw.config.upstream.auth, key) {
                headers::set(req, "Authorization", &crate::users::basic_header(user, key));
                ctx.redactor = Some(echo::Redactor::new(echo::Secrets::basic(user, key)));
            }
        }
        if let Some(secret) = &self.gw.config.upstream.signing_secret {
            let timestamp = self.gw.clock.now();
            let path_and_query = req
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string();
            let fields = sign::Signed {
                timestamp,
                method: req.method.as_str(),
                path_and_query: &path_and_query,
                user,
                client_id,
                scope,
            };
            let signature = sign::signature(secret, &fields);
            headers::set(req, names::TIMESTAMP, &timestamp.to_string());
            headers::set(req, names::SIGNATURE, &signature);
        }
        Ok(())
    }

    async fn connected_to_upstream(
        &self,
        _session: &mut Session,
        _reused: bool,
        peer: &HttpPeer,
        #[cfg(unix)] fd: std::os::unix::io::RawFd,
        #[cfg(windows)] _sock: std::os::windows::io::RawSocket,
        _digest: Option<&pingora::protocols::Digest>,
        ctx: &mut Ctx,
    ) -> Result<()> {
        // HTTP/1 (what the gateway asks the CRM for) has one call per connection at a time; an
        // h2 connection is shared by streams and is never shut down for one of them.
        #[cfg(unix)]
        if peer.options.alpn.get_max_http_version() == 1 {
            ctx.deadline.connected(fd);
        }
        Ok(())
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        _body: &mut Option<bytes::Bytes>,
        end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> Result<()> {
        if end_of_stream {
            ctx.deadline.arm(self.gw.config.upstream.read_timeout);
        }
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        resp: &mut pingora::http::ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        // Interim answers (100, 103) do not count; a final one or 101 Switching Protocols does.
        if !resp.status.is_informational() || resp.status == http::StatusCode::SWITCHING_PROTOCOLS {
            ctx.deadline.disarm();
        }
        if let Decision::Allowed(permit) = &ctx.decision
            && let Some(unusable) = answer::Unusable::of(resp.status)
        {
            tracing::warn!(
                user = %permit.grant.user.username,
                client_id = %permit.grant.app.client_id,
                status = resp.status.as_u16(),
                "{}", unusable.reason()
            );
            ctx.unusable = Some(unusable);
            return Error::e_explain(ErrorType::HTTPStatus(502), unusable.reason());
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut pingora::http::ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        answer::as_http11(resp, session.req_header().version);
        if matches!(ctx.decision, Decision::Allowed(_)) {
            let none = echo::Secrets::default();
            let secrets = ctx.redactor.as_ref().map_or(&none, |r| r.secrets());
            answer::clean_protected(resp, secrets);
        }
        if let Some(origin) = &ctx.cors {
            cors::decorate_upstream(resp, origin);
        }
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<bytes::Bytes>,
        end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> Result<Option<std::time::Duration>> {
        if let Some(redactor) = ctx.redactor.as_mut() {
            let seen = redactor.blanked;
            *body = redactor.filter(body.take(), end_of_stream);
            if redactor.blanked && !seen {
                tracing::warn!(request_id = %ctx.request_id, "the CRM's answer repeated the injected credentials: blanked");
            }
        }
        Ok(None)
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
        ctx.outcome = ProxyOutcome::Error;
        let timeout = matches!(
            e.etype(),
            ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout
        );
        if let Some(unusable) = ctx.unusable {
            let body = json!({"error": "bad_gateway", "error_description": unusable.description()});
            let _ = local::write(session, Response::json(502, &body)).await;
            return FailToProxy {
                error_code: 502,
                can_reuse_downstream: false,
            };
        }
        let (code, error) = match e.esource() {
            _ if ctx.deadline.fired() => (504, "gateway_timeout"),
            ErrorSource::Upstream if timeout => (504, "gateway_timeout"),
            ErrorSource::Upstream => (502, "bad_gateway"),
            ErrorSource::Downstream => (400, "bad_request"),
            _ => (502, "bad_gateway"),
        };
        let description = if code == 400 {
            "the request could not be forwarded"
        } else {
            "the CRM could not be reached"
        };
        let body = json!({"error": error, "error_description": description});
        let _ = local::write(session, Response::json(code, &body)).await;
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    fn request_summary(&self, session: &Session, _ctx: &Ctx) -> String {
        let req = session.req_header();
        format!("{} {}", req.method, req.uri.path())
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Ctx) {
        if matches!(ctx.decision, Decision::Local(_)) {
            return;
        }
        self.gw.metrics.proxied(ctx.outcome);
        if !self.gw.config.logging.access_log {
            return;
        }
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let (client_id, user, op, decision) = match &ctx.decision {
            Decision::Allowed(p) => (
                p.grant.app.client_id.as_str(),
                p.grant.user.username.as_str(),
                p.op.as_str(),
                ctx.unusable.map_or("allowed", answer::Unusable::reason),
            ),
            Decision::Refused {
                reason,
                client_id,
                user,
            } => (
                client_id.as_deref().unwrap_or(""),
                user.as_deref().unwrap_or(""),
                "",
                *reason,
            ),
            _ => ("", "", "", "passthrough"),
        };
        tracing::info!(
            target: "crmgate::access",
            request_id = %ctx.request_id,
            method = %session.req_header().method,
            path = session.req_header().uri.path(),
            client_id,
            user,
            op,
            decision,
            status,
            latency_us = ctx.start.elapsed().as_micros() as u64,
        );
    }
}
