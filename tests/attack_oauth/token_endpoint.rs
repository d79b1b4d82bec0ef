//! Attacks on the token endpoint's request handling and client authentication: duplicated
//! parameters, unknown grants, requests that are not a POST form, malformed or mismatched Basic
//! credentials, authentication by a method other than the registered one.

use super::*;

#[test]
fn duplicated_token_parameters_are_invalid_request() {
    let h = Harness::start(&apps());
    let cc = "grant_type=client_credentials";
    type Case<'a> = (&'a str, Option<(&'a str, &'a str)>, String);
    let cases: Vec<Case> = vec![
        (
            "client_id twice",
            None,
            format!("{cc}&client_id={SA}&client_id={SA}&client_secret=x"),
        ),
        (
            "client_secret wrong then right",
            None,
            format!(
                "{cc}&client_id={SA}&client_secret=wrong&client_secret=s3cret-with%3Acolon%25and%2Bplus"
            ),
        ),
        (
            "client_secret right then wrong",
            None,
            format!(
                "{cc}&client_id={SA}&client_secret=s3cret-with%3Acolon%25and%2Bplus&client_secret=wrong"
            ),
        ),
        (
            "grant_type twice, different",
            Some((SA, SA_SECRET)),
            format!("{cc}&grant_type=password"),
        ),
        (
            "scope twice",
            Some((SA, SA_SECRET)),
            format!("{cc}&scope=rest.all.read&scope=rest.all"),
        ),
        (
            "code twice",
            Some((WEB, WEB_SECRET)),
            "grant_type=authorization_code&code=a&code=b".into(),
        ),
        (
            "refresh_token twice",
            Some((WEB, WEB_SECRET)),
            "grant_type=refresh_token&refresh_token=a&refresh_token=b".into(),
        ),
        (
            "one name spelled twice",
            Some((SA, SA_SECRET)),
            format!("{cc}&gr%61nt_type=client_credentials"),
        ),
        (
            "empty then real",
            Some((SA, SA_SECRET)),
            format!("scope=&{cc}&scope=rest.all"),
        ),
    ];
    for (case, basic, body) in cases {
        assert_eq!(
            oauth_error(token_raw(&h, basic, &body)),
            (400, "invalid_request".into()),
            "{case}"
        );
    }
    // Control: the same credentials, each once.
    assert_eq!(token_raw(&h, Some((SA, SA_SECRET)), cc).status(), 200);
}

#[test]
fn unknown_and_extension_grant_types_are_unsupported_grant_type() {
    let h = Harness::start(&apps());
    for grant in [
        "password",
        "implicit",
        "token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "CLIENT_CREDENTIALS",
        "client_credentials ",
        "client_credentials\u{0}",
    ] {
        let r = h.token_basic(
            SA,
            SA_SECRET,
            &[("grant_type", grant), ("username", "admin")],
        );
        assert_eq!(
            oauth_error(r),
            (400, "unsupported_grant_type".into()),
            "{grant:?}"
        );
    }
}

