//! Login CSRF and forced consent: a pending authorization request (its `req` and `csrf` fields)
//! belongs to the browser that opened the authorize link, and its consent to the session that
//! signed in through it. An attacker who fetched a request's fields and makes a victim's browser
//! post them gets an error page and changes nothing; so does a cross-site post of the forms
//! (`Origin`, `Sec-Fetch-Site`). Each test ends with the legitimate flow still working.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::browser::*;
use common::*;
use reqwest::blocking::Response;

/// The pre-login cookie of the authorization endpoint.
const BROWSER_COOKIE: &str = "crmgate_browser";
/// The session cookie.
const SESSION_COOKIE: &str = "crmgate_session";

/// The `Set-Cookie` values of `r` for the cookie `name`.
fn set_cookies(r: &Response, name: &str) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .filter(|c| c.starts_with(&format!("{name}=")))
        .collect()
}

/// A refusal: a 403 HTML error page, no redirect, no form, no code, no session started.
fn assert_refused(r: Response, case: &str) {
    let status = r.status().as_u16();
    assert!(r.headers().get("location").is_none(), "{case}: redirected");
    assert!(
        set_cookies(&r, SESSION_COOKIE).is_empty(),
        "{case}: session"
    );
    let html = r.headers()["content-type"].to_str().unwrap().to_string();
    let body = r.text().unwrap();
    assert_eq!(status, 403, "{case}: {body}");
    assert!(html.starts_with("text/html"), "{case}: {html}");
    assert!(body.contains("Authorization error"), "{case}: {body}");
    assert!(!body.contains("name=\"username\""), "{case}: {body}");
    assert!(!body.contains("name=\"decision\""), "{case}: {body}");
    assert!(!body.contains("code="), "{case}: {body}");
}

/// The login form fields of `page` with `user`'s credentials.
fn login_form(page: &Page, user: &str) -> Vec<(&'static str, String)> {
    vec![
        ("req", page.hidden("req")),
        ("csrf", page.hidden("csrf")),
        ("username", user.to_string()),
        ("password", format!("{user}-pw")),
    ]
}

/// The consent form fields of `page` with `decision`.
fn decision_form(page: &Page, decision: &str) -> Vec<(&'static str, String)> {
    vec![
        ("req", page.hidden("req")),
        ("csrf", page.hidden("csrf")),
        ("decision", decision.to_string()),
    ]
}

fn pairs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Headers of a cross-site form post from the attacker's page.
const CROSS_SITE: [(&str, &str); 2] = [
    ("Origin", "https://evil.example"),
    ("Sec-Fetch-Site", "cross-site"),
];

/// Whether `b` is signed in: a new authorize link shows it the consent page.
fn signed_in_as(h: &Harness, b: &Browser<'_>) -> Option<String> {
    let page = b.get(&authorize_url(h, WEB, WEB_CB, "probe", None));
    assert_eq!(page.status, 200, "{}", page.body);
    if page.body.contains("name=\"username\"") {
        return None;
    }
    let marker = "<strong>";
    let who = page.body.rfind(marker).unwrap() + marker.len();
    let end = page.body[who..].find('<').unwrap() + who;
    Some(page.body[who..end].to_string())
}

/// The user a code stands for: the CRM user the token's REST call acts as.
fn user_of_code(h: &Harness, code: &str) -> String {
    let tokens = exchange(h, WEB, Some(WEB_SECRET), code, WEB_CB, None);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(h.query_invoices(access).status(), 200);
    h.last_received().header_values("x-crm-user")[0].to_string()
}

#[test]
fn login_csrf_an_attackers_request_posted_from_the_victims_browser_signs_nobody_in() {
    let h = Harness::start(&web_apps());
    let attacker = Browser::new(&h);
    let page = attacker.get(&authorize_url(&h, WEB, WEB_CB, "attacker", None));
    let form = login_form(&page, "bruna");
    // A victim who never opened the gateway, and one holding a pre-login cookie of its own.
    let fresh = Browser::new(&h);
    let visited = Browser::new(&h);
    let own = visited.get(&authorize_url(&h, WEB, WEB_CB, "victim", None));
    for (who, victim) in [("fresh", &fresh), ("visited", &visited)] {
        for (how, headers) in [("plain", &[][..]), ("cross-site", &CROSS_SITE[..])] {
            let case = format!("{who} victim, {how} post");
            assert_refused(victim.post_raw(&pairs(&form), headers), &case);
            assert_eq!(signed_in_as(&h, victim), None, "{case}");
        }
    }
    // Control: the attacker's own browser can use its request, and the victim its own.
    let consent = attacker.post(&pairs(&form));
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(
        consent.body.contains("<strong>bruna</strong>"),
        "{}",
        consent.body
    );
    let consent = visited.login(&own, "aldo", "aldo-pw");
    let done = visited.decide(&consent, "allow");
    let (code, state) = code_and_state(&done.location, WEB_CB);
    assert_eq!(state, "victim");
    assert_eq!(user_of_code(&h, &code), "aldo");
}

