//! Attacks at the proxy with tokens and identity headers: every unusable token is refused before
//! the CRM; identity and address headers in every spelling (case, repeats, comma-joined values,
//! underscores, hop-by-hop nominations) never reach it, in both upstream modes, while the
//! gateway's own identity headers always do; method overrides are dropped.

use super::*;

/// The CRM requests so far.
fn crm_calls(h: &Harness) -> usize {
    h.crm.received().len()
}

/// A query with a raw `Authorization` value (or none); the status.
fn query_with(h: &Harness, authorization: Option<&str>) -> u16 {
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let body = r#"{"query":"SELECT * FROM Invoice;"}"#;
    h.raw_status(&format!(
        "POST /restapi/v1/vtews/query HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
}

/// `Authorization` values that must be refused, with the status: `good` is a live access token,
/// `revoked` a revoked one, `refresh` a refresh token and `code` a used code.
fn unusable_authorizations(
    good: &str,
    revoked: &str,
    refresh: &str,
    code: &str,
) -> Vec<(&'static str, String, u16)> {
    let body = &good[7..];
    vec![
        ("revoked", format!("Bearer {revoked}"), 401),
        (
            "unknown, well formed",
            format!("Bearer crm_at_{}", "A".repeat(43)),
            401,
        ),
        (
            "one character short",
            format!("Bearer {}", &good[..good.len() - 1]),
            401,
        ),
        ("one character more", format!("Bearer {good}A"), 401),
        (
            "another character",
            format!("Bearer {}B", &good[..good.len() - 1]),
            401,
        ),
        (
            "refresh prefix on an access token",
            format!("Bearer crm_rt_{body}"),
            401,
        ),
        ("no prefix", format!("Bearer {body}"), 401),
        ("a refresh token", format!("Bearer {refresh}"), 401),
        ("a used code", format!("Bearer {code}"), 401),
        (
            "a client secret",
            format!("Bearer {}", "s3cret-with-colon-and-plus"),
            401,
        ),
        ("Basic credentials", "Basic YWxkbzphay1hbGRv".into(), 401),
        ("an empty Bearer", "Bearer".into(), 400),
        ("Bearer and spaces", "Bearer    ".into(), 400),
        ("a tab for the space", format!("Bearer\t{good}"), 401),
        (
            "a comma-joined pair",
            format!("Bearer {good}, Bearer {good}"),
            400,
        ),
        ("quotes", format!("Bearer \"{good}\""), 400),
        ("a second word", format!("Bearer {good} x"), 400),
    ]
}

#[test]
fn unusable_tokens_are_refused_before_the_crm() {
    let h = Harness::start(&apps());
    let good = h.token(SA, SA_SECRET);
    let revoked = h.token(SA, SA_SECRET);
    let r = h
        .http
        .post(h.url("/oauth2/v2.0/revoke.php"))
        .basic_auth(SA, Some(SA_SECRET))
        .form(&[("token", revoked.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let b = Browser::new(&h);
    let page = b.get(&authorize_url(&h, WEB, WEB_CB, "st", None));
    let done = b.decide(&b.login(&page, "aldo", "aldo-pw"), "allow");
    let (code, _) = code_and_state(&done.location, WEB_CB);
    let tokens = exchange(&h, WEB, Some(WEB_SECRET), &code, WEB_CB, None);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let cases = unusable_authorizations(&good, &revoked, refresh, &code);
    let mut wrong = Vec::new();
    for (case, value, want) in cases {
        let before = crm_calls(&h);
        let got = query_with(&h, Some(&value));
        if got != want || crm_calls(&h) != before {
            wrong.push(format!(
                "{case}: {got}, CRM calls {before} -> {}",
                crm_calls(&h)
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(query_with(&h, None), 401, "no token");
    // Any case of the scheme, and the good token, get through.
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        assert_eq!(
            query_with(&h, Some(&format!("{scheme} {good}"))),
            200,
            "{scheme}"
        );
    }
}

#[test]
fn an_expired_access_token_is_401_and_never_reaches_the_crm() {
    let opts = Options {
        extra: "[tokens]\naccess_token_ttl = 1\n".into(),
        ..Options::default()
    };
    let h = Harness::start_with(&apps(), opts);
    let t = h.token(SA, SA_SECRET);
    h.eventually("the token expires", || h.query_invoices(&t).status() == 401);
    let before = crm_calls(&h);
    let r = h.query_invoices(&t);
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(challenge.contains("expired"), "{challenge}");
    assert_eq!(crm_calls(&h), before);
    assert!(
        h.log().contains("expired token"),
        "the log names the reason"
    );
}

/// Identity and address headers a client might forge, in every spelling.
const FORGED: &[&str] = &[
    "X-Crm-User: admin",
    "x-crm-user: admin",
    "X-CRM-USER: admin",
    "X_Crm_User: admin",
    "x_crm_user: admin",
    "X-Crm_User: admin",
    "X-Crm-User: aldo, admin",
    "X-Crm-Scope: rest.all",
    "X_CRM_SCOPE: rest.all",
    "X-Crm-Client-Id: vte_forged",
    "X-Crm-Gateway-Signature: forged",
    "X-Crm-Gateway-Timestamp: 1",
    "X-Crm-Anything: admin",
    "Client-IP: 6.6.6.6",
    "Client_IP: 6.6.6.6",
    "X-Real-IP: 6.6.6.6",
    "X_Real_IP: 6.6.6.6",
    "X-Forwarded-For: 6.6.6.6, 7.7.7.7",
    "X-Forwarded-For: 8.8.8.8",
    "X_Forwarded_For: 6.6.6.6",
    "Forwarded: for=6.6.6.6;by=7.7.7.7",
    "X-Request-Id: forged",
    "Proxy-Authorization: Basic YWRtaW46YWRtaW4=",
    "Authorization: Basic YWRtaW46YWstYWRtaW4=",
];

/// Sends a query with the token and every forged header, plus `connection` as the Connection
/// header; the status.
fn forged_query(h: &Harness, token: &str, connection: &str) -> u16 {
    let body = r#"{"query":"SELECT * FROM Invoice;"}"#;
    let forged: String = FORGED
        .iter()
        .filter(|l| !l.starts_with("Authorization"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    h.raw_status(&format!(
        "POST /restapi/v1/vtews/query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         {forged}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{body}",
        body.len()
    ))
}

/// What the CRM got must be the gateway's identity for aldo and nothing forged.
fn assert_only_the_gateways_identity(h: &Harness, mode: &str, case: &str) {
    let got = h.last_received();
    let fold = |n: &str| n.to_ascii_lowercase().replace('_', "-");
    assert_eq!(got.header_values("x-crm-user"), ["aldo"], "{mode}, {case}");
    assert_eq!(got.header_values("x-crm-client-id"), [SA], "{mode}, {case}");
    assert_eq!(
        got.header_values("x-crm-scope"),
        ["rest.all"],
        "{mode}, {case}"
    );
    assert_eq!(
        got.header_values("x-forwarded-for"),
        ["127.0.0.1"],
        "{mode}, {case}"
    );
    let auth = got.header_values("authorization");
    if mode == "basic" {
        assert_eq!(
            auth,
            [crmgate::users::basic_header("aldo", "ak-aldo").as_str()],
            "{case}"
        );
    } else {
        assert!(auth.is_empty(), "{case}: {auth:?}");
    }
    for (name, value) in &got.headers {
        let f = fold(name);
        let ours = matches!(
            name.as_str(),
            "x-crm-user"
                | "x-crm-client-id"
                | "x-crm-scope"
                | "x-forwarded-for"
                | "x-request-id"
                | "authorization"
        );
        assert!(
            ours || !(f.starts_with("x-crm-")
                || matches!(
                    f.as_str(),
                    "client-ip"
                        | "x-real-ip"
                        | "forwarded"
                        | "x-forwarded-for"
                        | "proxy-authorization"
                        | "x-request-id"
                )),
            "{mode}, {case}: {name}: {value} reached the CRM"
        );
        assert!(
            !value.contains("6.6.6.6") && !value.contains("8.8.8.8") && !value.contains("forged"),
            "{mode}, {case}: {name}: {value}"
        );
    }
}

#[test]
fn identity_headers_in_every_spelling_never_reach_the_crm() {
    for mode in ["basic", "headers"] {
        let opts = Options {
            upstream_auth: mode,
            ..Options::default()
        };
        let h = Harness::start_with(&apps(), opts);
        let t = h.token(SA, SA_SECRET);
        for connection in [
            "close",
            "close, X-Crm-User, Authorization, X-Crm-Scope, X-Crm-Client-Id",
            "close, X-Request-Id, Client-IP, X-Real-IP, Forwarded",
            "close, x_crm_user, X-CRM-USER",
        ] {
            let before = crm_calls(&h);
            assert_eq!(
                forged_query(&h, &t, connection),
                200,
                "{mode}, Connection: {connection}"
            );
            assert_eq!(crm_calls(&h), before + 1);
            assert_only_the_gateways_identity(&h, mode, &format!("Connection: {connection}"));
            let got = h.last_received();
            for hop in got.header_values("connection") {
                let hop = hop.to_ascii_lowercase();
                assert!(
                    !hop.contains("crm") && !hop.contains("authorization"),
                    "{mode}: Connection: {hop}"
                );
            }
        }
    }
}

#[test]
fn method_override_headers_in_every_spelling_are_dropped() {
    let h = Harness::start(&apps());
    let read = h.token_basic(
        SA,
        SA_SECRET,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "rest.all.read"),
        ],
    );
    let read = json(read)["access_token"].as_str().unwrap().to_string();
    let body = r#"{"query":"SELECT * FROM Invoice;"}"#;
    for header in [
        "X-HTTP-Method-Override: DELETE",
        "x-http-method-override: PUT",
        "X_HTTP_Method_Override: DELETE",
        "X-HTTP-Method: DELETE",
        "X-Method-Override: DELETE",
        "X_Method_Override: DELETE",
    ] {
        let status = h.raw_status(&format!(
            "POST /restapi/v1/vtews/query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {read}\r\n{header}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        assert_eq!(status, 200, "{header}");
        let got = h.last_received();
        assert_eq!(got.method, "POST", "{header}");
        for (name, value) in &got.headers {
            assert!(
                !value.contains("DELETE") && !value.contains("PUT"),
                "{header}: {name}: {value} reached the CRM"
            );
        }
    }
}

#[test]
fn hop_by_hop_nominations_of_the_forwarding_headers_are_refused_before_the_crm() {
    let h = Harness::start(&apps());
    let t = h.token(SA, SA_SECRET);
    // Naming the address chain or Host hop-by-hop would let a later hop drop what the gateway
    // set: such requests are refused as malformed, and never forwarded.
    for connection in [
        "close, X-Forwarded-For",
        "close, Host",
        "close, \"X-Crm-User\"",
    ] {
        let before = crm_calls(&h);
        assert_eq!(
            forged_query(&h, &t, connection),
            400,
            "Connection: {connection}"
        );
        assert_eq!(
            crm_calls(&h),
            before,
            "Connection: {connection} reached the CRM"
        );
    }
    assert_eq!(forged_query(&h, &t, "close"), 200);
    // The refusal says what went wrong: the request, not the CRM.
    let r = h
        .http
        .post(h.url("/restapi/v1/vtews/query"))
        .bearer_auth(&t)
        .header("Connection", "X-Forwarded-For")
        .json(&serde_json::json!({"query": "SELECT * FROM Invoice;"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let v = json(r);
    assert_eq!(v["error"], "bad_request", "{v}");
    assert!(
        !v["error_description"].as_str().unwrap().contains("CRM"),
        "{v}"
    );
}
