//! Attacks with codes, refresh tokens and revocation: token-type confusion, users removed or
//! promoted after they authorized, public clients' refresh tokens, expired tokens at the
//! revocation endpoint, another client's refresh token, hints that lie.

use super::*;

const NATIVE_OFF: &str = "vte_e5e5e5e5e5e5e5e5e5e5";
const NATIVE_OFF_CB: &str = "http://127.0.0.1:7778/callback";
const NATIVE2: &str = "vte_f6f6f6f6f6f6f6f6f6f6";
const NATIVE2_CB: &str = "http://127.0.0.1:7779/callback";

/// The usual apps plus two native apps with offline access.
fn token_apps() -> String {
    format!(
        "{}{}offline_access = true\n\n{}offline_access = true\n\n",
        apps(),
        native_app(NATIVE_OFF, "rest.all", NATIVE_OFF_CB),
        native_app(NATIVE2, "rest.all", NATIVE2_CB),
    )
}

/// A code for `client` authorized by `user` in a fresh browser.
fn code_for(h: &Harness, client: &str, cb: &str, user: &str, challenge: Option<&str>) -> String {
    let b = Browser::new(h);
    let page = b.get(&authorize_url(h, client, cb, "st", challenge));
    let consent = b.login(&page, user, &format!("{user}-pw"));
    assert_eq!(consent.status, 200, "{}", consent.body);
    let done = b.decide(&consent, "allow");
    code_and_state(&done.location, cb).0
}

