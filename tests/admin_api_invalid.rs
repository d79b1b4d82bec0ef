//! Admin API input checks: every bad value (redirect URIs, users, scopes, icons, unknown or
//! read-only keys, wrong types, bodies that are not JSON objects) answers 400 `invalid` with a
//! message, and nothing is written: not `apps.toml`, not an icon, not the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::Cursor;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::api::*;
use common::browser::{NATIVE, NATIVE_CB, WEB, WEB_CB, WEB_SECRET, native_app, web_app};
use common::*;
use serde_json::{Value, json};

const SA: &str = "vte_e4000000000000000001";
const SA_SECRET: &str = "sa-secret";
const JWT: &str = "vte_e4000000000000000002";

// ---------------------------------------------------------------------------------------------
// A small API client: the session cookie and CSRF token kept by hand.

// ---------------------------------------------------------------------------------------------

fn harness() -> Harness {
    let key = common::jwt::Key::es256();
    let apps = format!(
        "# keep me\n{}{}{}{}{}",
        settings(true, false).replace(
            "users_can_manage_secrets = false",
            "users_can_manage_secrets = true"
        ),
        secret_app(SA, SA_SECRET, "rest.all", "aldo"),
        web_app(WEB, WEB_SECRET, "rest.all.read", WEB_CB, true),
        native_app(NATIVE, "rest.all", NATIVE_CB),
        jwt_app(JWT, &key.public_pem(), "rest.all", "aldo"),
    );
    Harness::start(&apps)
}

/// Snapshot of what a refused request must not change.
struct Disk {
    apps: Vec<u8>,
}

impl Disk {
    fn take(h: &Harness) -> Self {
        Self {
            apps: std::fs::read(h.path("apps.toml")).unwrap(),
        }
    }

    fn assert_same(&self, h: &Harness, case: &str) {
        let now = std::fs::read(h.path("apps.toml")).unwrap();
        assert!(
            now == self.apps,
            "{case}: apps.toml changed:\n{}",
            String::from_utf8_lossy(&now)
        );
        let icons: Vec<_> = std::fs::read_dir(h.path("icons"))
            .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(icons.is_empty(), "{case}: icons written: {icons:?}");
        let audit = std::fs::read_to_string(h.path("data/audit.log")).unwrap_or_default();
        assert!(audit.trim().is_empty(), "{case}: audited: {audit}");
    }
}

