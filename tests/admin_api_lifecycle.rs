//! Admin API and issued tokens: a new secret retires the old one, disabling an app stops its
//! tokens at once, `revoke` kills every token and grant (with the right count), `DELETE` removes
//! the app from the file with its tokens, grants and icon, and the live token counts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::Cursor;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::api::Api;
use common::browser::*;
use common::*;
use serde_json::{Value, json};

const SA: &str = "vte_e6000000000000000001";
const SA_SECRET: &str = "sa-secret";

// ---------------------------------------------------------------------------------------------
// The API client is common::api.
// ---------------------------------------------------------------------------------------------

fn harness() -> Harness {
    let apps = format!(
        "{}{}",
        web_apps(),
        secret_app(SA, SA_SECRET, "rest.all", "aldo")
    );
    Harness::start(&apps)
}

/// `user` authorizes the web app in a browser; the app trades the code for tokens.
fn authorize(h: &Harness, user: &str) -> Value {
    let browser = Browser::new(h);
    let page = browser.get(&authorize_url(h, WEB, WEB_CB, "st", None));
    let consent = browser.login(&page, user, &format!("{user}-pw"));
    let done = browser.decide(&consent, "allow");
    assert_eq!(done.status, 303, "{}", done.body);
    let (code, _) = code_and_state(&done.location, WEB_CB);
    let tokens = exchange(h, WEB, Some(WEB_SECRET), &code, WEB_CB, None);
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    tokens
}

fn access(tokens: &Value) -> &str {
    tokens["access_token"].as_str().unwrap()
}

