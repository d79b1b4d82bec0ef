//! Attacks on the authorization endpoint: open redirects on every error path, a redirect URI
//! smuggled into the login or consent form, a forged Host, response types other than `code`,
//! unknown PKCE methods, login CSRF, framing of every page.

use super::*;

/// Authorization requests that must end on an error page, most with an attacker's redirect URI.
fn open_redirect_queries() -> Vec<(&'static str, String)> {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let (evil, cb) = (enc(EVIL), enc(WEB_CB));
    let code = "response_type=code";
    let web = format!("{code}&client_id={WEB}");
    let plain = format!("code_challenge={CHALLENGE}&code_challenge_method=plain");
    vec![
        (
            "unknown client",
            format!("{code}&client_id=vte_nobody&redirect_uri={evil}&state=s"),
        ),
        (
            "no client_id",
            format!("{code}&redirect_uri={evil}&state=s"),
        ),
        (
            "implicit",
            format!("response_type=token&client_id={WEB}&redirect_uri={evil}"),
        ),
        (
            "scope outside the app's",
            format!("{web}&redirect_uri={evil}&scope=admin"),
        ),
        (
            "no PKCE, native",
            format!("{code}&client_id={NATIVE}&redirect_uri={evil}"),
        ),
        (
            "PKCE plain",
            format!("{code}&client_id={NATIVE}&redirect_uri={evil}&{plain}"),
        ),
        (
            "disabled app",
            format!("{code}&client_id=vte_off&redirect_uri={evil}"),
        ),
        (
            "service account",
            format!("{code}&client_id={SA}&redirect_uri={evil}"),
        ),
        (
            "service account, no redirect_uri",
            format!("{code}&client_id={SA}&state=s"),
        ),
        (
            "registered, then evil",
            format!("{web}&redirect_uri={cb}&redirect_uri={evil}"),
        ),
        (
            "evil, then registered",
            format!("{web}&redirect_uri={evil}&redirect_uri={cb}"),
        ),
        (
            "client_id twice",
            format!("{web}&client_id=vte_off&redirect_uri={cb}"),
        ),
        (
            "state twice",
            format!("{web}&redirect_uri={cb}&state=a&state=b"),
        ),
        (
            "javascript:",
            format!(
                "{web}&redirect_uri={}",
                enc("javascript:alert(1)//evil.example")
            ),
        ),
        (
            "scheme-relative",
            format!("{web}&redirect_uri={}", enc("//evil.example/cb")),
        ),
        (
            "userinfo",
            format!(
                "{web}&redirect_uri={}",
                enc("https://portal.example%2Fcb@evil.example/")
            ),
        ),
        ("not UTF-8", format!("{web}&redirect_uri={evil}&state=%ff")),
    ]
}

#[test]
fn open_redirect_attempts_on_every_error_path_get_a_page_not_a_redirect() {
    let h = Harness::start(&apps());
    let b = Browser::new(&h);
    let cases = open_redirect_queries();
    for (case, query) in &cases {
        assert_page(&b.get(&auth_query(&h, query)), case);
    }
    for method in [reqwest::Method::PUT, reqwest::Method::DELETE] {
        let r = h
            .http
            .request(method.clone(), auth_query(&h, &cases[0].1))
            .send()
            .unwrap();
        assert_eq!(r.status(), 405, "{method}");
        assert!(r.headers().get("location").is_none(), "{method}");
    }
    // A POST naming no pending request, or one that expired, with an evil redirect_uri.
    for req in ["", "forged-request-id"] {
        let page = b.post(&[
            ("req", req),
            ("csrf", "x"),
            ("redirect_uri", EVIL),
            ("decision", "allow"),
        ]);
        assert_page(&page, &format!("POST with req {req:?}"));
    }
    // With OAuth switched off, an evil redirect_uri still gets a page.
    h.write_apps(&apps().replace("oauth_enabled = true", "oauth_enabled = false"));
    h.eventually("oauth disabled", || {
        b.get(&authorize_url(&h, WEB, WEB_CB, "s", None)).status == 403
    });
    assert_page(&b.get(&auth_query(&h, &cases[2].1)), "oauth disabled");
}

#[test]
fn a_redirect_uri_smuggled_into_the_login_or_consent_post_is_ignored() {
    let h = Harness::start(&apps());
    let b = Browser::new(&h);
    for decision in ["allow", "deny"] {
        let page = b.get(&authorize_url(&h, WEB, WEB_CB, "st", None));
        let (req, csrf) = (page.hidden("req"), page.hidden("csrf"));
        let consent = b.post(&[
            ("req", &req),
            ("csrf", &csrf),
            ("username", "aldo"),
            ("password", "aldo-pw"),
            ("redirect_uri", EVIL),
        ]);
        // Logged in by the first round: the second gets the consent page at once.
        assert_eq!(consent.status, 200, "{}", consent.body);
        assert!(!consent.body.contains("evil.example"), "{}", consent.body);
        let (req, csrf) = (consent.hidden("req"), consent.hidden("csrf"));
        let done = b.post(&[
            ("req", &req),
            ("csrf", &csrf),
            ("decision", decision),
            ("redirect_uri", EVIL),
            ("client_id", "vte_off"),
        ]);
        assert_eq!(done.status, 303, "{decision}: {}", done.body);
        assert!(
            done.location.starts_with(&format!("{WEB_CB}?")),
            "{decision}: redirected to {}",
            done.location
        );
    }
}

