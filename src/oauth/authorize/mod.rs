//! The authorization endpoint (RFC 6749 §3.1, §4.1): `GET` validates the request and shows the
//! login form or, with a session, the consent screen; `POST` takes the login form or the
//! decision. Allow issues a code and redirects (303) to the app with `code` and `state`. Every
//! pending request belongs to the browser that started it and, once someone signs in, to that
//! session ([`binding`]): a post from another browser, session or site changes nothing.

pub mod binding;
pub mod i18n;
pub mod pages;
pub mod params;

use std::net::IpAddr;
use std::sync::Arc;

use i18n::Lang;
use pages::{ConsentView, FormIds};
use params::Invalid;

use crate::access::{self, Denied};
use crate::gateway::Gateway;
use crate::login::Login;
use crate::login::sessions::{Pending, random_id, same_secret};
use crate::login::throttle::Refused;
use crate::oauth::form::{self, Form};
use crate::registry::App;
use crate::response::Response;
use crate::store::StoreError;
use crate::token::codes::CodeRecord;
use crate::token::record::new_family;

/// The parts of a request the authorization endpoint looks at.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    /// Method.
    pub method: &'a str,
    /// Raw query string.
    pub query: Option<&'a str>,
    /// `Content-Type` value.
    pub content_type: Option<&'a [u8]>,
    /// Body.
    pub body: &'a [u8],
    /// Every `Cookie` header value, joined with `; `.
    pub cookies: &'a str,
    /// `Accept-Language` value.
    pub accept_language: Option<&'a str>,
    /// The client's address.
    pub peer: Option<IpAddr>,
    /// Every `Origin` header value.
    pub origin: &'a [&'a [u8]],
    /// Every `Sec-Fetch-Site` header value.
    pub fetch_site: &'a [&'a [u8]],
}

/// Handles the authorization endpoint.
/// `login` is the login pages' state: sessions, pending requests and the password throttle.
pub async fn handle(gw: &Gateway, login: &Login, req: &AuthRequest<'_>) -> Response {
    let lang = Lang::negotiate(req.accept_language);
    let t = lang.text();
    match req.method {
        "GET" | "HEAD" => match form::parse(req.query.unwrap_or_default().as_bytes()) {
            Ok(f) => start(gw, login, req, lang, &f).await,
            Err(_) => pages::error(lang, 400, &t.bad_request, None),
        },
        "POST" => {
            if !binding::same_origin_post(req, &binding::own_origin(&gw.endpoints.issuer)) {
                tracing::warn!("authorization form posted from another site refused");
                return pages::error(lang, 403, &t.cross_site, None);
            }
            let parsed = req
                .content_type
                .filter(|c| form::is_form_content_type(c))
                .and_then(|_| form::parse(req.body).ok());
            match parsed {
                Some(f) => submit(gw, login, req, lang, &f).await,
                None => pages::error(lang, 400, &t.bad_request, None),
            }
        }
        _ => pages::error(lang, 405, &t.bad_request, None).header("Allow", "GET, POST"),
    }
}

fn invalid(gw: &Gateway, lang: Lang, e: Invalid) -> Response {
    match e {
        Invalid::Page { status, message } => pages::error(lang, status, message, None),
        Invalid::Redirect {
            redirect_uri,
            error,
            description,
            state,
        } => {
            let mut p = vec![("error", error), ("error_description", description)];
            if let Some(s) = &state {
                p.push(("state", s));
            }
            let to = params::redirect_with(&redirect_uri, &gw.endpoints.issuer, &p);
            Response::empty(302)
                .header("Location", to)
                .header("Cache-Control", "no-store")
        }
    }
}

async fn start(
    gw: &Gateway,
    login: &Login,
    req: &AuthRequest<'_>,
    lang: Lang,
    form: &Form,
) -> Response {
    let reg = gw.directory.registry_full();
    let (app, redirect_uri) = match params::client_and_redirect(&reg, form, lang.text()) {
        Ok(x) => x,
        Err(e) => return invalid(gw, lang, e),
    };
    let browser = binding::existing_browser(req).unwrap_or_else(random_id);
    let bound_to = login.state.digest(&browser);
    let pending = match params::validate(&app, redirect_uri, form, bound_to) {
        Ok(p) => p,
        Err(e) => return invalid(gw, lang, e),
    };
    let page = match shown(gw, login, req, lang, &app, &pending).await {
        Ok(page) => page,
        Err(e) => return unavailable(lang, &e),
    };
    page.header("Set-Cookie", login.browser_cookie(&browser))
}

