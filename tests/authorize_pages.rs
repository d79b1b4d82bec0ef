//! The login and consent pages: framing and cookie protections, the CSRF check and the session
//! requirement of the consent form, and what the consent page tells the user (in English and
//! Italian, with the app's icon).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::browser::*;
use common::*;
use reqwest::blocking::Response;
use reqwest::header::HeaderMap;

/// A response with its headers.
struct Got {
    headers: HeaderMap,
    page: Page,
}

fn got(r: Response) -> Got {
    let headers = r.headers().clone();
    let location = headers
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let status = r.status().as_u16();
    Got {
        headers,
        page: Page {
            status,
            location,
            body: r.text().unwrap(),
        },
    }
}

/// The login page and the consent page `user` gets after logging in, with their headers, asking
/// in `lang` if given.
fn login_and_consent(h: &Harness, url: &str, user: &str, lang: Option<&str>) -> (Got, Got) {
    let browser = Browser::new(h);
    let http = browser.http();
    let with_lang = |rb: reqwest::blocking::RequestBuilder| match lang {
        Some(l) => rb.header("Accept-Language", l),
        None => rb,
    };
    let login = got(browser.send(with_lang(http.get(url))));
    assert_eq!(login.page.status, 200, "{}", login.page.body);
    let password = format!("{user}-pw");
    let form = [
        ("req", login.page.hidden("req")),
        ("csrf", login.page.hidden("csrf")),
        ("username", user.to_string()),
        ("password", password),
    ];
    let rb = http.post(h.url("/oauth2/v2.0/auth.php")).form(&form);
    let consent = got(browser.send(with_lang(rb)));
    assert_eq!(consent.page.status, 200, "{}", consent.page.body);
    (login, consent)
}

fn header<'a>(g: &'a Got, name: &str) -> &'a str {
    g.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn assert_no_framing(g: &Got, what: &str) {
    assert_eq!(header(g, "x-frame-options"), "DENY", "{what}");
    let csp = header(g, "content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
}

#[test]
fn login_and_consent_pages_forbid_framing() {
    let h = Harness::start(&web_apps());
    let url = authorize_url(&h, WEB, WEB_CB, "st", None);
    let (login, consent) = login_and_consent(&h, &url, "aldo", None);
    assert!(
        login.page.body.contains("name=\"username\""),
        "{}",
        login.page.body
    );
    assert_no_framing(&login, "login page");
    assert!(
        consent.page.body.contains("name=\"decision\""),
        "{}",
        consent.page.body
    );
    assert_no_framing(&consent, "consent page");
    let error = got(h
        .http
        .get(authorize_url(&h, "vte_nope", WEB_CB, "st", None))
        .send()
        .unwrap());
    assert_eq!(error.page.status, 400);
    assert_no_framing(&error, "error page");
}

#[test]
fn the_session_cookie_is_http_only_lax_and_scoped_to_oauth2() {
    let h = Harness::start(&web_apps());
    let url = authorize_url(&h, WEB, WEB_CB, "st", None);
    let (login, consent) = login_and_consent(&h, &url, "aldo", None);
    let sessions_before = login
        .headers
        .get_all("set-cookie")
        .iter()
        .filter(|c| c.to_str().unwrap().starts_with("crmgate_session="))
        .count();
    assert_eq!(sessions_before, 0, "no session before logging in");
    let cookie = header(&consent, "set-cookie");
    let parts: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(parts[0].starts_with("crmgate_session="), "{cookie}");
    assert!(parts[0].len() > "crmgate_session=".len() + 20, "{cookie}");
    assert!(parts.contains(&"Path=/oauth2/"), "{cookie}");
    assert!(parts.contains(&"HttpOnly"), "{cookie}");
    assert!(parts.contains(&"SameSite=Lax"), "{cookie}");
}

#[test]
fn a_consent_post_with_a_wrong_csrf_is_403_and_gives_no_code() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let page = browser.get(&authorize_url(&h, WEB, WEB_CB, "st", None));
    let consent = browser.login(&page, "aldo", "aldo-pw");
    // Another request's valid token is no good either.
    let other = browser.get(&authorize_url(&h, WEB, WEB_CB, "other", None));
    let req = consent.hidden("req");
    let wrong = format!("{}x", consent.hidden("csrf"));
    for csrf in [wrong.as_str(), "x", &other.hidden("csrf")] {
        let refused = browser.post(&[("req", &req), ("csrf", csrf), ("decision", "allow")]);
        assert_eq!(refused.status, 403, "{csrf}: {}", refused.body);
        assert!(refused.location.is_empty(), "{}", refused.location);
        assert!(!refused.body.contains("code="), "{}", refused.body);
    }
    // The right one still works.
    let done = browser.decide(&consent, "allow");
    assert_eq!(done.status, 303);
    code_and_state(&done.location, WEB_CB);
}

#[test]
fn a_consent_post_with_a_missing_csrf_is_403_and_gives_no_code() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let page = browser.get(&authorize_url(&h, WEB, WEB_CB, "st", None));
    let consent = browser.login(&page, "aldo", "aldo-pw");
    let req = consent.hidden("req");
    let forms: [&[(&str, &str)]; 2] = [
        &[("req", &req), ("decision", "allow")],
        &[("req", &req), ("csrf", ""), ("decision", "allow")],
    ];
    for form in forms {
        let refused = browser.post(form);
        assert!(refused.location.is_empty(), "{}", refused.location);
        assert_eq!(refused.status, 403, "{form:?}: {}", refused.body);
    }
}

