//! The server-rendered pages of the authorization endpoint: login, consent and error. Plain HTML
//! with no script, every value escaped, framing forbidden, forms posting only to the gateway (and
//! the consent form's redirect to the app's registered origin).

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::i18n::Lang;
use crate::gateway::paths;
use crate::registry::App;
use crate::response::Response;

/// Largest icon file inlined into a page.
const MAX_ICON_BYTES: u64 = 256 * 1024;

/// Hidden fields every form carries: the pending request and its CSRF token.
pub struct FormIds<'a> {
    /// Pending request id.
    pub req: &'a str,
    /// CSRF token.
    pub csrf: &'a str,
}

fn page(lang: Lang, title: &str, body: &str, status: u16, form_origin: Option<&str>) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"{}\"></head>\
         <body><main class=\"card\">{body}</main></body></html>\n",
        lang.code(),
        text(title),
        paths::STYLESHEET,
    );
    let form_action = match form_origin {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_string(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src data:; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    Response::bytes(status, "text/html; charset=utf-8", html)
        .header("Content-Security-Policy", csp)
        .header("X-Frame-Options", "DENY")
        .header("X-Content-Type-Options", "nosniff")
        // Not `no-referrer`: under it browsers send `Origin: null` with the form posts, which
        // the endpoint refuses. `same-origin` still sends nothing to other sites.
        .header("Referrer-Policy", "same-origin")
        .header("Cache-Control", "no-store")
}

fn app_header(app: &App, heading: &str, sub: &str) -> String {
    let icon = app
        .icon
        .as_ref()
        .and_then(|i| i.data_uri(MAX_ICON_BYTES))
        .map(|uri| {
            format!(
                "<img src=\"{}\" alt=\"\" width=\"64\" height=\"64\">",
                attr(&uri)
            )
        })
        .unwrap_or_default();
    format!(
        "<header class=\"app\">{icon}<h1>{}</h1>{sub}</header>",
        text(heading)
    )
}

fn hidden(ids: &FormIds<'_>) -> String {
    format!(
        "<input type=\"hidden\" name=\"req\" value=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        attr(ids.req),
        attr(ids.csrf)
    )
}

/// The login form.
pub fn login(
    lang: Lang,
    app: &App,
    ids: &FormIds<'_>,
    error: Option<&str>,
    status: u16,
) -> Response {
    let t = lang.text();
    let sub = format!(
        "<p class=\"muted\">{} <strong>{}</strong></p>",
        text(&t.sign_in_to),
        text(&app.name)
    );
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", text(e)))
        .unwrap_or_default();
    let body = format!(
        "{}{error}<form method=\"post\" action=\"{}\">{}\
         <label for=\"username\">{}</label><input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">{}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">{}</button></form>",
        app_header(app, &t.sign_in_title, &sub),
        paths::AUTHORIZE,
        hidden(ids),
        text(&t.username),
        text(&t.password),
        text(&t.sign_in),
    );
    page(lang, &t.sign_in_title, &body, status, None)
}

/// What the consent screen shows about the request.
pub struct ConsentView<'a> {
    /// The user deciding.
    pub user: &'a str,
    /// Plain words for the scope.
    pub scope_words: &'a str,
    /// Refresh tokens will be issued.
    pub offline: bool,
    /// Origin of the redirect URI (allowed as a form target).
    pub redirect_origin: &'a str,
}

/// The consent screen: what the app may do, and Allow / Deny.
pub fn consent(lang: Lang, app: &App, ids: &FormIds<'_>, view: &ConsentView<'_>) -> Response {
    let t = lang.text();
    let desc = if app.description.is_empty() {
        String::new()
    } else {
        format!("<p class=\"desc\">{}</p>", text(&app.description))
    };
    let offline = if view.offline {
        format!("<li>{}</li>", text(&t.offline))
    } else {
        String::new()
    };
    let body = format!(
        "{}<p><strong>{}</strong> {}:</p><ul class=\"scopes\"><li>{}</li>{offline}</ul>\
         <p class=\"who\">{} <strong>{}</strong></p>\
         <form method=\"post\" action=\"{}\">{}<div class=\"buttons\">\
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">{}</button>\
         <button type=\"submit\" name=\"decision\" value=\"allow\">{}</button></div></form>",
        app_header(app, &app.name, &desc),
        text(&app.name),
        text(&t.wants_to),
        text(view.scope_words),
        text(&t.signed_in_as),
        text(view.user),
        paths::AUTHORIZE,
        hidden(ids),
        text(&t.deny),
        text(&t.allow),
    );
    page(
        lang,
        &t.consent_title,
        &body,
        200,
        Some(view.redirect_origin),
    )
}

/// An error page, optionally with a link back to the application.
pub fn error(lang: Lang, status: u16, message: &str, back: Option<&str>) -> Response {
    let t = lang.text();
    let link = back
        .map(|href| {
            format!(
                "<p><a href=\"{}\">{}</a></p>",
                attr(href),
                text(&t.back_to_app)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p>{link}",
        text(&t.error_title),
        text(message)
    );
    page(lang, &t.error_title, &body, status, None)
}