#[test]
fn forced_consent_an_attackers_request_allowed_with_the_victims_session_gives_no_code() {
    let h = Harness::start(&web_apps());
    let victim = Browser::new(&h);
    let own = victim.get(&authorize_url(&h, WEB, WEB_CB, "victim", None));
    let victim_consent = victim.login(&own, "aldo", "aldo-pw");
    assert_eq!(victim_consent.status, 200, "{}", victim_consent.body);
    // The attacker's requests: one still at the login form, one brought to consent as bruna.
    let attacker = Browser::new(&h);
    let waiting = attacker.get(&authorize_url(&h, WEB, WEB_CB, "waiting", None));
    let other = Browser::new(&h);
    let at_login = other.get(&authorize_url(&h, WEB, WEB_CB, "consented", None));
    let at_consent = other.login(&at_login, "bruna", "bruna-pw");
    assert_eq!(at_consent.status, 200, "{}", at_consent.body);
    for (which, page) in [("waiting", &waiting), ("at consent", &at_consent)] {
        for decision in ["allow", "deny"] {
            let form = decision_form(page, decision);
            for (how, headers) in [("plain", &[][..]), ("cross-site", &CROSS_SITE[..])] {
                let case = format!("{which}, {decision}, {how}");
                assert_refused(victim.post_raw(&pairs(&form), headers), &case);
            }
        }
    }
    // Nothing changed: the victim is still signed in as aldo, the attacker's request still
    // works in the attacker's browser, and the victim's own consent gives aldo's code.
    assert_eq!(signed_in_as(&h, &victim).as_deref(), Some("aldo"));
    let done = other.decide(&at_consent, "allow");
    let (code, state) = code_and_state(&done.location, WEB_CB);
    assert_eq!(state, "consented");
    assert_eq!(user_of_code(&h, &code), "bruna");
    let done = victim.decide(&victim_consent, "allow");
    let (code, state) = code_and_state(&done.location, WEB_CB);
    assert_eq!(state, "victim");
    assert_eq!(user_of_code(&h, &code), "aldo");
}

#[test]
fn a_consent_post_carrying_another_session_than_the_one_that_signed_in_gives_no_code() {
    let h = Harness::start(&web_apps());
    // Two tabs of one browser: aldo signs in on the first, then bruna on the second, so the
    // cookie is bruna's while the first tab still shows aldo's consent screen.
    let b = Browser::new(&h);
    let first = b.get(&authorize_url(&h, WEB, WEB_CB, "first", None));
    let second = b.get(&authorize_url(&h, WEB, WEB_CB, "second", None));
    let aldo_consent = b.login(&first, "aldo", "aldo-pw");
    assert!(aldo_consent.body.contains("<strong>aldo</strong>"));
    let bruna_consent = b.login(&second, "bruna", "bruna-pw");
    assert!(bruna_consent.body.contains("<strong>bruna</strong>"));
    let answer = b.decide(&aldo_consent, "allow");
    assert_ne!(answer.status, 303, "{}", answer.location);
    answer.assert_sign_in_again();
    // A session cookie planted from another browser (the attacker's own session) is no
    // better than the wrong tab's.
    let attacker = Browser::new(&h);
    let atk = attacker.get(&authorize_url(&h, WEB, WEB_CB, "atk", None));
    attacker.login(&atk, "carla", "carla-pw");
    let mine = b.cookie(SESSION_COOKIE).unwrap();
    b.set_cookie(SESSION_COOKIE, attacker.cookie(SESSION_COOKIE).as_deref());
    let answer = b.decide(&bruna_consent, "allow");
    assert_ne!(answer.status, 303, "{}", answer.location);
    assert!(answer.location.is_empty(), "{}", answer.location);
    b.set_cookie(SESSION_COOKIE, Some(&mine));
    // Control: the tab whose session is in the cookie gets bruna's code; signing in again on
    // the first tab's request brings aldo's consent back, and aldo's code.
    let done = b.decide(&bruna_consent, "allow");
    let (code, state) = code_and_state(&done.location, WEB_CB);
    assert_eq!(
        (state.as_str(), user_of_code(&h, &code).as_str()),
        ("second", "bruna")
    );
    let again = b.login(&answer_page(&b, &aldo_consent), "aldo", "aldo-pw");
    assert!(
        again.body.contains("<strong>aldo</strong>"),
        "{}",
        again.body
    );
    let done = b.decide(&again, "allow");
    let (code, state) = code_and_state(&done.location, WEB_CB);
    assert_eq!(
        (state.as_str(), user_of_code(&h, &code).as_str()),
        ("first", "aldo")
    );
}

/// The login page a consent post without the request's session answers (same hidden fields).
fn answer_page(b: &Browser<'_>, consent: &Page) -> Page {
    b.set_cookie(SESSION_COOKIE, None);
    let page = b.decide(consent, "allow");
    assert_eq!(page.status, 401, "{}", page.body);
    page
}

