//! `crmgate demo` as a new user meets it: start it, run the commands its walkthrough prints,
//! exactly as printed, through bash and curl, and check each step shows what the text promises.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

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
        .filter(|l| l.starts_with("curl ") || l.starts_with("TOKEN="))
        .collect();
    assert_eq!(commands.len(), 11, "{lines:#?}");
    let mut script = String::from("set -u\n");
    for (i, c) in commands.iter().enumerate() {
        script.push_str(&format!("echo '=== {i}'\n{c}\necho\n"));
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let step: Vec<&str> = text.split("=== ").skip(1).collect();
    assert_eq!(step.len(), 11, "{text}");
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
