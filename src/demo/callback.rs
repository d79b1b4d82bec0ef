//! The demo apps' redirect target, served by the demo CRM at `/__demo/callback/<app>`: it shows
//! the code (or error) the gateway sent and the exact command that trades the code for tokens.

use html_escape::encode_text as text;

/// The HTML page for a callback request with `query`, given the app's exchange command
/// template (`{code}` is replaced by the received code).
pub fn page(template: Option<&str>, query: &str) -> String {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let body = match (get("code"), get("error")) {
        (Some(code), _) => {
            let command = template
                .map(|t| t.replace("{code}", code))
                .unwrap_or_default();
            format!(
                "<h1>Authorization received</h1><p>code: <code>{}</code><br>state: <code>{}</code></p>\
                 <p>Trade the code for tokens within a minute:</p><pre>{}</pre>",
                text(code),
                text(get("state").unwrap_or_default()),
                text(&command)
            )
        }
        (None, Some(error)) => format!(
            "<h1>Authorization refused</h1><p>error: <code>{}</code></p>",
            text(error)
        ),
        (None, None) => "<h1>Nothing received</h1>".to_string(),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Demo app</title>\
         <style>body{{font-family:system-ui;margin:2rem;max-width:60rem}}pre{{white-space:pre-wrap;\
         background:#f3f5f8;padding:1rem}}</style></head><body>{body}</body></html>"
    )
}
