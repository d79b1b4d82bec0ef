//! The registry and users shared by gateways on one Redis: the first node's files seed the
//! store, an admin edit on one node applies on every node within a second (compare-and-set on
//! the version, so `If-Match` holds across nodes), icons travel with the registry, and
//! `crmgate registry pull` / `push` edit the shared document as a TOML file, refusing an
//! invalid or stale file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};
use std::time::Duration;

use crate::common;
use crate::several_gateways::{APP, KEY, apps, cluster, redis_section, within};

use common::api::Api;
use common::redis_server::TestRedis;
use common::*;
use serde_json::json;

const NEW: &str = "vte_c0000000000000000002";

fn cli(h: &Harness, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crmgate"))
        .current_dir(h.dir.path())
        .args(args)
        .output()
        .unwrap()
}

fn cc(h: &Harness, id: &str, secret: &str) -> (u16, String) {
    let r = h.token_basic(id, secret, &[("grant_type", "client_credentials")]);
    let status = r.status().as_u16();
    let error = json(r)["error"].as_str().unwrap_or_default().to_string();
    (status, error)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn an_admin_edit_on_one_gateway_applies_on_every_gateway_and_if_match_holds_across_them() {
    let redis = TestRedis::start();
    let nodes = cluster(&redis, &apps(), "");
    let token = nodes[2].token(APP, "s-a");
    assert_eq!(nodes[2].query_invoices(&token).status(), 200, "cached on c");
    let on_a = Api::login(&nodes[0], "admin");
    let on_b = Api::login(&nodes[1], "admin");
    let route = format!("apps/{APP}");
    let seen = on_b.get(&route).etag();
    assert_eq!(on_a.get(&route).etag(), seen, "one version on every node");
    let body = json!({"enabled": false});
    let done = on_a.send("PATCH", &route, &body, Some(&seen));
    done.ok(200, "disable on a");
    let took = within("disabled app refused on c", Duration::from_secs(1), || {
        nodes[2].query_invoices(&token).status() == 401
    });
    eprintln!("c refused the disabled app's token {took:?} after a's 200");
    assert_eq!(cc(&nodes[1], APP, "s-a"), (401, "invalid_client".into()));
    // b's view is stale now: its If-Match must not win over a's edit.
    let stale = on_b.send("PATCH", &route, &json!({"enabled": true}), Some(&seen));
    stale.err(409, "conflict", "stale If-Match on b");
    let on_c = Api::login(&nodes[2], "admin");
    let now = on_c.get(&route);
    assert_eq!(now.ok(200, "c")["enabled"], false);
    assert_eq!(now.etag(), done.etag(), "c serves a's version");
    let copy = std::fs::read_to_string(nodes[2].path("apps.toml")).unwrap();
    assert!(copy.contains("enabled = false"), "c's copy: {copy}");
    // Without If-Match an edit applies to the current version, wherever it was made.
    on_b.call("PATCH", &route, &json!({"enabled": true}))
        .ok(200, "enable on b");
    within("enabled again on a", Duration::from_secs(1), || {
        cc(&nodes[0], APP, "s-a").0 == 200
    });
}

#[test]
fn a_node_with_another_local_registry_serves_the_shared_one_and_keeps_its_copy() {
    let redis = TestRedis::start();
    let first = Harness::start_with(&apps(), shared_options(&redis));
    let other = format!(
        "{}{}",
        settings(true, false),
        secret_app(NEW, "s-new", "rest.all", "aldo")
    );
    let second = Harness::start_with(&other, shared_options(&redis));
    assert_eq!(cc(&second, APP, "s-a").0, 200);
    assert_eq!(
        cc(&second, NEW, "s-new"),
        (401, "invalid_client".into()),
        "the second node's own file is not applied"
    );
    let kept = std::fs::read_to_string(second.path("apps.toml.replaced")).unwrap();
    assert_eq!(kept, other, "its file is kept beside the copy");
    assert_eq!(
        std::fs::read_to_string(second.path("apps.toml")).unwrap(),
        apps()
    );
    assert_eq!(cc(&first, APP, "s-a").0, 200);
}

fn shared_options(redis: &TestRedis) -> Options {
    Options {
        extra: redis_section(redis, 2000),
        master_key: Some(KEY),
        ..Options::default()
    }
}

#[test]
fn registry_pull_and_push_edit_the_shared_registry_and_refuse_invalid_or_stale_files() {
    let redis = TestRedis::start();
    let nodes = cluster(&redis, &apps(), "");
    let a = &nodes[0];
    let out = cli(a, &["registry", "pull", "pulled.toml"]);
    assert!(out.status.success(), "{}", text(&out));
    let pulled = std::fs::read_to_string(a.path("pulled.toml")).unwrap();
    assert!(
        pulled.starts_with("# crmgate registry pull: version "),
        "{pulled}"
    );
    std::fs::copy(a.path("pulled.toml"), a.path("second.toml")).unwrap();
    // An invalid file is refused with its line.
    let bad = format!(
        "{pulled}{}",
        secret_app(NEW, "s-new", "rest.nothing", "aldo")
    );
    std::fs::write(a.path("pulled.toml"), &bad).unwrap();
    let out = cli(a, &["registry", "push", "pulled.toml"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    let line = bad
        .lines()
        .position(|l| l.contains("rest.nothing"))
        .unwrap()
        + 1;
    assert!(said.contains(&format!("pulled.toml:{line}")), "{said}");
    // A valid one applies on every node.
    let good = format!("{pulled}{}", secret_app(NEW, "s-new", "rest.all", "aldo"));
    std::fs::write(a.path("pulled.toml"), &good).unwrap();
    let out = cli(a, &["registry", "push", "pulled.toml"]);
    assert!(out.status.success(), "{}", text(&out));
    for n in &nodes {
        within("the pushed app", Duration::from_secs(1), || {
            cc(n, NEW, "s-new").0 == 200
        });
    }
    // A file pulled before that push is stale now.
    let stale = std::fs::read_to_string(a.path("second.toml")).unwrap();
    std::fs::write(a.path("second.toml"), format!("{stale}\n# edited\n")).unwrap();
    let out = cli(a, &["registry", "push", "second.toml"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("changed since it was pulled"), "{said}");
    assert_eq!(cc(&nodes[1], NEW, "s-new").0, 200);
    // The pushed file carries the new version: editing it again and pushing works.
    let again = std::fs::read_to_string(a.path("pulled.toml")).unwrap();
    std::fs::write(a.path("pulled.toml"), format!("{again}# second edit\n")).unwrap();
    let out = cli(a, &["registry", "push", "pulled.toml"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn users_are_shared_and_a_users_push_that_breaks_the_registry_is_refused() {
    let redis = TestRedis::start();
    let nodes = cluster(&redis, &apps(), "");
    let a = &nodes[0];
    let out = cli(a, &["registry", "pull", "--users", "users-pulled.toml"]);
    assert!(out.status.success(), "{}", text(&out));
    let pulled = std::fs::read_to_string(a.path("users-pulled.toml")).unwrap();
    assert!(pulled.contains("aldo"), "{pulled}");
    let without_aldo = drop_user(&pulled, "aldo");
    std::fs::write(a.path("users-pulled.toml"), &without_aldo).unwrap();
    let out = cli(a, &["registry", "push", "--users", "users-pulled.toml"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("shared registry would be invalid"), "{said}");
    // Changing a user's password through the shared document reaches every node.
    let hash = cheap_hash("new-password");
    let changed = replace_password(&pulled, "bruna", &hash);
    std::fs::write(a.path("users-pulled.toml"), &changed).unwrap();
    let out = cli(a, &["registry", "push", "--users", "users-pulled.toml"]);
    assert!(out.status.success(), "{}", text(&out));
    let copy = nodes[2].path("users.toml");
    within("the users copy on c", Duration::from_secs(1), || {
        std::fs::read_to_string(&copy).is_ok_and(|t| t.contains(&hash))
    });
    let login = common::api::login_raw(&nodes[2], "bruna", "new-password");
    assert_eq!(login.status, 200, "{}", login.body);
}

/// `text` without the `[[users]]` entry of `name`.
fn drop_user(text: &str, name: &str) -> String {
    text.split("[[users]]")
        .filter(|part| !part.contains(&format!("username = \"{name}\"")))
        .collect::<Vec<_>>()
        .join("[[users]]")
}

/// `text` with `name`'s password hash replaced.
fn replace_password(text: &str, name: &str, hash: &str) -> String {
    text.split("[[users]]")
        .map(|part| {
            if !part.contains(&format!("username = \"{name}\"")) {
                return part.to_string();
            }
            part.lines()
                .map(|l| {
                    if l.starts_with("password_hash") {
                        format!("password_hash = \"{hash}\"")
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        })
        .collect::<Vec<_>>()
        .join("[[users]]")
}

#[test]
fn an_icon_uploaded_on_one_gateway_is_shown_by_the_others_and_token_counts_are_shared() {
    let redis = TestRedis::start();
    let nodes = cluster(&redis, &apps(), "");
    let on_a = Api::login(&nodes[0], "admin");
    let png = tiny_png();
    let body = json!({"icon_data": png});
    on_a.call("PATCH", &format!("apps/{APP}"), &body)
        .ok(200, "icon on a");
    let on_c = Api::login(&nodes[2], "admin");
    within("the icon on c", Duration::from_secs(1), || {
        on_c.get(&format!("apps/{APP}")).body["icon_data"]
            .as_str()
            .is_some_and(|u| u.starts_with("data:image/png;base64,"))
    });
    assert!(nodes[2].path(&format!("icons/{APP}.png")).exists());
    // Tokens issued on a and b count in c's listing.
    nodes[0].token(APP, "s-a");
    nodes[1].token(APP, "s-a");
    within("c counts both tokens", Duration::from_secs(15), || {
        let list = on_c.get("apps");
        let apps = list.body["apps"].as_array().cloned().unwrap_or_default();
        apps.iter()
            .any(|a| a["client_id"] == APP && a["active_tokens"] == 2)
    });
}

fn tiny_png() -> String {
    use base64::Engine;
    let img = image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8 * 30, y as u8 * 30, 9]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(out.into_inner())
    )
}
