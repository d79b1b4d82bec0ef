//! App icons stay inside the `icons/` folder next to `apps.toml`: the admin API refuses any
//! other `icon` with a 400 naming the field, `apps.toml` loading and `crmgate check` report it
//! with its line, and the pages never show a file whose real path lies outside the folder (a
//! symlink out included). Uploaded icons and files put into `icons/` by hand keep working.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::api::Api;
use common::*;
use serde_json::{Value, json};

const SA: &str = "vte_1c000000000000000001";
const WEB: &str = "vte_1c000000000000000002";

/// A PNG of one colour.
fn png(rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb(rgb));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// The image an icon path must never publish, placed outside the icons folder.
fn secret_png() -> Vec<u8> {
    png([6, 6, 6])
}

/// Files outside the registry folder, removed at the end of the test.
struct Outside {
    files: Vec<PathBuf>,
    _other: tempfile::TempDir,
    /// An absolute path in another folder.
    absolute: PathBuf,
    /// The name of a file in the registry folder's parent (reached with `../`).
    sibling: String,
}

impl Outside {
    fn new(h: &Harness) -> Self {
        let other = tempfile::tempdir().unwrap();
        let absolute = other.path().join("secret.png");
        std::fs::write(&absolute, secret_png()).unwrap();
        let dir_name = h.dir.path().file_name().unwrap().to_string_lossy();
        let sibling = format!("{dir_name}-secret.png");
        let parent = h.dir.path().parent().unwrap().join(&sibling);
        std::fs::write(&parent, secret_png()).unwrap();
        std::fs::write(h.path("outside.png"), secret_png()).unwrap();
        std::fs::create_dir_all(h.path("icons")).unwrap();
        std::fs::write(h.path("icons/ok.png"), png([0, 200, 0])).unwrap();
        std::os::unix::fs::symlink(&absolute, h.path("icons/link.png")).unwrap();
        Self {
            files: vec![parent],
            _other: other,
            absolute,
            sibling,
        }
    }