/// The login form or, for a browser already signed in, the consent screen of a new request.
async fn shown(
    gw: &Gateway,
    login: &Login,
    req: &AuthRequest<'_>,
    lang: Lang,
    app: &App,
    pending: &Pending,
) -> Result<Response, StoreError> {
    let id = login.state.remember(pending).await?;
    let ids = FormIds {
        req: &id,
        csrf: &pending.csrf,
    };
    Ok(
        match login.state.signed_in(binding::session_cookies(req)).await? {
            Some((session, user)) => {
                login.state.bind_session(&id, session).await?;
                consent_or_refusal(gw, lang, app, &ids, pending, &user)
            }
            None => pages::login(lang, app, &ids, None, 200),
        },
    )
}

/// The 503 page for a store that cannot be reached.
fn unavailable(lang: Lang, e: &StoreError) -> Response {
    tracing::error!(error = %e, "the login state cannot be read or written");
    pages::error(lang, 503, &lang.text().server_error, None).header("Retry-After", "1")
}

/// The pending request a form names, once its CSRF token and browser are checked, with its app.
async fn checked<'f>(
    gw: &Gateway,
    login: &Login,
    req: &AuthRequest<'_>,
    lang: Lang,
    form: &'f Form,
) -> Result<(FormIds<'f>, Arc<Pending>, Arc<App>), Response> {
    let t = lang.text();
    let Some(id) = form.get("req") else {
        return Err(pages::error(lang, 400, &t.bad_request, None));
    };
    let Some(csrf) = form.get("csrf") else {
        return Err(pages::error(lang, 403, &t.forbidden, None));
    };
    let pending = match login.state.pending(id).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(pages::error(lang, 400, &t.expired, None)),
        Err(e) => return Err(unavailable(lang, &e)),
    };
    if !same_secret(csrf, &pending.csrf) {
        return Err(pages::error(lang, 403, &t.forbidden, None));
    }
    if !login
        .state
        .same_browser(&pending, binding::browser_cookies(req))
    {
        tracing::warn!(client_id = %pending.client_id, "authorization form posted from another browser refused");
        return Err(pages::error(lang, 403, &t.other_browser, None));
    }
    let reg = gw.directory.registry_full();
    match reg.app(&pending.client_id) {
        Some(app) if app.enabled && reg.settings.oauth_enabled => {
            Ok((FormIds { req: id, csrf }, pending, app.clone()))
        }
        Some(_) => Err(pages::error(lang, 403, &t.app_disabled, None)),
        None => Err(pages::error(lang, 400, &t.unknown_app, None)),
    }
}

async fn submit(
    gw: &Gateway,
    login: &Login,
    req: &AuthRequest<'_>,
    lang: Lang,
    form: &Form,
) -> Response {
    let (ids, pending, app) = match checked(gw, login, req, lang, form).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    if let Some(username) = form.get("username") {
        let password = form.get("password");
        return sign_in(
            gw, login, req, lang, &app, &ids, &pending, username, password,
        )
        .await;
    }
    // Only the session that signed in through this request (or that it was shown to) decides.
    let user = match login
        .state
        .bound_user(ids.req, binding::session_cookies(req))
        .await
    {
        Ok(Some(user)) => user,
        Ok(None) => return pages::login(lang, &app, &ids, None, 401),
        Err(e) => return unavailable(lang, &e),
    };
    match form.get("decision") {
        Some("allow") => allow(gw, login, lang, &app, ids.req, &pending, &user).await,
        Some("deny") => match login.state.finish(ids.req).await {
            Ok(()) => deny_redirect(gw, &pending),
            Err(e) => unavailable(lang, &e),
        },
        _ => pages::error(lang, 400, &lang.text().bad_request, None),
    }
}