fn png_bytes(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([9, 99, 199, 255]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A data URI of more than 1 MiB: a real PNG header followed by filler.
fn huge_icon() -> String {
    let mut bytes = png_bytes(4, 4);
    bytes.resize(1024 * 1024 + 4096, 0x42);
    format!("data:image/png;base64,{}", STANDARD.encode(bytes))
}

/// Icon values that must be refused.
fn bad_icons() -> Vec<(&'static str, String)> {
    vec![
        ("huge icon", huge_icon()),
        (
            "text icon",
            format!("data:text/plain;base64,{}", STANDARD.encode("hello world")),
        ),
        (
            "text labelled png",
            format!("data:image/png;base64,{}", STANDARD.encode("hello")),
        ),
        (
            "svg icon",
            format!("data:image/svg+xml;base64,{}", STANDARD.encode("<svg/>")),
        ),
        ("not base64", "data:image/png;base64,@@@@".into()),
        ("not a data URI", "https://example.com/icon.png".into()),
        (
            "too many pixels",
            format!(
                "data:image/png;base64,{}",
                STANDARD.encode(png_bytes(9000, 1))
            ),
        ),
    ]
}

fn sa(extra: Value) -> Value {
    let mut v = json!({"name": "New", "client_type": "service_account", "scope": "rest.all",
                       "user": "aldo"});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    v
}

fn web(extra: Value) -> Value {
    let mut v = json!({"name": "New web", "client_type": "web_app", "scope": "rest.all.read",
                       "redirect_uris": ["https://app.example/cb"]});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    v
}

#[test]
fn bad_new_apps_are_refused_with_nothing_written() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let disk = Disk::take(&h);
    let mut cases = vec![
        (
            "plain http redirect",
            web(json!({"redirect_uris": ["http://evil.example/cb"]})),
        ),
        (
            "fragment",
            web(json!({"redirect_uris": ["https://app.example/cb#frag"]})),
        ),
        ("relative redirect", web(json!({"redirect_uris": ["/cb"]}))),
        (
            "javascript redirect",
            web(json!({"redirect_uris": ["javascript:alert(1)"]})),
        ),
        ("no redirect", web(json!({"redirect_uris": []}))),
        ("unknown user", sa(json!({"user": "zed"}))),
        (
            "unknown authorized user",
            web(json!({"authorized_users": ["aldo", "zed"]})),
        ),
        ("no user", sa(json!({"user": null}))),
        ("bad scope", sa(json!({"scope": "rest.everything"}))),
        ("unknown key", sa(json!({"colour": "red"}))),
        ("listing-only key", sa(json!({"active_tokens": 3}))),
        ("bad client type", sa(json!({"client_type": "robot"}))),
        ("bad secret type", sa(json!({"secret_type": "password"}))),
        ("jwt web app", web(json!({"secret_type": "signed_jwt"}))),
        (
            "bad key algorithm",
            sa(json!({"secret_type": "signed_jwt", "key_algorithm": "HS256"})),
        ),
        ("bad client id", sa(json!({"client_id": "bad id!"}))),
        ("empty name", sa(json!({"name": " "}))),
        ("no name", sa(json!({"name": null}))),
        ("string for a flag", sa(json!({"enabled": "yes"}))),
        ("float", sa(json!({"enabled": 1.5}))),
        ("nested object", sa(json!({"name": {"a": 1}}))),
    ];
    for (case, icon) in bad_icons() {
        cases.push((case, sa(json!({"icon_data": icon}))));
    }
    for (case, body) in cases {
        api.call("POST", "apps", &body).err(400, "invalid", case);
        disk.assert_same(&h, case);
    }
    let listed = api.get("apps");
    assert_eq!(
        listed.ok(200, "GET apps")["apps"].as_array().unwrap().len(),
        4
    );
}

#[test]
fn file_validation_problems_name_the_line_and_key() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let a = api.call("POST", "apps", &sa(json!({"scope": "rest.everything"})));
    a.err(400, "invalid", "bad scope");
    let problems = a.body["problems"].as_array().cloned().unwrap_or_default();
    assert!(
        problems.iter().any(|p| {
            let p = p.as_str().unwrap_or_default();
            p.contains("apps.toml:") && p.contains("scope")
        }),
        "{}",
        a.body
    );
    let a = api.call(
        "PATCH",
        &format!("apps/{WEB}"),
        &json!({"redirect_uris": ["http://evil.example/cb"]}),
    );
    a.err(400, "invalid", "plain http redirect");
    let text = a.body.to_string();
    assert!(text.contains("redirect_uris"), "{text}");
}

#[test]
fn bad_changes_are_refused_with_nothing_written() {
    let h = harness();
    let token = h.token(SA, SA_SECRET);
    let api = Api::login(&h, "admin");
    let disk = Disk::take(&h);
    let sa_route = format!("apps/{SA}");
    let web_route = format!("apps/{WEB}");
    let mut cases = vec![
        (
            &web_route,
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "plain http",
        ),
        (
            &web_route,
            json!({"redirect_uris": ["https://app.example/cb#x"]}),
            "fragment",
        ),
        (&web_route, json!({"redirect_uris": []}), "no redirect"),
        (
            &web_route,
            json!({"authorized_users": ["zed"]}),
            "unknown authorized user",
        ),
        (&sa_route, json!({"user": "zed"}), "unknown user"),
        (&sa_route, json!({"scope": "rest.everything"}), "bad scope"),
        (&sa_route, json!({"colour": "red"}), "unknown key"),
        (&sa_route, json!({"client_id": "other"}), "client_id"),
        (&sa_route, json!({"client_type": "web_app"}), "client_type"),
        (
            &sa_route,
            json!({"secret_type": "signed_jwt"}),
            "secret_type",
        ),
        (
            &sa_route,
            json!({"client_secret": "chosen"}),
            "client_secret",
        ),
        (&sa_route, json!({"enabled": "no"}), "string for a flag"),
        (&sa_route, json!({"name": ""}), "empty name"),
        (
            &sa_route,
            json!({"icon": "no/such/icon.png", "name": 5}),
            "number for a name",
        ),
    ];
    for (case, icon) in bad_icons() {
        cases.push((&sa_route, json!({"icon_data": icon}), case));
    }
    for (route, body, case) in cases {
        api.call("PATCH", route, &body).err(400, "invalid", case);
        disk.assert_same(&h, case);
    }
    assert_eq!(
        h.query_invoices(&token).status(),
        200,
        "the app still works"
    );
}