/// The web app's tokens for `user` (with a refresh token).
fn web_tokens(h: &Harness, user: &str) -> Value {
    let code = code_for(h, WEB, WEB_CB, user, None);
    exchange(h, WEB, Some(WEB_SECRET), &code, WEB_CB, None)
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

fn refresh_as(h: &Harness, client: Option<(&str, &str)>, token: &str) -> Response {
    let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
    let rb = h.http.post(h.token_url()).form(&form);
    match client {
        Some((id, secret)) => rb.basic_auth(id, Some(secret)),
        None => rb,
    }
    .send()
    .unwrap()
}

fn revoke(h: &Harness, client: (&str, &str), form: &[(&str, &str)]) -> Response {
    h.http
        .post(h.url("/oauth2/v2.0/revoke.php"))
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .unwrap()
}

#[test]
fn codes_refresh_and_access_tokens_are_not_interchangeable() {
    let h = Harness::start(&apps());
    let tokens = web_tokens(&h, "bruna");
    let code = code_for(&h, WEB, WEB_CB, "bruna", None);
    let web = Some((WEB, WEB_SECRET));
    // An unused code as a refresh token, as a Bearer token, at introspection.
    let r = refresh_as(&h, web, &code);
    assert_eq!(
        oauth_error(r),
        (400, "invalid_grant".into()),
        "code as refresh_token"
    );
    assert_eq!(h.query_invoices(&code).status(), 401, "code as Bearer");
    let r = h
        .http
        .post(h.url("/oauth2/v2.0/introspect.php"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[("token", code.as_str())])
        .send()
        .unwrap();
    assert_eq!(json(r)["active"], false, "code at introspection");
    // Refresh and access tokens as codes.
    for (what, token) in [
        ("refresh", s(&tokens, "refresh_token")),
        ("access", s(&tokens, "access_token")),
    ] {
        let r = exchange_raw(&h, WEB, Some(WEB_SECRET), token, Some(WEB_CB), None);
        assert_eq!(
            oauth_error(r),
            (400, "invalid_grant".into()),
            "{what} token as code"
        );
    }
    // None of the misuses spent anything: the code and the tokens still work.
    let fresh = exchange(&h, WEB, Some(WEB_SECRET), &code, WEB_CB, None);
    assert_eq!(h.query_invoices(s(&fresh, "access_token")).status(), 200);
    assert_eq!(h.query_invoices(s(&tokens, "access_token")).status(), 200);
    assert_eq!(
        refresh_as(&h, web, s(&tokens, "refresh_token")).status(),
        200
    );
}

/// `users.toml` with `edit` applied to bruna's entry (the second user).
fn edit_bruna(original: &str, edit: impl Fn(&str) -> String) -> String {
    let start = original.find("[[users]]\nusername = \"bruna\"").unwrap();
    let end = start + 1 + original[start + 1..].find("[[users]]").unwrap();
    format!(
        "{}{}{}",
        &original[..start],
        edit(&original[start..end]),
        &original[end..]
    )
}

#[test]
fn a_removed_or_promoted_user_loses_codes_access_and_refresh_tokens() {
    let h = Harness::start(&apps());
    let original = std::fs::read_to_string(h.path("users.toml")).unwrap();
    type Edit = Box<dyn Fn(&str) -> String>;
    let edits: [(&str, Edit); 2] = [
        ("removed", Box::new(|_| String::new())),
        (
            "promoted to admin",
            Box::new(|u| u.replace("admin = false", "admin = true")),
        ),
    ];
    for (case, edit) in edits {
        let tokens = web_tokens(&h, "bruna");
        let pending_code = code_for(&h, WEB, WEB_CB, "bruna", None);
        let access = s(&tokens, "access_token");
        std::fs::write(h.path("users.toml"), edit_bruna(&original, &edit)).unwrap();
        h.eventually(case, || h.query_invoices(access).status() == 401);
        let r = refresh_as(&h, Some((WEB, WEB_SECRET)), s(&tokens, "refresh_token"));
        assert_eq!(
            oauth_error(r),
            (400, "invalid_grant".into()),
            "{case}: refresh"
        );
        let r = exchange_raw(&h, WEB, Some(WEB_SECRET), &pending_code, Some(WEB_CB), None);
        assert_eq!(
            oauth_error(r),
            (400, "invalid_grant".into()),
            "{case}: code"
        );
        // Others are untouched.
        let aldo = web_tokens(&h, "aldo");
        assert_eq!(
            h.query_invoices(s(&aldo, "access_token")).status(),
            200,
            "{case}"
        );
        let applied = users_reloads(&h);
        std::fs::write(h.path("users.toml"), &original).unwrap();
        h.eventually("bruna restored", || users_reloads(&h) > applied);
    }
}

/// How often users.toml was applied.
fn users_reloads(h: &Harness) -> u64 {
    let text = h
        .http
        .get(h.url("/gateway/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("crmgate_config_reloads_total{") && l.contains("file=\"users\""))
        .filter(|l| l.contains("result=\"applied\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[test]
fn a_public_clients_refresh_token_is_bound_to_it() {
    let h = Harness::start(&token_apps());
    let code = code_for(&h, NATIVE_OFF, NATIVE_OFF_CB, "aldo", Some(CHALLENGE));
    let tokens = exchange(&h, NATIVE_OFF, None, &code, NATIVE_OFF_CB, Some(VERIFIER));
    let refresh = s(&tokens, "refresh_token");
    let as_public = |id: &str| {
        h.http
            .post(h.token_url())
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", id),
            ])
            .send()
            .unwrap()
    };
    let r = refresh_as(&h, None, refresh);
    assert_eq!(
        oauth_error(r),
        (401, "invalid_client".into()),
        "no client_id"
    );
    let r = as_public(NATIVE2);
    assert_eq!(
        oauth_error(r),
        (400, "invalid_grant".into()),
        "another native app"
    );
    let r = refresh_as(&h, Some((WEB, WEB_SECRET)), refresh);
    assert_eq!(oauth_error(r), (400, "invalid_grant".into()), "a web app");
    let r = as_public(NATIVE_OFF);
    assert_eq!(r.status(), 200, "its own client_id");
}

#[test]
fn refresh_is_refused_when_oauth_is_switched_off() {
    let h = Harness::start(&apps());
    let tokens = web_tokens(&h, "bruna");
    h.write_apps(&apps().replace("oauth_enabled = true", "oauth_enabled = false"));
    h.eventually("oauth off", || {
        h.query_invoices(s(&tokens, "access_token")).status() == 401
    });
    let r = refresh_as(&h, Some((WEB, WEB_SECRET)), s(&tokens, "refresh_token"));
    assert_eq!(oauth_error(r), (400, "unauthorized_client".into()));
}

// ---------------------------------------------------------------------------------------------
// Revocation

#[test]
fn revoking_expired_tokens_answers_200() {
    let opts = Options {
        extra: "[tokens]\naccess_token_ttl = 1\nrefresh_token_ttl = 2\n".into(),
        ..Options::default()
    };
    let h = Harness::start_with(&apps(), opts);
    let tokens = web_tokens(&h, "bruna");
    let service = h.token(SA, SA_SECRET);
    h.eventually("the access tokens expire", || {
        h.query_invoices(&service).status() == 401
    });
    // Past the refresh token's 2 s too.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let r = refresh_as(&h, Some((WEB, WEB_SECRET)), s(&tokens, "refresh_token"));
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"], "invalid_grant", "expired refresh token: {v}");
    assert_eq!(v["error_description"], "the refresh token expired", "{v}");
    for (client, token) in [
        ((SA, SA_SECRET), service.as_str()),
        ((WEB, WEB_SECRET), s(&tokens, "access_token")),
        ((WEB, WEB_SECRET), s(&tokens, "refresh_token")),
    ] {
        let r = revoke(&h, client, &[("token", token)]);
        assert_eq!(r.status(), 200, "{token}");
        assert_eq!(r.headers()["cache-control"], "no-store");
    }
}

#[test]
fn revocation_takes_only_a_post_form() {
    let h = Harness::start(&apps());
    let t = h.token(SA, SA_SECRET);
    let url = h.url("/oauth2/v2.0/revoke.php");
    let r = h
        .http
        .get(format!("{url}?token={t}"))
        .basic_auth(SA, Some(SA_SECRET))
        .send()
        .unwrap();
    assert_eq!(oauth_error(r), (405, "invalid_request".into()), "GET");
    let r = h
        .http
        .post(&url)
        .basic_auth(SA, Some(SA_SECRET))
        .json(&serde_json::json!({"token": t}))
        .send()
        .unwrap();
    assert_eq!(oauth_error(r), (400, "invalid_request".into()), "JSON body");
    let r = h
        .http
        .post(format!("{url}?token={t}"))
        .basic_auth(SA, Some(SA_SECRET))
        .form(&[("token_type_hint", "access_token")])
        .send()
        .unwrap();
    assert_eq!(
        oauth_error(r),
        (400, "invalid_request".into()),
        "token in the query"
    );
    let r = h
        .http
        .post(&url)
        .basic_auth(SA, Some(SA_SECRET))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token=crm_at_other&token={t}"))
        .send()
        .unwrap();
    assert_eq!(
        oauth_error(r),
        (400, "invalid_request".into()),
        "token twice"
    );
    assert_eq!(
        h.query_invoices(&t).status(),
        200,
        "none of these revoked it"
    );
}

#[test]
fn another_clients_refresh_token_cannot_be_revoked_and_keeps_working() {
    let h = Harness::start(&token_apps());
    let tokens = web_tokens(&h, "bruna");
    let refresh = s(&tokens, "refresh_token");
    let r = revoke(&h, (SA, SA_SECRET), &[("token", refresh)]);
    assert_eq!(
        oauth_error(r),
        (400, "unauthorized_client".into()),
        "confidential"
    );
    let r = h
        .http
        .post(h.url("/oauth2/v2.0/revoke.php"))
        .form(&[("token", refresh), ("client_id", NATIVE_OFF)])
        .send()
        .unwrap();
    assert_eq!(
        oauth_error(r),
        (400, "unauthorized_client".into()),
        "public"
    );
    assert_eq!(h.query_invoices(s(&tokens, "access_token")).status(), 200);
    let r = refresh_as(&h, Some((WEB, WEB_SECRET)), refresh);
    assert_eq!(r.status(), 200, "the refresh token still works");
    // A public client revokes its own tokens with just its client_id.
    let code = code_for(&h, NATIVE_OFF, NATIVE_OFF_CB, "aldo", Some(CHALLENGE));
    let own = exchange(&h, NATIVE_OFF, None, &code, NATIVE_OFF_CB, Some(VERIFIER));
    let r = h
        .http
        .post(h.url("/oauth2/v2.0/revoke.php"))
        .form(&[
            ("token", s(&own, "access_token")),
            ("client_id", NATIVE_OFF),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(h.query_invoices(s(&own, "access_token")).status(), 401);
}

#[test]
fn a_token_type_hint_is_only_a_hint() {
    let h = Harness::start(&apps());
    for hint in ["access_token", "id_token", "bogus", "refresh_token"] {
        let tokens = web_tokens(&h, "bruna");
        let (access, refresh) = (s(&tokens, "access_token"), s(&tokens, "refresh_token"));
        // The refresh token, whatever the hint says: revoked, and its access token with it.
        let r = revoke(
            &h,
            (WEB, WEB_SECRET),
            &[("token", refresh), ("token_type_hint", hint)],
        );
        assert_eq!(r.status(), 200, "{hint}");
        assert_eq!(h.query_invoices(access).status(), 401, "{hint}: cascade");
        let r = refresh_as(&h, Some((WEB, WEB_SECRET)), refresh);
        assert_eq!(oauth_error(r), (400, "invalid_grant".into()), "{hint}");
    }
}