#[test]
fn token_requests_that_are_not_a_post_form_are_refused() {
    let h = Harness::start(&apps());
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let r = h
            .http
            .request(method.clone(), h.token_url())
            .basic_auth(SA, Some(SA_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap();
        assert_eq!(r.headers()["allow"], "POST", "{method}");
        assert_eq!(oauth_error(r), (405, "invalid_request".into()), "{method}");
    }
    for content_type in [
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
        Some("application/x-www-form-urlencoded-evil"),
        None,
    ] {
        let mut rb = h
            .http
            .post(h.token_url())
            .basic_auth(SA, Some(SA_SECRET))
            .body("grant_type=client_credentials");
        if let Some(ct) = content_type {
            rb = rb.header("Content-Type", ct);
        }
        let r = rb.send().unwrap();
        assert_eq!(
            oauth_error(r),
            (400, "invalid_request".into()),
            "{content_type:?}"
        );
    }
    for query in ["grant_type=client_credentials", &format!("client_id={SA}")] {
        let r = h
            .http
            .post(format!("{}?{query}", h.token_url()))
            .basic_auth(SA, Some(SA_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap();
        assert_eq!(oauth_error(r), (400, "invalid_request".into()), "{query}");
    }
    let not_utf8 = token_raw(
        &h,
        Some((SA, SA_SECRET)),
        "grant_type=client_credentials&scope=%ff",
    );
    assert_eq!(oauth_error(not_utf8), (400, "invalid_request".into()));
}

#[test]
fn malformed_or_mismatched_basic_credentials_are_refused() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let h = Harness::start(&apps());
    let send = |headers: &[String], body: &str| {
        let mut rb = h
            .http
            .post(h.token_url())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_string());
        for v in headers {
            rb = rb.header("Authorization", v.as_str());
        }
        rb.send().unwrap()
    };
    let cc = "grant_type=client_credentials";
    // Wrongly encoded secrets: '+' left raw where the rest is encoded (it decodes to a space), a
    // space for '+', double encoding.
    for secret in [
        "s3cret-with%3Acolon%25and+plus",
        "s3cret-with:colon%and plus",
        "s3cret-with%253Acolon%2525and%252Bplus",
        "s3cret-with:colon%25and+plus ",
    ] {
        let r = send(&[format!("Basic {}", b64(&format!("{SA}:{secret}")))], cc);
        assert_eq!(oauth_error(r), (401, "invalid_client".into()), "{secret:?}");
    }
    // Encoding the client id is fine (RFC 6749 §2.3.1): it decodes to the same id.
    let encoded_id = SA.replace('_', "%5F");
    let r = send(
        &[format!(
            "Basic {}",
            b64(&format!("{encoded_id}:{SA_SECRET}"))
        )],
        cc,
    );
    assert_eq!(r.status(), 200, "an encoded client id");
    for (case, header) in [
        ("no colon", format!("Basic {}", b64(SA))),
        ("not base64", "Basic !!!not-base64!!!".to_string()),
        (
            "empty client id",
            format!("Basic {}", b64(&format!(":{SA_SECRET}"))),
        ),
        ("nothing after Basic", "Basic".to_string()),
        (
            "not UTF-8",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode([0xff, b':', 0xfe])
            ),
        ),
    ] {
        let r = send(&[header], cc);
        assert_eq!(oauth_error(r), (401, "invalid_client".into()), "{case}");
    }
    let good = format!("Basic {}", b64(&format!("{SA}:{SA_SECRET}")));
    for (case, headers, body) in [
        (
            "two Basic headers",
            vec![good.clone(), good.clone()],
            cc.to_string(),
        ),
        (
            "Bearer at the token endpoint",
            vec!["Bearer abc".into()],
            cc.to_string(),
        ),
        (
            "Digest at the token endpoint",
            vec!["Digest username=\"x\"".into()],
            cc.to_string(),
        ),
        (
            "Basic plus another body client_id",
            vec![good.clone()],
            format!("{cc}&client_id={WEB}"),
        ),
        (
            "Basic plus a body secret",
            vec![good.clone()],
            format!("{cc}&client_secret=x"),
        ),
    ] {
        assert_eq!(
            oauth_error(send(&headers, &body)),
            (400, "invalid_request".into()),
            "{case}"
        );
    }
    assert_eq!(send(&[good], cc).status(), 200, "control");
}

#[test]
fn clients_must_authenticate_by_their_registered_method() {
    let h = Harness::start(&apps());
    let form = |pairs: &[(&str, &str)]| h.http.post(h.token_url()).form(pairs).send().unwrap();
    // A public client presenting a secret, by either method, or an empty Basic password.
    let r = form(&[
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("client_id", NATIVE),
        ("client_secret", "anything"),
    ]);
    assert_eq!(
        oauth_error(r),
        (401, "invalid_client".into()),
        "native + secret"
    );
    for secret in ["anything", ""] {
        let r = h.token_basic(
            NATIVE,
            secret,
            &[("grant_type", "authorization_code"), ("code", "x")],
        );
        assert_eq!(
            oauth_error(r),
            (401, "invalid_client".into()),
            "native + Basic {secret:?}"
        );
    }
    // Confidential clients naming themselves without a secret, as a public client would.
    for id in [WEB, SA] {
        let r = form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", id),
        ]);
        assert_eq!(
            oauth_error(r),
            (401, "invalid_client".into()),
            "{id} as public"
        );
    }
    // A secret client presenting an assertion (iss = sub = it, signed by some key).
    let key = jwt::Key::es256();
    let assertion = key.sign(&jwt::claims(&h, SA));
    let r = jwt::post_assertion(&h, &assertion, &[]);
    assert_eq!(
        oauth_error(r),
        (401, "invalid_client".into()),
        "secret app + assertion"
    );
    // Grants of the other client types.
    let r = h.token_basic(WEB, WEB_SECRET, &[("grant_type", "client_credentials")]);
    assert_eq!(
        oauth_error(r),
        (400, "unauthorized_client".into()),
        "web app, client_credentials"
    );
    let r = h.token_basic(
        SA,
        SA_SECRET,
        &[("grant_type", "authorization_code"), ("code", "x")],
    );
    assert_eq!(
        oauth_error(r),
        (400, "unauthorized_client".into()),
        "service account, code"
    );
    // A disabled app with its right secret.
    let r = h.token_basic(
        "vte_off",
        "off-secret",
        &[("grant_type", "authorization_code"), ("code", "x")],
    );
    assert_eq!(
        oauth_error(r),
        (401, "invalid_client".into()),
        "disabled app"
    );
}