#[allow(clippy::too_many_arguments)]
async fn sign_in(
    gw: &Gateway,
    login: &Login,
    req: &AuthRequest<'_>,
    lang: Lang,
    app: &App,
    ids: &FormIds<'_>,
    pending: &Pending,
    username: &str,
    password: Option<&str>,
) -> Response {
    let t = lang.text();
    match login.throttle.check(username, req.peer).await {
        Ok(()) => {}
        Err(Refused::Wait(wait)) => {
            tracing::warn!(user = username, "login throttled");
            return pages::login(lang, app, ids, Some(&t.throttled), 429)
                .header("Retry-After", wait.to_string());
        }
        Err(Refused::Unavailable(e)) => return unavailable(lang, &e),
    }
    let password = password.unwrap_or_default();
    let ok = match gw
        .identity
        .check_password(username, password, req.peer)
        .await
    {
        Ok(ok) => ok,
        Err(e) => {
            tracing::error!(error = %e, "the CRM could not check a password");
            return pages::error(lang, 503, &t.server_error, None);
        }
    };
    if !ok {
        login.throttle.failed(username, req.peer).await;
        tracing::info!(user = username, "login failed");
        return pages::login(lang, app, ids, Some(&t.bad_login), 401);
    }
    login.throttle.succeeded(username).await;
    let session = match login.state.login(username).await {
        Ok(s) => s,
        Err(e) => return unavailable(lang, &e),
    };
    if let Err(e) = login.state.bind_session(ids.req, &session).await {
        return unavailable(lang, &e);
    }
    tracing::info!(user = username, client_id = %app.client_id, "user logged in");
    consent_or_refusal(gw, lang, app, ids, pending, username)
        .header("Set-Cookie", login.cookie(&session))
}

fn consent_or_refusal(
    gw: &Gateway,
    lang: Lang,
    app: &App,
    ids: &FormIds<'_>,
    pending: &Pending,
    user: &str,
) -> Response {
    if let Err(d) = allowed(gw, app, user) {
        return refusal(gw, lang, pending, d);
    }
    let t = lang.text();
    let view = ConsentView {
        user,
        scope_words: t.scope_words(pending.scope),
        offline: app.offline_access,
        redirect_origin: &params::origin(&pending.redirect_uri),
    };
    pages::consent(lang, app, ids, &view)
}

fn allowed(gw: &Gateway, app: &App, user: &str) -> Result<Arc<crate::users::User>, Denied> {
    let reg = gw.directory.registry();
    let who = gw.identity.user_named(user).ok_or(Denied::UnknownUser)?;
    access::user_allowed(app, &who, &reg, true).map(|()| who)
}

fn refusal(gw: &Gateway, lang: Lang, pending: &Pending, d: Denied) -> Response {
    let t = lang.text();
    let message = match d {
        Denied::AdminUser => &t.admin_refused,
        _ => &t.not_authorized,
    };
    let back = deny_location(gw, pending);
    pages::error(lang, 403, message, Some(&back))
}

fn deny_location(gw: &Gateway, pending: &Pending) -> String {
    let mut p = vec![
        ("error", "access_denied"),
        ("error_description", "the user denied access"),
    ];
    if let Some(s) = &pending.state {
        p.push(("state", s));
    }
    params::redirect_with(&pending.redirect_uri, &gw.endpoints.issuer, &p)
}

fn deny_redirect(gw: &Gateway, pending: &Pending) -> Response {
    Response::empty(303)
        .header("Location", deny_location(gw, pending))
        .header("Cache-Control", "no-store")
}

async fn allow(
    gw: &Gateway,
    login: &Login,
    lang: Lang,
    app: &App,
    id: &str,
    pending: &Pending,
    user: &str,
) -> Response {
    let who = match allowed(gw, app, user) {
        Ok(who) => who,
        Err(d) => return refusal(gw, lang, pending, d),
    };
    let now = gw.clock.now();
    let code = CodeRecord {
        client_id: app.client_id.clone(),
        user: user.to_string(),
        scope: pending.scope,
        redirect_uri: pending.redirect_given.then(|| pending.redirect_uri.clone()),
        challenge: pending.challenge.clone(),
        family: new_family(),
        offline: app.offline_access,
        expires_at: now + gw.config.tokens.authorization_code_ttl,
        used: false,
        profile: gw.identity.snapshot(&who),
    };
    let code = match gw.tokens.issue_code(&code).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot store an authorization code");
            return pages::error(lang, 503, &lang.text().server_error, None);
        }
    };
    if let Err(e) = login.state.finish(id).await {
        return unavailable(lang, &e);
    }
    tracing::info!(%user, client_id = %app.client_id, "authorization granted");
    let mut p = vec![("code", code.as_str())];
    if let Some(s) = &pending.state {
        p.push(("state", s));
    }
    let to = params::redirect_with(&pending.redirect_uri, &gw.endpoints.issuer, &p);
    Response::empty(303)
        .header("Location", to)
        .header("Cache-Control", "no-store")
}
