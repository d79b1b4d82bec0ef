//! Admin API and `apps.toml`: changes keep the admin's comments, key order and formatting byte
//! for byte in the parts they do not touch; secrets are written only as `{ hash, sealed }`; and
//! the file stays the source of truth: edits by hand show in the API and act on tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::api::*;
use common::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// A small API client: the session cookie and CSRF token kept by hand.

fn apps_text(h: &Harness) -> String {
    std::fs::read_to_string(h.path("apps.toml")).unwrap()
}

// ---------------------------------------------------------------------------------------------

/// An apps.toml as an admin keeps it: comments everywhere, keys in their own order, odd spacing.
const HEAD: &str = r#"# crmgate applications, maintained by ops
# (comments and key order matter to us)

[settings]
# tokens on or off for everyone
oauth_enabled = true   # master switch
allow_admin_users    = false
users_can_manage_secrets = false

# The ERP, keys in our own order
[[apps]]
name = "ERP"   # display name
client_id = "erp"
user = "aldo"
scope = "rest.all"
client_type = "service_account"
client_secret = 'erp-secret'  # rotate yearly
"#;

const PORTAL: &str = r#"
# Customer portal
[[apps]]
client_id = "portal"
name = "Portal"
client_type = "web_app"
client_secret = "portal-secret"
scope = "rest.all.read"
redirect_uris = [
    "https://portal.example/cb",   # production
]
"#;

fn original() -> String {
    format!("{HEAD}{PORTAL}")
}

fn create_reporting(api: &Api) -> (String, String) {
    let body = json!({"name": "Reporting", "description": "BI", "client_type": "service_account",
                      "scope": "rest.all.read", "user": "bruna"});
    let a = api.call("POST", "apps", &body);
    let app = a.ok(201, "create");
    let id = app["client_id"].as_str().unwrap().to_string();
    (id, app["client_secret"].as_str().unwrap().to_string())
}

#[test]
fn creating_an_app_appends_it_and_keeps_every_byte_before() {
    let h = Harness::start(&original());
    let api = Api::login(&h, "admin");
    let (id, secret) = create_reporting(&api);
    let text = apps_text(&h);
    assert!(
        text.starts_with(&original()),
        "the admin's part changed:\n{text}"
    );
    let added = &text[original().len()..];
    assert!(added.contains("[[apps]]"), "{added}");
    // The new entry's keys in the documented order.
    let keys: Vec<&str> = added
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim()))
        .collect();
    let want = [
        "client_id",
        "name",
        "description",
        "client_type",
        "secret_type",
        "client_secret",
        "scope",
        "user",
    ];
    assert_eq!(keys, want, "{added}");
    // The secret: a keyed hash and a sealed copy, never the plaintext.
    assert!(
        !text.contains(&secret),
        "plaintext secret in apps.toml:\n{text}"
    );
    let doc: toml::Table = text.parse().unwrap();
    let apps = doc["apps"].as_array().unwrap();
    let app = apps
        .iter()
        .find(|a| a["client_id"].as_str() == Some(&id))
        .unwrap();
    let stored = app["client_secret"].as_table().unwrap();
    let mut stored_keys: Vec<&str> = stored.keys().map(String::as_str).collect();
    stored_keys.sort_unstable();
    assert_eq!(stored_keys, ["hash", "sealed"], "{stored:?}");
    assert!(
        stored["hash"].as_str().unwrap().starts_with("hmac-sha256:"),
        "{stored:?}"
    );
    assert!(
        stored["sealed"].as_str().is_some_and(|s| s.len() > 20),
        "{stored:?}"
    );
    assert!(
        added.contains("client_secret = { hash = \"hmac-sha256:"),
        "an inline table: {added}"
    );
    // The secret works, here and after a restart (the key that checks it is in data_dir).
    let token = h.token(&id, &secret);
    assert_eq!(h.query_invoices(&token).status(), 200);
    let mut h = h;
    h.restart();
    h.token(&id, &secret);
    assert_eq!(
        h.token_basic(&id, "wrong", &[("grant_type", "client_credentials")])
            .status(),
        401
    );
}