#[test]
fn a_consent_post_without_the_session_cookie_gets_the_login_page_not_a_code() {
    let h = Harness::start(&web_apps());
    let browser = Browser::new(&h);
    let page = browser.get(&authorize_url(&h, WEB, WEB_CB, "st", None));
    let consent = browser.login(&page, "aldo", "aldo-pw");
    // The same browser (its pre-login cookie kept), the session cookie gone.
    browser.set_cookie("crmgate_session", None);
    let answer = browser.decide(&consent, "allow");
    assert_eq!(answer.status, 401, "{}", answer.body);
    answer.assert_sign_in_again();
}

/// A web app with a name and description that need escaping.
fn described_apps() -> String {
    let app = web_app(
        "vte_acme",
        "acme-secret",
        "rest.all.read",
        "https://acme.example/cb",
        false,
    )
    .replace("name = \"Portal vte_acme\"", "name = \"Acme <CRM> & Co\"")
    .replace("Customer portal", "Syncs invoices & contacts <nightly>");
    format!("{}{app}", web_apps())
}

#[test]
fn the_consent_page_shows_the_apps_name_description_and_scope_in_words() {
    let h = Harness::start(&described_apps());
    let browser = Browser::new(&h);
    let url = authorize_url(&h, "vte_acme", "https://acme.example/cb", "st", None);
    let page = browser.get(&url);
    let consent = browser.login(&page, "aldo", "aldo-pw");
    let body = &consent.body;
    assert!(body.contains("Acme &lt;CRM&gt; &amp; Co"), "{body}");
    assert!(
        body.contains("Syncs invoices &amp; contacts &lt;nightly&gt;"),
        "{body}"
    );
    assert!(
        !body.contains("<CRM>") && !body.contains("<nightly>"),
        "{body}"
    );
    assert!(body.contains("read your CRM data"), "{body}");
    assert!(!body.contains("read and change your CRM data"), "{body}");
    // The read-only web app and the read-write native app.
    let consent = browser.get(&authorize_url(&h, WEB, WEB_CB, "st", None));
    assert!(
        consent.body.contains("Portal vte_a1a1a1a1a1a1a1a1a1a1"),
        "{}",
        consent.body
    );
    assert!(consent.body.contains("Customer portal"), "{}", consent.body);
    assert!(
        consent.body.contains("read your CRM data"),
        "{}",
        consent.body
    );
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let consent = browser.get(&authorize_url(&h, NATIVE, NATIVE_CB, "st", Some(challenge)));
    assert!(
        consent.body.contains("Mobile vte_b2b2b2b2b2b2b2b2b2b2"),
        "{}",
        consent.body
    );
    assert!(
        consent.body.contains("read and change your CRM data"),
        "{}",
        consent.body
    );
}

#[test]
fn the_consent_page_is_in_italian_with_accept_language_it() {
    let h = Harness::start(&web_apps());
    let url = authorize_url(&h, WEB, WEB_CB, "st", None);
    let (login, consent) = login_and_consent(&h, &url, "bruna", Some("it"));
    assert!(
        login.page.body.contains("<html lang=\"it\">"),
        "{}",
        login.page.body
    );
    assert!(login.page.body.contains("Accedi"), "{}", login.page.body);
    let body = &consent.page.body;
    assert!(body.contains("leggere i tuoi dati del CRM"), "{body}");
    assert!(body.contains("Consenti") && body.contains("Nega"), "{body}");
    assert!(!body.contains("read your CRM data"), "{body}");
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let url = authorize_url(&h, NATIVE, NATIVE_CB, "st", Some(challenge));
    let (_, consent) = login_and_consent(&h, &url, "bruna", Some("it-IT,it;q=0.9,en;q=0.8"));
    assert!(
        consent
            .page
            .body
            .contains("leggere e modificare i tuoi dati del CRM")
    );
}

/// A valid 1x1 PNG.
const PNG: [u8; 70] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x64, 0x60, 0xf8, 0x5f,
    0x0f, 0x00, 0x02, 0x87, 0x01, 0x80, 0xeb, 0x47, 0xba, 0x92, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[test]
fn the_consent_page_embeds_the_apps_icon() {
    let with_icon = web_app(WEB, WEB_SECRET, "rest.all.read", WEB_CB, true)
        .replace("client_type", "icon = \"icons/icon.png\"\nclient_type");
    let h = Harness::start(&format!("{}{with_icon}", settings(true, false)));
    std::fs::create_dir_all(h.path("icons")).unwrap();
    std::fs::write(h.path("icons/icon.png"), PNG).unwrap();
    let browser = Browser::new(&h);
    let page = browser.get(&authorize_url(&h, WEB, WEB_CB, "st", None));
    let consent = browser.login(&page, "aldo", "aldo-pw");
    assert_eq!(consent.status, 200, "{}", consent.body);
    let uri = format!("data:image/png;base64,{}", STANDARD.encode(PNG));
    assert!(
        consent.body.contains(&format!("<img src=\"{uri}\"")),
        "{}",
        consent.body
    );
}
