//! Admin API icons: an uploaded PNG, JPEG or GIF is stored as `icons/<client_id>.png` next to
//! `apps.toml`, shrunk to fit 64x64, named by `icon` in the file and shown as a `data:` URI;
//! changing and removing it through `PATCH`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::Cursor;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::api::Api;
use common::*;
use image::{DynamicImage, ImageFormat};
use serde_json::{Value, json};

const SA: &str = "vte_e7000000000000000001";

// ---------------------------------------------------------------------------------------------
// The API client is common::api.
// ---------------------------------------------------------------------------------------------

fn harness() -> Harness {
    let apps = format!(
        "{}{}",
        settings(true, false),
        secret_app(SA, "s", "rest.all", "aldo")
    );
    Harness::start(&apps)
}

/// A `w` x `h` picture encoded as `format`, as a data URI with `mime`.
fn data_uri(w: u32, h: u32, format: ImageFormat, mime: &str) -> String {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 77])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .unwrap();
    format!("data:{mime};base64,{}", STANDARD.encode(out.into_inner()))
}

fn decode_data_uri(uri: &str) -> Vec<u8> {
    let b64 = uri
        .strip_prefix("data:image/png;base64,")
        .unwrap_or_else(|| panic!("{uri:.60}"));
    STANDARD.decode(b64).unwrap()
}

fn create(api: &Api, id: &str, icon_data: &str) -> Value {
    let body = json!({"client_id": id, "name": id, "client_type": "service_account",
                      "scope": "rest.all", "user": "aldo", "icon_data": icon_data});
    api.call("POST", "apps", &body)
        .ok(201, "create with an icon")
        .clone()
}

/// Checks the stored icon of `id`: a PNG next to apps.toml, named in the file and the API,
/// shown as a data URI with the file's bytes; returns its size.
fn check_icon(h: &Harness, api: &Api, id: &str) -> (u32, u32) {
    let name = format!("icons/{id}.png");
    let bytes = std::fs::read(h.path(&name)).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{name} is not a PNG"
    );
    let img = image::load_from_memory_with_format(&bytes, ImageFormat::Png).unwrap();
    assert!(
        img.width() <= 64 && img.height() <= 64,
        "{}x{}",
        img.width(),
        img.height()
    );
    let doc: toml::Table = std::fs::read_to_string(h.path("apps.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let app = doc["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["client_id"].as_str() == Some(id))
        .unwrap()
        .clone();
    assert_eq!(
        app["icon"].as_str(),
        Some(name.as_str()),
        "icon in apps.toml"
    );
    let shown = api.get(&format!("apps/{id}"));
    let shown = shown.ok(200, "GET app");
    assert_eq!(shown["icon"], name.as_str());
    let uri = shown["icon_data"].as_str().unwrap();
    assert_eq!(decode_data_uri(uri), bytes, "icon_data is the stored file");
    let list = api.get("apps");
    let listed = list.body["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["client_id"] == id);
    assert_eq!(listed.unwrap()["icon_data"], uri, "GET apps shows it too");
    (img.width(), img.height())
}

#[test]
fn a_large_png_is_stored_shrunk_to_64x64_next_to_apps_toml() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let app = create(
        &api,
        "big",
        &data_uri(300, 180, ImageFormat::Png, "image/png"),
    );
    assert_eq!(app["icon"], "icons/big.png");
    assert!(
        app["icon_data"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    assert_eq!(check_icon(&h, &api, "big"), (64, 38), "shrunk, aspect kept");
    let square = create(
        &api,
        "square",
        &data_uri(640, 640, ImageFormat::Png, "image/png"),
    );
    assert_eq!(square["icon"], "icons/square.png");
    assert_eq!(check_icon(&h, &api, "square"), (64, 64));
    create(
        &api,
        "small",
        &data_uri(16, 24, ImageFormat::Png, "image/png"),
    );
    assert_eq!(
        check_icon(&h, &api, "small"),
        (16, 24),
        "small icons keep their size"
    );
    // Icons are stored next to apps.toml, not in the data dir.
    assert!(!h.path("data/icons").exists());
}

#[test]
fn jpeg_and_gif_uploads_become_png_files() {
    let h = harness();
    let api = Api::login(&h, "admin");
    create(
        &api,
        "jpeg",
        &data_uri(100, 50, ImageFormat::Jpeg, "image/jpeg"),
    );
    assert_eq!(check_icon(&h, &api, "jpeg"), (64, 32));
    create(
        &api,
        "gif",
        &data_uri(20, 20, ImageFormat::Gif, "image/gif"),
    );
    assert_eq!(check_icon(&h, &api, "gif"), (20, 20));
}

#[test]
fn patch_replaces_and_removes_the_icon() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let route = format!("apps/{SA}");
    let body = json!({"icon_data": data_uri(128, 128, ImageFormat::Png, "image/png")});
    api.call("PATCH", &route, &body).ok(200, "add an icon");
    assert_eq!(check_icon(&h, &api, SA), (64, 64));
    let first = std::fs::read(h.path(&format!("icons/{SA}.png"))).unwrap();
    let body = json!({"icon_data": data_uri(10, 20, ImageFormat::Png, "image/png")});
    api.call("PATCH", &route, &body).ok(200, "replace the icon");
    assert_eq!(check_icon(&h, &api, SA), (10, 20));
    assert_ne!(
        std::fs::read(h.path(&format!("icons/{SA}.png"))).unwrap(),
        first
    );
    let a = api.call("PATCH", &route, &json!({"icon": ""}));
    let a = a.ok(200, "remove the icon");
    assert!(a["icon"].is_null() && a["icon_data"].is_null(), "{a}");
    assert!(
        !h.path(&format!("icons/{SA}.png")).exists(),
        "the file stays"
    );
    let text = std::fs::read_to_string(h.path("apps.toml")).unwrap();
    assert!(!text.contains("icon"), "the key stays: {text}");
    let shown = api.get(&route);
    assert!(shown.ok(200, "GET")["icon_data"].is_null());
}

#[test]
fn an_icon_named_by_hand_is_shown_as_a_data_uri() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let png = decode_data_uri(&data_uri(12, 12, ImageFormat::Png, "image/png"));
    std::fs::create_dir_all(h.path("icons")).unwrap();
    std::fs::write(h.path("icons/logo.png"), &png).unwrap();
    std::fs::write(h.path("icons/notes.txt"), "not an image").unwrap();
    let apps = format!(
        "{}{}{}",
        settings(true, false),
        secret_app(SA, "s", "rest.all", "aldo")
            .replace("[[apps]]\n", "[[apps]]\nicon = \"icons/logo.png\"\n"),
        secret_app("texty", "t", "rest.all", "aldo")
            .replace("[[apps]]\n", "[[apps]]\nicon = \"icons/notes.txt\"\n"),
    );
    h.write_apps(&apps);
    h.eventually("the hand edit is applied", || {
        api.get("apps/texty").status == 200
    });
    let shown = api.get(&format!("apps/{SA}"));
    assert_eq!(shown.body["icon"], "icons/logo.png");
    assert_eq!(
        decode_data_uri(shown.body["icon_data"].as_str().unwrap()),
        png
    );
    let texty = api.get("apps/texty");
    assert!(
        texty.body["icon_data"].is_null(),
        "not an image: {}",
        texty.body
    );
}