#[test]
fn changes_touch_only_their_own_lines() {
    let h = Harness::start(&original());
    let api = Api::login(&h, "admin");
    api.call(
        "PATCH",
        "apps/erp",
        &json!({"name": "ERP 2", "scope": "rest.all.read"}),
    )
    .ok(200, "rename");
    let want = original()
        .replace(
            "name = \"ERP\"   # display name",
            "name = \"ERP 2\"   # display name",
        )
        .replace(
            "scope = \"rest.all\"\nclient_type",
            "scope = \"rest.all.read\"\nclient_type",
        );
    assert_eq!(apps_text(&h), want, "only the changed values");
    api.call("PUT", "settings", &json!({"oauth_enabled": false}))
        .ok(200, "settings");
    let want = want.replace("oauth_enabled = true   #", "oauth_enabled = false   #");
    assert_eq!(apps_text(&h), want, "the setting's comment stays");
    // A new key goes at the end of its table, the rest stays.
    api.call("PATCH", "apps/erp", &json!({"description": "Orders"}))
        .ok(200, "new key");
    let want = want.replace(
        "client_secret = 'erp-secret'  # rotate yearly\n",
        "client_secret = 'erp-secret'  # rotate yearly\ndescription = \"Orders\"\n",
    );
    assert_eq!(apps_text(&h), want, "a new key");
    // Removing an app removes its entry (and the comment above it) only.
    api.call("DELETE", "apps/portal", &Value::Null)
        .ok(200, "delete");
    let text = apps_text(&h);
    assert_eq!(
        text.trim_end(),
        want.replace(PORTAL, "").trim_end(),
        "after delete"
    );
    // A new secret replaces the literal by a hash, keeping the comment after it.
    let a = api.call("POST", "apps/erp/secret", &Value::Null);
    let secret = a.ok(200, "new secret")["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let text = apps_text(&h);
    assert!(
        !text.contains("erp-secret") && !text.contains(&secret),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("client_secret"))
        .unwrap();
    assert!(
        line.starts_with("client_secret = { hash = \"hmac-sha256:"),
        "{line}"
    );
    assert!(
        line.ends_with("  # rotate yearly"),
        "the comment after the value: {line}"
    );
    assert!(
        text.starts_with("# crmgate applications, maintained by ops\n"),
        "{text}"
    );
}

#[test]
fn a_trailing_comment_survives_a_new_app() {
    let file = format!("{}\n# end of the applications\n", original());
    let h = Harness::start(&file);
    let api = Api::login(&h, "admin");
    let (id, _) = create_reporting(&api);
    let text = apps_text(&h);
    assert!(text.starts_with(&original()), "{text}");
    assert!(text.contains("# end of the applications\n"), "{text}");
    assert!(text.contains(&format!("client_id = \"{id}\"")), "{text}");
}

#[test]
fn hand_edits_show_in_the_api_and_act_on_tokens() {
    let h = Harness::start(&original());
    let api = Api::login(&h, "admin");
    let (id, secret) = create_reporting(&api);
    let token = h.token(&id, &secret);
    assert_eq!(h.query_invoices(&token).status(), 200);
    // Rename by hand.
    let renamed = apps_text(&h).replace("name = \"Reporting\"", "name = \"Reports (by hand)\"");
    h.write_apps(&renamed);
    h.eventually("the API shows the new name", || {
        api.get(&format!("apps/{id}")).body["name"] == "Reports (by hand)"
    });
    // Disable by hand: the API shows it, and its tokens and secret are refused.
    let disabled = renamed.replace(
        "name = \"Reports (by hand)\"",
        "name = \"Reports (by hand)\"\nenabled = false",
    );
    assert_ne!(disabled, renamed);
    h.write_apps(&disabled);
    h.eventually("the API shows the app disabled", || {
        api.get(&format!("apps/{id}")).body["enabled"] == false
    });
    let listed = api.get("apps");
    let app = listed.body["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["client_id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(app["enabled"], false);
    assert_eq!(
        h.query_invoices(&token).status(),
        401,
        "a disabled app's token"
    );
    let r = h.token_basic(&id, &secret, &[("grant_type", "client_credentials")]);
    assert_eq!(r.status(), 401);
    assert_eq!(json(r)["error"], "invalid_client");
    // The API's next change starts from the hand-edited file.
    api.call("PATCH", &format!("apps/{id}"), &json!({"enabled": true}))
        .ok(200, "enable");
    let text = apps_text(&h);
    assert!(
        text.contains("name = \"Reports (by hand)\"\nenabled = true"),
        "{text}"
    );
    assert_eq!(h.query_invoices(&token).status(), 200, "enabled again");
}

#[test]
fn a_hand_edit_that_breaks_the_file_is_not_overwritten_by_the_api() {
    let h = Harness::start(&original());
    let api = Api::login(&h, "admin");
    let broken = original().replace("scope = \"rest.all\"", "scope = \"rest.nothing\"");
    h.write_apps(&broken);
    let a = api.call("PATCH", "apps/portal", &json!({"name": "Portal 2"}));
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.body["error"], "invalid");
    assert!(
        a.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        a.body
    );
    assert!(
        a.body["problems"].to_string().contains("scope"),
        "{}",
        a.body
    );
    assert_eq!(
        apps_text(&h),
        broken,
        "the admin's broken file was rewritten"
    );
    // The last good version keeps serving.
    assert_eq!(api.get("apps/erp").ok(200, "GET")["scope"], "rest.all");
}
