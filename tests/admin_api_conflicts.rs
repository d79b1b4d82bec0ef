//! Admin API versions: a change sent with a stale `If-Match` (the file was edited by hand, or
//! by another admin, since the `ETag` was read) answers 409 `conflict` and writes nothing: not
//! `apps.toml`, not an icon, no token revoked, no secret replaced.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::Cursor;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::api::*;
use common::*;
use serde_json::{Value, json};

const SA: &str = "vte_e3000000000000000001";
const SA_SECRET: &str = "sa-secret";

// ---------------------------------------------------------------------------------------------
// A small API client: the session cookie and CSRF token kept by hand.

fn apps_bytes(h: &Harness) -> Vec<u8> {
    std::fs::read(h.path("apps.toml")).unwrap()
}

// ---------------------------------------------------------------------------------------------

fn apps_file() -> String {
    format!(
        "{}{}",
        settings(true, false).replace(
            "users_can_manage_secrets = false",
            "users_can_manage_secrets = true"
        ),
        secret_app(SA, SA_SECRET, "rest.all", "aldo"),
    )
}

fn png_uri(w: u32, h: u32, rgb: [u8; 3]) -> String {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([rgb[0], rgb[1], rgb[2], 255]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    format!(
        "data:image/png;base64,{}",
        STANDARD.encode(out.into_inner())
    )
}

fn new_app(id: &str) -> Value {
    json!({"client_id": id, "name": "New", "client_type": "service_account",
           "scope": "rest.all", "user": "aldo", "icon_data": png_uri(8, 8, [1, 2, 3])})
}

/// Every change that writes apps.toml: (caller, method, route, body).
fn changes() -> Vec<(&'static str, &'static str, String, Value)> {
    vec![
        (
            "admin",
            "PUT",
            "settings".into(),
            json!({"oauth_enabled": false}),
        ),
        ("admin", "POST", "apps".into(), new_app("late")),
        (
            "admin",
            "PATCH",
            format!("apps/{SA}"),
            json!({"enabled": false}),
        ),
        ("admin", "DELETE", format!("apps/{SA}"), Value::Null),
        ("admin", "POST", format!("apps/{SA}/secret"), Value::Null),
        ("aldo", "POST", format!("me/apps/{SA}/secret"), Value::Null),
    ]
}

/// Nothing the refused changes would have done happened.
fn assert_nothing_done(h: &Harness, token: &str, want: &[u8], case: &str) {
    assert_eq!(apps_bytes(h), want, "{case}: apps.toml written");
    assert!(!h.path("icons/late.png").exists(), "{case}: icon written");
    assert_eq!(
        h.query_invoices(token).status(),
        200,
        "{case}: token revoked"
    );
    let r = h.token_basic(SA, SA_SECRET, &[("grant_type", "client_credentials")]);
    assert_eq!(r.status(), 200, "{case}: secret replaced or app disabled");
}

/// Waits until the API's version is no longer `old` (the watcher applied a hand edit).
fn fresh_version(h: &Harness, api: &Api, old: &str) -> String {
    let mut now = String::new();
    h.eventually("the hand edit is applied", || {
        now = api.get("apps").etag();
        now != old
    });
    now
}

#[test]
fn a_stale_version_after_a_hand_edit_changes_nothing() {
    let h = Harness::start(&apps_file());
    let admin = Api::login(&h, "admin");
    let aldo = Api::login(&h, "aldo");
    let token = h.token(SA, SA_SECRET);
    let stale = admin.get("apps").etag();
    assert_eq!(admin.get("settings").etag(), stale);
    assert_eq!(admin.get(&format!("apps/{SA}")).etag(), stale);
    let edited = format!("# edited by hand\n{}", apps_file());
    h.write_apps(&edited);
    for (who, method, route, body) in changes() {
        let api = if who == "admin" { &admin } else { &aldo };
        let case = format!("{who}: {method} {route}");
        api.send(method, &route, &body, Some(&stale))
            .err(409, "conflict", &case);
        assert_nothing_done(&h, &token, edited.as_bytes(), &case);
    }
    let audit = std::fs::read_to_string(h.path("data/audit.log")).unwrap_or_default();
    assert!(
        audit.trim().is_empty(),
        "refused changes were audited: {audit}"
    );
    // With the new version the same change goes through.
    let fresh = fresh_version(&h, &admin, &stale);
    let a = admin.send(
        "PATCH",
        &format!("apps/{SA}"),
        &json!({"name": "N"}),
        Some(&fresh),
    );
    assert_eq!(a.ok(200, "fresh version")["name"], "N");
    let text = String::from_utf8(apps_bytes(&h)).unwrap();
    assert!(
        text.starts_with("# edited by hand\n"),
        "the hand edit was kept: {text}"
    );
}

#[test]
fn a_stale_version_after_another_admins_change_changes_nothing() {
    let h = Harness::start(&apps_file());
    let first = Api::login(&h, "admin");
    let second = Api::login(&h, "admin");
    let aldo = Api::login(&h, "aldo");
    let token = h.token(SA, SA_SECRET);
    let stale = first.get(&format!("apps/{SA}")).etag();
    let other = second.call(
        "PATCH",
        &format!("apps/{SA}"),
        &json!({"description": "theirs"}),
    );
    let current = other.ok(200, "the other admin's change");
    assert_eq!(current["description"], "theirs");
    let theirs = apps_bytes(&h);
    for (who, method, route, body) in changes() {
        let api = if who == "admin" { &first } else { &aldo };
        let case = format!("{who}: {method} {route}");
        api.send(method, &route, &body, Some(&stale))
            .err(409, "conflict", &case);
        assert_nothing_done(&h, &token, &theirs, &case);
    }
    let now = first.get(&format!("apps/{SA}"));
    assert_eq!(now.ok(200, "reload")["description"], "theirs");
    assert_ne!(now.etag(), stale);
    // Without If-Match a change applies to the current file.
    let a = first.call("PATCH", &format!("apps/{SA}"), &json!({"name": "mine"}));
    assert_eq!(a.ok(200, "no If-Match")["description"], "theirs");
}

#[test]
fn an_unquoted_or_garbage_version_is_judged_like_any_other() {
    let h = Harness::start(&apps_file());
    let api = Api::login(&h, "admin");
    let current = api.get("apps").etag();
    let before = apps_bytes(&h);
    for bad in ["\"0000\"", "garbage", "*x"] {
        api.send(
            "PUT",
            "settings",
            &json!({"oauth_enabled": false}),
            Some(bad),
        )
        .err(409, "conflict", bad);
        assert_eq!(apps_bytes(&h), before, "{bad}");
    }
    let unquoted = current.trim_matches('"').to_string();
    let a = api.send(
        "PUT",
        "settings",
        &json!({"allow_admin_users": true}),
        Some(&unquoted),
    );
    a.ok(200, "the version without quotes");
}

/// An app with an icon made through the API, and the icon's bytes.
fn app_with_icon(h: &Harness, api: &Api) -> Vec<u8> {
    let mut body = new_app("iconic");
    body["icon_data"] = json!(png_uri(16, 16, [200, 0, 0]));
    api.call("POST", "apps", &body).ok(201, "app with an icon");
    std::fs::read(h.path("icons/iconic.png")).unwrap()
}

#[test]
fn a_stale_icon_change_keeps_the_icon_file() {
    let h = Harness::start(&apps_file());
    let api = Api::login(&h, "admin");
    let icon = app_with_icon(&h, &api);
    let stale = api.get("apps/iconic").etag();
    api.call(
        "PATCH",
        &format!("apps/{SA}"),
        &json!({"description": "moved on"}),
    )
    .ok(200, "another change");
    let before = apps_bytes(&h);
    let body = json!({"icon_data": png_uri(16, 16, [0, 0, 200])});
    api.send("PATCH", "apps/iconic", &body, Some(&stale))
        .err(409, "conflict", "stale icon change");
    assert_eq!(apps_bytes(&h), before);
    let after = std::fs::read(h.path("icons/iconic.png")).unwrap();
    assert!(after == icon, "a refused change replaced icons/iconic.png");
}

#[test]
fn a_stale_icon_removal_keeps_the_icon_file() {
    let h = Harness::start(&apps_file());
    let api = Api::login(&h, "admin");
    let icon = app_with_icon(&h, &api);
    let stale = api.get("apps/iconic").etag();
    api.call(
        "PATCH",
        &format!("apps/{SA}"),
        &json!({"description": "moved on"}),
    )
    .ok(200, "another change");
    let before = apps_bytes(&h);
    api.send("PATCH", "apps/iconic", &json!({"icon": ""}), Some(&stale))
        .err(409, "conflict", "stale icon removal");
    assert_eq!(apps_bytes(&h), before);
    let after = std::fs::read(h.path("icons/iconic.png")).ok();
    assert!(
        after.as_deref() == Some(icon.as_slice()),
        "a refused change removed the icon"
    );
    let shown = api.get("apps/iconic");
    assert!(
        shown.ok(200, "GET")["icon_data"].is_string(),
        "the icon is gone: {}",
        shown.body
    );
}

#[test]
fn a_stale_revocation_revokes_nothing() {
    let h = Harness::start(&apps_file());
    let api = Api::login(&h, "admin");
    let aldo = Api::login(&h, "aldo");
    let token = h.token(SA, SA_SECRET);
    let stale = api.get("apps").etag();
    h.write_apps(&format!("# edited by hand\n{}", apps_file()));
    let edited = apps_bytes(&h);
    let admin_route = format!("apps/{SA}/revoke");
    api.send("POST", &admin_route, &Value::Null, Some(&stale))
        .err(409, "conflict", "admin revoke");
    assert_nothing_done(&h, &token, &edited, "admin revoke");
    let me_route = format!("me/apps/{SA}/revoke");
    aldo.send("POST", &me_route, &Value::Null, Some(&stale))
        .err(409, "conflict", "own revoke");
    assert_nothing_done(&h, &token, &edited, "own revoke");
}

#[test]
fn of_parallel_changes_with_the_same_version_exactly_one_wins() {
    let h = Harness::start(&apps_file());
    let api = Api::login(&h, "admin");
    let version = api.get("apps").etag();
    let route = format!("apps/{SA}");
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|i| {
                let (api, route, version) = (&api, &route, &version);
                s.spawn(move || {
                    let body = json!({"description": format!("writer {i}")});
                    let a = api.send("PATCH", route, &body, Some(version));
                    (a.status, format!("writer {i}"))
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let winners: Vec<&String> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, w)| w)
        .collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    assert!(
        answers.iter().all(|(s, _)| *s == 200 || *s == 409),
        "{answers:?}"
    );
    let text = String::from_utf8(apps_bytes(&h)).unwrap();
    assert!(
        text.contains(&format!("description = \"{}\"", winners[0])),
        "{text}"
    );
    assert_eq!(text.matches("description").count(), 1, "{text}");
    // Without If-Match, parallel changes all apply, one after the other.
    std::thread::scope(|s| {
        for i in 0..6 {
            let (api, route) = (&api, &route);
            s.spawn(move || {
                let body = json!({"authorized_users": ["aldo"], "name": format!("n{i}")});
                api.send("PATCH", route, &body, None)
                    .ok(200, "parallel change");
            });
        }
    });
    let text = String::from_utf8(apps_bytes(&h)).unwrap();
    assert_eq!(text.matches("name = \"n").count(), 1, "{text}");
    assert!(text.parse::<toml::Table>().is_ok(), "{text}");
}

#[test]
fn parallel_creates_of_one_id_leave_the_winners_icon() {
    let opts = Options {
        server_extra: "threads = 4\n".into(),
        ..Options::default()
    };
    let h = Harness::start_with(&apps_file(), opts);
    let api = Api::login(&h, "admin");
    let mut failures = Vec::new();
    for round in 0..6 {
        let id = format!("dup{round}");
        let answers: Vec<u16> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..8u8)
                .map(|i| {
                    let (api, id) = (&api, &id);
                    s.spawn(move || {
                        let mut body = new_app(id);
                        body["icon_data"] = json!(png_uri(200, 200, [i * 30, 0, 0]));
                        api.send("POST", "apps", &body, None).status
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let winners = answers.iter().filter(|s| **s == 201).count();
        let refused = answers.iter().all(|s| matches!(s, 201 | 400 | 409));
        let icon = h.path(&format!("icons/{id}.png")).exists();
        let shown = api.get(&format!("apps/{id}")).body["icon_data"].is_string();
        if winners != 1 || !refused || !icon || !shown {
            failures.push(format!(
                "{id}: answers {answers:?}, icon file {icon}, icon_data {shown}"
            ));
        }
    }
    let log = h.log();
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("admin API failure"))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}\n{errors:#?}");
}