#[test]
fn a_forged_host_header_does_not_change_the_issuer_or_the_form_target() {
    let h = Harness::start(&apps());
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = auth_url(
        &h,
        &[
            ("response_type", "token"),
            ("client_id", WEB),
            ("redirect_uri", WEB_CB),
            ("state", "s"),
        ],
    );
    let r = http
        .get(&url)
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .header("Forwarded", "host=evil.example;proto=https")
        .send()
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("{WEB_CB}?")), "{location}");
    assert!(!location.contains("evil.example"), "{location}");
    let login = http
        .get(authorize_url(&h, WEB, WEB_CB, "s", None))
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .send()
        .unwrap();
    assert_eq!(login.status(), 200);
    let body = login.text().unwrap();
    assert!(body.contains("name=\"username\""), "{body}");
    assert!(!body.contains("evil.example"), "{body}");
}

#[test]
fn response_types_other_than_exactly_code_are_refused_back_to_the_app() {
    let h = Harness::start(&apps());
    let b = Browser::new(&h);
    for rt in [
        "CODE",
        "code code",
        "code id_token",
        "none",
        "token code",
        "code ",
    ] {
        let url = auth_url(
            &h,
            &[
                ("response_type", rt),
                ("client_id", WEB),
                ("redirect_uri", WEB_CB),
                ("state", "st"),
            ],
        );
        let page = b.get(&url);
        assert_eq!(page.status, 302, "{rt:?}: {}", page.body);
        assert!(page.location.starts_with(&format!("{WEB_CB}?")), "{rt:?}");
        assert!(
            page.location.contains("error=unsupported_response_type"),
            "{rt:?}: {}",
            page.location
        );
        assert!(!page.location.contains("code="), "{rt:?}");
        assert!(!page.location.contains("access_token"), "{rt:?}");
    }
}

#[test]
fn unknown_pkce_methods_are_invalid_request_back_to_the_app() {
    let h = Harness::start(&apps());
    let b = Browser::new(&h);
    for (client, cb) in [(NATIVE, NATIVE_CB), (WEB, WEB_CB)] {
        for method in ["S512", "RS256", "sha256", "S256 ", "none", "PLAIN"] {
            let url = auth_url(
                &h,
                &[
                    ("response_type", "code"),
                    ("client_id", client),
                    ("redirect_uri", cb),
                    ("state", "st"),
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", method),
                ],
            );
            let page = b.get(&url);
            assert_eq!(page.status, 302, "{client} {method:?}: {}", page.body);
            assert!(page.location.starts_with(&format!("{cb}?")), "{method:?}");
            assert!(
                page.location.contains("error=invalid_request"),
                "{client} {method:?}: {}",
                page.location
            );
        }
    }
}

#[test]
fn a_cross_site_login_post_without_the_requests_csrf_is_403_and_starts_no_session() {
    let h = Harness::start(&apps());
    let b = Browser::new(&h);
    let page = b.get(&authorize_url(&h, WEB, WEB_CB, "st", None));
    let other = Browser::new(&h).get(&authorize_url(&h, WEB, WEB_CB, "other", None));
    let req = page.hidden("req");
    let other_csrf = other.hidden("csrf");
    for csrf in [None, Some(""), Some("guess"), Some(other_csrf.as_str())] {
        let mut form = vec![
            ("req", req.as_str()),
            ("username", "aldo"),
            ("password", "aldo-pw"),
        ];
        form.extend(csrf.map(|c| ("csrf", c)));
        let r = h
            .http
            .post(h.url("/oauth2/v2.0/auth.php"))
            .header("Origin", "https://evil.example")
            .form(&form)
            .send()
            .unwrap();
        assert_eq!(r.status(), 403, "csrf {csrf:?}");
        assert!(r.headers().get("set-cookie").is_none(), "csrf {csrf:?}");
    }
    // The genuine form still works.
    assert_eq!(b.login(&page, "aldo", "aldo-pw").status, 200);
}

#[test]
fn every_authorization_page_forbids_framing() {
    let h = Harness::start(&apps());
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let check = |r: Response, want: u16, what: &str| {
        assert_eq!(r.status(), want, "{what}");
        let h = r.headers();
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert_eq!(h["cache-control"], "no-store", "{what}");
    };
    let url = authorize_url(&h, WEB, WEB_CB, "st", None);
    let browser = Browser::new(&h);
    let login = browser.get(&url);
    let post = |form: &[(&str, &str)]| browser.post_raw(form, &[]);
    let (req, csrf) = (login.hidden("req"), login.hidden("csrf"));
    let wrong = [
        ("req", req.as_str()),
        ("csrf", csrf.as_str()),
        ("username", "carla"),
        ("password", "nope"),
    ];
    check(post(&wrong), 401, "wrong password page");
    check(
        post(&[("req", &req), ("csrf", "x"), ("decision", "allow")]),
        403,
        "CSRF refusal page",
    );
    check(
        post(&[("req", "gone"), ("csrf", "x")]),
        400,
        "expired request page",
    );
    check(
        http.get(auth_query(&h, "client_id=a&client_id=b"))
            .send()
            .unwrap(),
        400,
        "bad request page",
    );
    check(
        http.put(&url).send().unwrap(),
        405,
        "method not allowed page",
    );
    let throttled = (0..4)
        .map(|_| post(&wrong))
        .find(|r| r.status() == 429)
        .expect("carla's login is throttled after 3 failures");
    check(throttled, 429, "throttled login page");
}