    /// Icon names that reach outside `icons/`, each at a real copy of the secret image when
    /// the name is read as a path.
    fn names(&self) -> Vec<String> {
        vec![
            format!("../{}", self.sibling),
            format!("icons/../../{}", self.sibling),
            self.absolute.display().to_string(),
            "outside.png".into(),
            "icons/../outside.png".into(),
            "./icons/../outside.png".into(),
            "icons/link.png".into(),
            "icons\\..\\outside.png".into(),
            "icons/%2e%2e/outside.png".into(),
            "icons%2f..%2foutside.png".into(),
            "icons/../icons/ok.png".into(),
        ]
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn web_app(icon: &str) -> String {
    format!(
        "[[apps]]\nclient_id = \"{WEB}\"\nname = \"Web\"\nicon = \"{icon}\"\nclient_type = \"web_app\"\n\
         secret_type = \"client_secret\"\nclient_secret = \"w\"\nscope = \"rest.all\"\n\
         redirect_uris = [\"https://app.example/cb\"]\n\n"
    )
}

fn harness() -> Harness {
    let apps = format!(
        "{}{}",
        settings(true, false),
        secret_app(SA, "s", "rest.all", "aldo")
    );
    Harness::start(&apps)
}

/// True when `v` (an answer) mentions the `icon` field.
fn names_icon(v: &Value) -> bool {
    v.to_string().contains("icon")
}

#[test]
fn the_admin_api_refuses_icons_outside_the_icons_folder() {
    let h = harness();
    let api = Api::login(&h, "admin");
    let outside = Outside::new(&h);
    let secret = STANDARD.encode(secret_png());
    let before = std::fs::read_to_string(h.path("apps.toml")).unwrap();
    let mut failures = Vec::new();
    for (n, name) in outside.names().iter().enumerate() {
        let body = json!({"client_id": format!("vte_1c00000000000000010{n:x}"), "name": "x",
                          "client_type": "service_account", "scope": "rest.all",
                          "user": "aldo", "icon": name});
        let created = api.call("POST", "apps", &body);
        if created.status != 400 || !names_icon(&created.body) {
            failures.push(format!(
                "POST {name:?}: {} {}",
                created.status, created.body
            ));
        }
        let patched = api.call("PATCH", &format!("apps/{SA}"), &json!({"icon": name}));
        if patched.status != 400 || !names_icon(&patched.body) {
            failures.push(format!(
                "PATCH {name:?}: {} {}",
                patched.status, patched.body
            ));
        }
        for answer in [&created, &patched] {
            if answer.body.to_string().contains(&secret) {
                failures.push(format!("{name:?}: the outside image was published"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let after = std::fs::read_to_string(h.path("apps.toml")).unwrap();
    assert_eq!(before, after, "a refused icon was written");
    assert!(!api.get("apps").body.to_string().contains(&secret));
    // Control: a file in icons/ by name, and an upload.
    let a = api.call(
        "PATCH",
        &format!("apps/{SA}"),
        &json!({"icon": "icons/ok.png"}),
    );
    let a = a.ok(200, "icon in icons/");
    assert_eq!(
        a["icon_data"],
        format!(
            "data:image/png;base64,{}",
            STANDARD.encode(png([0, 200, 0]))
        )
    );
    let upload = format!("data:image/png;base64,{}", STANDARD.encode(png([1, 2, 3])));
    let body = json!({"client_id": "up", "name": "up", "client_type": "service_account",
                      "scope": "rest.all", "user": "aldo", "icon_data": upload});
    let up = api.call("POST", "apps", &body);
    assert_eq!(up.ok(201, "upload")["icon"], "icons/up.png");
    assert!(h.path("icons/up.png").is_file());
}

/// Runs `crmgate check` on the harness's config; exit code and stderr.
fn check(h: &Harness) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crmgate"))
        .args(["check", "--config"])
        .arg(h.path("crmgate.toml"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn apps_toml_icons_outside_the_folder_are_problems_with_their_line() {
    let h = harness();
    let outside = Outside::new(&h);
    let mut apps = settings(true, false);
    let names = outside.names();
    for (n, name) in names.iter().enumerate() {
        let icon = format!("icon = {}\n", toml::Value::String(name.clone()));
        let app = secret_app(
            &format!("vte_1c00000000000000020{n:x}"),
            "s",
            "rest.all",
            "aldo",
        );
        apps.push_str(&app.replace("[[apps]]\n", &format!("[[apps]]\n{icon}")));
    }
    h.write_apps(&apps);
    let (code, err) = check(&h);
    assert_eq!(code, Some(1), "{err}");
    for (n, name) in names.iter().enumerate() {
        let quoted = toml::Value::String(name.clone()).to_string();
        let line = line_of(&apps, &format!("icon = {quoted}"));
        let expected = format!("apps.toml:{line}: apps[{n}].icon: ");
        assert!(
            err.contains(&expected),
            "{name:?}: no {expected:?} in\n{err}"
        );
    }
    h.eventually("the live reload refuses it", || {
        h.log().contains("apps[0].icon")
    });
    let api = Api::login(&h, "admin");
    assert_eq!(
        api.get("apps/vte_1c000000000000000200").status,
        404,
        "applied"
    );
    // Control: an icon in icons/ is fine for check and the live registry.
    let good = format!("{}{}", settings(true, false), web_app("icons/ok.png"));
    h.write_apps(&good);
    let (code, out) = check(&h);
    assert_eq!(code, Some(0), "{out}");
    h.eventually("the good edit is applied", || {
        api.get(&format!("apps/{WEB}")).status == 200
    });
    assert!(api.get(&format!("apps/{WEB}")).body["icon_data"].is_string());
}

/// The login page of the web app.
fn login_page(h: &Harness) -> String {
    let url = format!(
        "/oauth2/v2.0/auth.php?response_type=code&client_id={WEB}\
         &redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=s"
    );
    h.http.get(h.url(&url)).send().unwrap().text().unwrap()
}

fn replace_with_symlink(link: &Path, target: &Path) {
    std::fs::remove_file(link).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[test]
fn an_icon_replaced_by_a_symlink_out_of_the_folder_is_not_shown() {
    let h = harness();
    let outside = Outside::new(&h);
    let api = Api::login(&h, "admin");
    let ok = STANDARD.encode(png([0, 200, 0]));
    let secret = STANDARD.encode(secret_png());
    std::fs::write(h.path("icons/alias-target.png"), png([0, 200, 0])).unwrap();
    std::os::unix::fs::symlink("alias-target.png", h.path("icons/alias.png")).unwrap();
    let apps = format!("{}{}", settings(true, false), web_app("icons/alias.png"));
    h.write_apps(&apps);
    h.eventually("applied", || api.get(&format!("apps/{WEB}")).status == 200);
    // Control first: a symlink that stays inside icons/ is shown, in the API and on the page.
    assert!(
        api.get(&format!("apps/{WEB}"))
            .body
            .to_string()
            .contains(&ok)
    );
    assert!(login_page(&h).contains(&ok), "{}", login_page(&h));
    // The file becomes a symlink out of the folder after the registry was loaded.
    replace_with_symlink(&h.path("icons/alias.png"), &outside.absolute);
    let shown = api.get(&format!("apps/{WEB}"));
    assert!(
        shown.body["icon_data"].is_null(),
        "published: {:.200}",
        shown.body
    );
    assert!(
        !login_page(&h).contains(&secret),
        "the page shows the outside image"
    );
    let (code, err) = check(&h);
    assert_eq!(code, Some(1), "check accepts a symlink out: {err}");
    assert!(err.contains("apps[0].icon"), "{err}");
    // Control: pointing back inside the folder, the icon is shown again.
    replace_with_symlink(
        &h.path("icons/alias.png"),
        &h.path("icons/alias-target.png"),
    );
    assert!(
        api.get(&format!("apps/{WEB}"))
            .body
            .to_string()
            .contains(&ok)
    );
    assert!(login_page(&h).contains(&ok));
}