#[test]
fn an_invalid_change_keeps_the_icon_file() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let body = sa(
        json!({"client_id": "iconic", "icon_data": format!("data:image/png;base64,{}",
                   STANDARD.encode(png_bytes(8, 8)))}),
    );
    api.call("POST", "apps", &body).ok(201, "app with an icon");
    let icon = std::fs::read(h.path("icons/iconic.png")).unwrap();
    let apps = std::fs::read(h.path("apps.toml")).unwrap();
    let other = format!(
        "data:image/png;base64,{}",
        STANDARD.encode(png_bytes(32, 32))
    );
    let change = json!({"icon_data": other, "scope": "rest.everything"});
    api.call("PATCH", "apps/iconic", &change)
        .err(400, "invalid", "bad scope with an icon");
    assert!(std::fs::read(h.path("apps.toml")).unwrap() == apps);
    let after = std::fs::read(h.path("icons/iconic.png")).unwrap();
    assert!(after == icon, "a refused change replaced icons/iconic.png");
}

#[test]
fn bad_settings_and_secret_requests_are_refused() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let aldo = Api::login(&h, "aldo");
    let disk = Disk::take(&h);
    let cases = [
        (
            &api,
            "PUT",
            "settings".to_string(),
            json!({"colour": true}),
            "unknown setting",
        ),
        (
            &api,
            "PUT",
            "settings".into(),
            json!({"oauth_enabled": "no"}),
            "string setting",
        ),
        (
            &api,
            "PUT",
            "settings".into(),
            json!({"allow_admin_users": 1}),
            "number setting",
        ),
        (
            &api,
            "PUT",
            "settings".into(),
            json!(["oauth_enabled"]),
            "array body",
        ),
        (
            &api,
            "POST",
            format!("apps/{SA}/secret"),
            json!({"colour": 1}),
            "unknown key",
        ),
        (
            &api,
            "POST",
            format!("apps/{JWT}/secret"),
            json!({"key_algorithm": "HS256"}),
            "alg",
        ),
        (
            &api,
            "POST",
            format!("apps/{NATIVE}/secret"),
            Value::Null,
            "native app",
        ),
        (
            &aldo,
            "POST",
            format!("me/apps/{SA}/secret"),
            json!({"colour": 1}),
            "own, unknown key",
        ),
    ];
    for (who, method, route, body, case) in cases {
        who.call(method, &route, &body).err(400, "invalid", case);
        disk.assert_same(&h, case);
    }
    h.token(SA, SA_SECRET);
}

#[test]
fn bodies_that_are_not_json_objects_are_refused() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let disk = Disk::take(&h);
    let route = format!("apps/{SA}");
    let cases: [(&str, &str, &[u8]); 5] = [
        ("form body", "application/x-www-form-urlencoded", b"name=x"),
        ("no content type", "", b"{\"name\": \"x\"}"),
        ("broken JSON", "application/json", b"{\"name\": "),
        ("a string", "application/json", b"\"name\""),
        ("an array", "application/json", b"[{\"name\": \"x\"}]"),
    ];
    for (case, content_type, body) in cases {
        api.raw("PATCH", &route, content_type, body.to_vec())
            .err(400, "invalid", case);
        api.raw("POST", "apps", content_type, body.to_vec())
            .err(400, "invalid", case);
        disk.assert_same(&h, case);
    }
    let login = api.raw("POST", "login", "text/plain", b"{}".to_vec());
    login.err(400, "invalid", "login without JSON");
}

#[test]
fn an_oversized_body_is_an_api_error_with_a_message() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let disk = Disk::take(&h);
    let filler = "A".repeat(3 * 1024 * 1024);
    let body = sa(json!({"icon_data": format!("data:image/png;base64,{filler}")}));
    let a = api.call("POST", "apps", &body);
    assert_eq!(a.status, 413, "{}", a.body);
    let message = a.body["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "no message: {}", a.body);
    disk.assert_same(&h, "oversized body");
}
