//! The static files of the admin and account pages, built into the binary from `admin-assets/`
//! and served with a strict Content-Security-Policy (scripts and styles from the gateway only).

use rust_embed::RustEmbed;

use crate::response::Response;

#[derive(RustEmbed)]
#[folder = "admin-assets/"]
struct Assets;

/// The policy of the pages: nothing but the gateway's own files and API.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The file `name` (relative to `admin-assets/`), or 404.
pub fn file(name: &str) -> Response {
    match Assets::get(name) {
        Some(f) if !name.ends_with(".md") => {
            Response::bytes(200, content_type(name), f.data.into_owned())
                .header("Content-Security-Policy", PAGE_CSP)
                .header("X-Content-Type-Options", "nosniff")
                .header("X-Frame-Options", "DENY")
                .header("Referrer-Policy", "no-referrer")
                .header("Cache-Control", "no-cache")
        }
        _ => Response::json(404, &serde_json::json!({"error": "not_found"})),
    }
}

/// The stylesheet of the login and consent pages.
pub fn stylesheet() -> Response {
    file("style.css")
}
