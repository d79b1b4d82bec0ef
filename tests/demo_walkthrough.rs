//! `crmgate demo` as a new user meets it: start it, run the commands its walkthrough prints,
//! exactly as printed, through bash and curl, and check each step shows what the text promises.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn read_walkthrough(out: impl std::io::Read) -> Vec<String> {
    let mut lines = Vec::new();
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        let done = line.starts_with("Stop with Ctrl-C");
        lines.push(line);
        if done {
            break;
        }
    }
    lines
}

#[test]
fn the_printed_walkthrough_works_as_printed() {
    let port = common::free_port();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_crmgate"))
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = read_walkthrough(demo.stdout.take().unwrap());
    let dir = lines
        .iter()
        .find_map(|l| {
            l.trim()
                .strip_prefix("files")
                .map(|r| r.split_whitespace().next().unwrap().to_string())
        })
        .unwrap();
    assert!(std::path::Path::new(&dir).join("apps.toml").exists());
    let commands: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .take_while(|l| !l.starts_with("6."))
        .filter(|l| l.starts_with("curl ") || l.starts_with("TOKEN="))
        .collect();
    assert_eq!(commands.len(), 11, "{lines:#?}");
    let step = common::run_steps(&commands);
    assert_eq!(step.len(), 11, "{step:#?}");
    assert!(step[0].contains("\"token_type\":\"Bearer\""), "{}", step[0]);
    assert!(
        step[2].contains("INV-001") && !step[2].contains("INV-003"),
        "{}",
        step[2]
    );
    assert!(
        step[4].contains("INV-003") && !step[4].contains("INV-001"),
        "{}",
        step[4]
    );
    assert!(step[5].contains("insufficient_scope"), "{}", step[5]);
    assert!(step[7].contains("invalid_token"), "{}", step[7]);
    assert!(
        step[9].contains("INV-001") && !step[9].contains("INV-005"),
        "{}",
        step[9]
    );
    let received: serde_json::Value = serde_json::from_str(
        step[10]
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim(),
    )
    .unwrap();
    let last_query = received
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["uri"] == "/restapi/v1/vtews/query")
        .unwrap();
    let headers = last_query["headers"].to_string();
    assert!(headers.contains("[\"x-crm-user\",\"aldo\"]"), "{headers}");
    assert!(
        !headers.contains("admin") && !headers.contains("6.6.6.6"),
        "{headers}"
    );
    let link = lines
        .iter()
        .map(|l| l.trim())
        .skip_while(|l| !l.starts_with("6."))
        .find(|l| l.starts_with("http://") && l.contains("/oauth2/v2.0/auth.php"))
        .unwrap();
    let tokens = authorize_as_aldo(link, port);
    let rows = run(&format!(
        "curl -s -X POST http://127.0.0.1:{port}/restapi/v1/vtews/query -H 'Authorization: Bearer {}' \
         -H 'Content-Type: application/json' -d '{{\"query\":\"SELECT * FROM Invoice;\"}}'",
        tokens["access_token"].as_str().unwrap()
    ));
    assert!(
        rows.contains("INV-001") && !rows.contains("INV-003"),
        "{rows}"
    );
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while demo.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "demo did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !std::path::Path::new(&dir).exists(),
        "the temporary folder was left behind"
    );
}

fn run(script: &str) -> String {
    let out = Command::new("bash").arg("-c").arg(script).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html_escape::decode_html_entities(&html[start..end]).into_owned()
}

/// Step 6 as a browser does it: open the link, sign in as aldo, Allow, land on the demo app's
/// page, and run the exchange command it shows.
fn authorize_as_aldo(link: &str, port: u16) -> serde_json::Value {
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let auth = format!("http://127.0.0.1:{port}/oauth2/v2.0/auth.php");
    // A browser keeps the pre-login cookie of the authorize link and sends it with both forms.
    let r = http.get(link).send().unwrap();
    let browser = cookie_pair(&r);
    let login = r.text().unwrap();
    let (req, csrf) = (hidden(&login, "req"), hidden(&login, "csrf"));
    let form = [
        ("req", req.as_str()),
        ("csrf", &csrf),
        ("username", "aldo"),
        ("password", "aldo-demo"),
    ];
    let r = http
        .post(&auth)
        .header("Cookie", &browser)
        .form(&form)
        .send()
        .unwrap();
    let session = cookie_pair(&r);
    let consent = r.text().unwrap();
    assert!(consent.contains("Portale clienti"), "{consent}");
    let form = [
        ("req", req.as_str()),
        ("csrf", &csrf),
        ("decision", "allow"),
    ];
    let r = http
        .post(&auth)
        .header("Cookie", format!("{browser}; {session}"))
        .form(&form)
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let page = http.get(&location).send().unwrap().text().unwrap();
    let start = page.find("<pre>").unwrap() + 5;
    let end = page.find("</pre>").unwrap();
    let command = html_escape::decode_html_entities(&page[start..end]).into_owned();
    assert!(command.starts_with("curl "), "{page}");
    serde_json::from_str(&run(&command)).unwrap()
}

/// The `name=value` of the answer's first `Set-Cookie`.
fn cookie_pair(r: &reqwest::blocking::Response) -> String {
    let value = r.headers()["set-cookie"].to_str().unwrap();
    value.split(';').next().unwrap().to_string()
}