#[test]
fn cross_site_posts_of_the_login_and_consent_forms_are_refused_by_origin_and_fetch_metadata() {
    let h = Harness::start(&web_apps());
    let own = h.base.clone();
    let other_port = format!("http://127.0.0.1:{}", h.port + 1);
    let localhost = format!("http://localhost:{}", h.port);
    let https = own.replace("http://", "https://");
    let with_slash = format!("{own}/");
    let bad: Vec<Vec<(&str, &str)>> = vec![
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![("Sec-Fetch-Site", "same-site")],
        vec![("Sec-Fetch-Site", "CROSS-SITE")],
        vec![("Origin", "https://evil.example")],
        vec![("Origin", "null")],
        vec![("Origin", &other_port)],
        vec![("Origin", &localhost)],
        vec![("Origin", &https)],
        vec![("Origin", &with_slash)],
        vec![("Origin", "")],
        vec![("Origin", &own), ("Sec-Fetch-Site", "cross-site")],
        vec![
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
    ];
    let b = Browser::new(&h);
    let page = b.get(&authorize_url(&h, WEB, WEB_CB, "st", None));
    let login = login_form(&page, "aldo");
    for headers in &bad {
        assert_refused(
            b.post_raw(&pairs(&login), headers),
            &format!("login {headers:?}"),
        );
    }
    assert_eq!(signed_in_as(&h, &b), None);
    let same_origin = [("Origin", own.as_str()), ("Sec-Fetch-Site", "same-origin")];
    let consent = b.post_with(&pairs(&login), &same_origin);
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(
        consent.body.contains("name=\"decision\""),
        "{}",
        consent.body
    );
    for decision in ["allow", "deny"] {
        let form = decision_form(&consent, decision);
        for headers in &bad {
            let case = format!("{decision} {headers:?}");
            assert_refused(b.post_raw(&pairs(&form), headers), &case);
        }
    }
    // Control: the same forms from the gateway's own page (or typed in: `none`, or from a
    // client that sends neither header) go through.
    let done = b.post_with(
        &pairs(&decision_form(&consent, "allow")),
        &[("Sec-Fetch-Site", "none")],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    code_and_state(&done.location, WEB_CB);
    let next = b.get(&authorize_url(&h, WEB, WEB_CB, "next", None));
    let done = b.post_with(&pairs(&decision_form(&next, "allow")), &same_origin);
    assert_eq!(done.status, 303, "{}", done.body);
    let done = Browser::new(&h);
    let page = done.get(&authorize_url(&h, WEB, WEB_CB, "plain", None));
    let consent = done.login(&page, "bruna", "bruna-pw");
    let end = done.decide(&consent, "allow");
    assert_eq!(end.status, 303, "{}", end.body);
}

#[test]
fn the_pre_login_cookie_is_http_only_lax_scoped_to_the_authorize_endpoint_and_never_logged() {
    let h = Harness::start(&web_apps());
    let b = Browser::new(&h);
    let url = authorize_url(&h, WEB, WEB_CB, "st", None);
    let r = b.send(b.http().get(&url));
    let set = set_cookies(&r, BROWSER_COOKIE);
    assert_eq!(set.len(), 1, "{:?}", r.headers());
    let parts: Vec<&str> = set[0].split(';').map(str::trim).collect();
    let value = parts[0].trim_start_matches("crmgate_browser=");
    assert!(value.len() >= 43, "{}", set[0]);
    assert!(parts.contains(&"Path=/oauth2/v2.0/auth.php"), "{}", set[0]);
    assert!(parts.contains(&"HttpOnly"), "{}", set[0]);
    assert!(parts.contains(&"SameSite=Lax"), "{}", set[0]);
    assert!(!parts.contains(&"Secure"), "plain http: {}", set[0]);
    let first = Page {
        status: r.status().as_u16(),
        location: String::new(),
        body: r.text().unwrap(),
    };
    // A second tab keeps the browser's cookie, so both requests stay usable.
    let second = b.get(&url);
    assert_eq!(b.cookie(BROWSER_COOKIE).as_deref(), Some(value));
    assert_eq!(b.login(&second, "aldo", "aldo-pw").status, 200);
    let consent = b.login(&first, "aldo", "aldo-pw");
    assert_eq!(consent.status, 200, "{}", consent.body);
    let done = b.decide(&consent, "allow");
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(!h.log().contains(value), "the cookie value is in the log");
    assert!(
        !h.log().contains(&b.cookie(SESSION_COOKIE).unwrap()),
        "the session cookie value is in the log"
    );
    // With an https public URL the cookie is Secure.
    let opts = Options {
        public_url: Some("https://gateway.example".into()),
        ..Options::default()
    };
    let h = Harness::start_with(&web_apps(), opts);
    let b = Browser::new(&h);
    let r = b.send(b.http().get(authorize_url(&h, WEB, WEB_CB, "st", None)));
    let set = set_cookies(&r, BROWSER_COOKIE);
    assert!(set[0].split(';').any(|p| p.trim() == "Secure"), "{set:?}");
}
