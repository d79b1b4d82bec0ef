//! CORS for single-page apps: the origins of registered native-app redirect URIs may call the
//! token and revocation endpoints and the REST API from a browser; no other origin gets CORS
//! headers, and preflights on protected paths never reach the CRM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::browser::*;
use common::*;

const SPA: &str = "http://127.0.0.1:7777";
const EVIL: &str = "https://evil.example";

fn preflight(h: &Harness, path: &str, origin: &str) -> reqwest::blocking::Response {
    h.http
        .request(reqwest::Method::OPTIONS, h.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .unwrap()
}

fn acao(r: &reqwest::blocking::Response) -> Option<String> {
    r.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string())
}

#[test]
fn native_app_origins_pass_preflights_and_others_do_not() {
    let apps = format!(
        "{}{}",
        web_apps(),
        secret_app("vte_sa", "s", "rest.all", "aldo")
    );
    let h = Harness::start(&apps);
    for path in [
        "/oauth2/v2.0/token.php",
        "/oauth2/v2.0/revoke.php",
        "/restapi/v1/vtews/query",
    ] {
        let before = h.crm.received().len();
        let ok = preflight(&h, path, SPA);
        assert_eq!(ok.status(), 204, "{path}");
        assert_eq!(acao(&ok).as_deref(), Some(SPA), "{path}");
        assert!(
            ok.headers()["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("Authorization")
        );
        let no = preflight(&h, path, EVIL);
        assert_eq!(acao(&no), None, "{path}");
        let web_origin = preflight(&h, path, "https://portal.example");
        assert_eq!(
            acao(&web_origin),
            None,
            "web app origins are server-side: no CORS"
        );
        assert_eq!(
            h.crm.received().len(),
            before,
            "a preflight reached the CRM"
        );
    }
}

#[test]
fn responses_to_allowed_origins_carry_cors_headers() {
    let apps = format!(
        "{}{}",
        web_apps(),
        secret_app("vte_sa", "s", "rest.all", "aldo")
    );
    let h = Harness::start(&apps);
    let r = h
        .http
        .post(h.token_url())
        .header("Origin", SPA)
        .basic_auth("vte_sa", Some("s"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(acao(&r).as_deref(), Some(SPA));
    let token = json(r)["access_token"].as_str().unwrap().to_string();
    let body = serde_json::json!({"query": "SELECT * FROM Invoice;"});
    let call = |origin: &str, t: &str| {
        h.http
            .post(h.url("/restapi/v1/vtews/query"))
            .header("Origin", origin)
            .bearer_auth(t)
            .json(&body)
            .send()
            .unwrap()
    };
    let ok = call(SPA, &token);
    assert_eq!(ok.status(), 200);
    assert_eq!(
        acao(&ok).as_deref(),
        Some(SPA),
        "upstream answers get CORS headers"
    );
    let refused = call(SPA, "crm_at_nope");
    assert_eq!(refused.status(), 401);
    assert_eq!(
        acao(&refused).as_deref(),
        Some(SPA),
        "errors must be readable by the app"
    );
    assert_eq!(acao(&call(EVIL, &token)), None);
}