/// A refresh request: (status, error).
fn refresh(h: &Harness, secret: &str, tokens: &Value) -> (u16, String) {
    let rt = tokens["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    let r = h.token_basic(WEB, secret, &form);
    let status = r.status().as_u16();
    (
        status,
        json(r)["error"].as_str().unwrap_or_default().to_string(),
    )
}

fn client_credentials(h: &Harness, id: &str, secret: &str) -> (u16, String) {
    let r = h.token_basic(id, secret, &[("grant_type", "client_credentials")]);
    let status = r.status().as_u16();
    (
        status,
        json(r)["error"].as_str().unwrap_or_default().to_string(),
    )
}

fn authorized_ids(h: &Harness, user: &str) -> Vec<String> {
    let me = Api::login(h, user).get("me/apps");
    me.ok(200, "me/apps")["authorized"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["client_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_new_secret_retires_the_old_one_for_every_grant_type() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let tokens = authorize(&h, "aldo");
    let a = api.call("POST", &format!("apps/{WEB}/secret"), &Value::Null);
    let secret = a.ok(200, "new web secret")["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        refresh(&h, WEB_SECRET, &tokens),
        (401, "invalid_client".into())
    );
    assert_eq!(
        refresh(&h, &secret, &tokens).0,
        200,
        "the new secret refreshes"
    );
    let a = api.call("POST", &format!("apps/{SA}/secret"), &Value::Null);
    let sa_secret = a.ok(200, "new sa secret")["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        client_credentials(&h, SA, SA_SECRET),
        (401, "invalid_client".into())
    );
    assert_eq!(client_credentials(&h, SA, &sa_secret).0, 200);
    // Twice in a row: only the newest works.
    let a = api.call("POST", &format!("apps/{SA}/secret"), &Value::Null);
    let newest = a.ok(200, "newest")["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        client_credentials(&h, SA, &sa_secret),
        (401, "invalid_client".into())
    );
    assert_eq!(client_credentials(&h, SA, &newest).0, 200);
}

#[test]
fn disabling_an_app_stops_its_tokens_at_once() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let sa_token = h.token(SA, SA_SECRET);
    let web = authorize(&h, "aldo");
    assert_eq!(
        h.query_invoices(&sa_token).status(),
        200,
        "warm the token cache"
    );
    assert_eq!(h.query_invoices(access(&web)).status(), 200);
    let a = api.call("PATCH", &format!("apps/{SA}"), &json!({"enabled": false}));
    assert_eq!(a.ok(200, "disable")["enabled"], false);
    // No waiting: the answer comes after the new registry is in force.
    assert_eq!(
        h.query_invoices(&sa_token).status(),
        401,
        "the disabled app's token"
    );
    assert_eq!(
        client_credentials(&h, SA, SA_SECRET),
        (401, "invalid_client".into())
    );
    assert_eq!(
        h.query_invoices(access(&web)).status(),
        200,
        "another app's token"
    );
    api.call("PATCH", &format!("apps/{WEB}"), &json!({"enabled": false}))
        .ok(200, "web");
    assert_eq!(
        h.query_invoices(access(&web)).status(),
        401,
        "the web app's token"
    );
    // README: refreshing for a disabled app is `invalid_grant`.
    assert_eq!(refresh(&h, WEB_SECRET, &web), (400, "invalid_grant".into()));
    let text = std::fs::read_to_string(h.path("apps.toml")).unwrap();
    assert_eq!(text.matches("enabled = false").count(), 2, "{text}");
    api.call("PATCH", &format!("apps/{SA}"), &json!({"enabled": true}))
        .ok(200, "enable");
    assert_eq!(h.query_invoices(&sa_token).status(), 200, "enabled again");
}

#[test]
fn revoking_kills_every_token_and_grant_of_the_app() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let aldo = authorize(&h, "aldo");
    let bruna = authorize(&h, "bruna");
    let sa_token = h.token(SA, SA_SECRET);
    assert_eq!(authorized_ids(&h, "aldo"), [WEB]);
    let a = api.call("POST", &format!("apps/{WEB}/revoke"), &Value::Null);
    assert_eq!(
        a.ok(200, "revoke")["revoked"],
        4,
        "2 users x (access + refresh)"
    );
    for (who, tokens) in [("aldo", &aldo), ("bruna", &bruna)] {
        assert_eq!(
            h.query_invoices(access(tokens)).status(),
            401,
            "{who}'s access token"
        );
        assert_eq!(
            refresh(&h, WEB_SECRET, tokens),
            (400, "invalid_grant".into()),
            "{who}"
        );
        assert!(
            authorized_ids(&h, who).is_empty(),
            "{who} still lists the app"
        );
    }
    assert_eq!(
        h.query_invoices(&sa_token).status(),
        200,
        "another app's token"
    );
    let a = api.call("POST", &format!("apps/{WEB}/revoke"), &Value::Null);
    assert_eq!(a.ok(200, "again")["revoked"], 0);
    // The app itself keeps working: a new authorization gets tokens.
    let again = authorize(&h, "aldo");
    assert_eq!(h.query_invoices(access(&again)).status(), 200);
}

fn png_uri(w: u32, h: u32) -> String {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([0, 128, 255, 255]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    format!(
        "data:image/png;base64,{}",
        STANDARD.encode(out.into_inner())
    )
}

#[test]
fn deleting_an_app_removes_its_entry_tokens_grants_and_icon() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let body = json!({"icon_data": png_uri(32, 32)});
    api.call("PATCH", &format!("apps/{WEB}"), &body)
        .ok(200, "icon");
    let icon = h.path(&format!("icons/{WEB}.png"));
    assert!(icon.exists());
    let tokens = authorize(&h, "aldo");
    let sa_token = h.token(SA, SA_SECRET);
    assert_eq!(authorized_ids(&h, "aldo"), [WEB]);
    let a = api.call("DELETE", &format!("apps/{WEB}"), &Value::Null);
    let d = a.ok(200, "delete");
    assert_eq!(d["deleted"], WEB);
    assert_eq!(d["revoked"], 2, "access + refresh token");
    let text = std::fs::read_to_string(h.path("apps.toml")).unwrap();
    assert!(!text.contains(WEB), "{text}");
    assert!(
        text.contains(NATIVE) && text.contains(SA),
        "the other apps stay: {text}"
    );
    assert!(!icon.exists(), "the icon file stays");
    let gone = api.get(&format!("apps/{WEB}"));
    assert_eq!(
        (gone.status, gone.body["error"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(h.query_invoices(access(&tokens)).status(), 401);
    assert_eq!(
        refresh(&h, WEB_SECRET, &tokens),
        (401, "invalid_client".into())
    );
    assert!(authorized_ids(&h, "aldo").is_empty());
    assert_eq!(
        h.query_invoices(&sa_token).status(),
        200,
        "another app's token"
    );
    // An app made again with the same id and secret does not bring the old grant back.
    let again = json!({"client_id": WEB, "name": "Portal again", "client_type": "web_app",
                       "client_secret": WEB_SECRET, "scope": "rest.all.read",
                       "redirect_uris": [WEB_CB], "offline_access": true});
    let a = api.call("POST", "apps", &again);
    assert!(
        a.ok(201, "same id again")["icon_data"].is_null(),
        "{}",
        a.body
    );
    assert_eq!(
        refresh(&h, WEB_SECRET, &tokens),
        (400, "invalid_grant".into())
    );
    assert_eq!(h.query_invoices(access(&tokens)).status(), 401);
    assert!(authorized_ids(&h, "aldo").is_empty());
}

/// The `active_tokens` and `expired_tokens` of `id` in `GET apps` and `GET apps/{id}`.
fn counts(api: &Api, id: &str) -> (Value, Value) {
    let list = api.get("apps");
    let app = list.ok(200, "GET apps")["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["client_id"] == id)
        .unwrap()
        .clone();
    let one = api.get(&format!("apps/{id}"));
    let one = one.ok(200, "GET app");
    assert_eq!(
        one["active_tokens"], app["active_tokens"],
        "list and app agree"
    );
    (app["active_tokens"].clone(), app["expired_tokens"].clone())
}

#[test]
fn token_counts_follow_issue_and_revocation() {
    let h = harness();
    let api = Api::login(&h, "admin");
    h.eventually("the start-up census", || counts(&api, SA).0 == 0);
    let tokens: Vec<String> = (0..3).map(|_| h.token(SA, SA_SECRET)).collect();
    h.eventually("3 active tokens", || {
        counts(&api, SA) == (json!(3), json!(0))
    });
    let r = h
        .http
        .post(h.url("/oauth2/v2.0/revoke.php"))
        .basic_auth(SA, Some(SA_SECRET))
        .form(&[("token", tokens[0].as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    h.eventually("2 active tokens", || counts(&api, SA).0 == 2);
    assert_eq!(counts(&api, WEB).0, 0, "other apps count their own");
    let a = api.call("POST", &format!("apps/{SA}/revoke"), &Value::Null);
    assert_eq!(a.ok(200, "revoke the rest")["revoked"], 2);
    h.eventually("none left", || counts(&api, SA).0 == 0);
    // Counts survive a restart (the census reads the store).
    h.token(SA, SA_SECRET);
    let mut h = h;
    h.restart();
    let api = Api::login(&h, "admin");
    h.eventually("1 token after a restart", || counts(&api, SA).0 == 1);
}
