//! The README's "three gateways on one machine" walkthrough as a new user follows it: the two
//! lines of its block (Redis on port 6390, the demo on it; `cargo run --release --` stands for
//! the binary under test, and `--listen` picks a free port), then the demo's step 8 exactly as
//! printed: two more gateways started with the printed commands, a token from the first used on
//! the second, revoked on the third and refused by the first two.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

/// Stops what the walkthrough started, even when an assertion fails.
struct Cleanup {
    children: Vec<Child>,
    redis_port: &'static str,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
        let _ = Command::new("redis-cli")
            .args(["-p", self.redis_port, "shutdown", "nosave"])
            .output();
    }
}

/// The lines of the README's walkthrough block.
fn readme_block() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("### Walkthrough: three gateways on one machine")
        .nth(1)
        .unwrap();
    let block = section.split("```sh\n").nth(1).unwrap();
    let block = block.split("```").next().unwrap();
    block.lines().map(str::to_string).collect()
}

fn wait_for_port(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_readme_walkthrough_for_three_gateways_works_as_printed() {
    let block = readme_block();
    assert_eq!(block.len(), 2, "{block:#?}");
    assert!(
        block[0].starts_with("redis-server --port 6390 "),
        "{}",
        block[0]
    );
    let mut cleanup = Cleanup {
        children: Vec::new(),
        redis_port: "6390",
    };
    let out = Command::new("bash")
        .arg("-c")
        .arg(&block[0])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for_port("127.0.0.1:6390");
    let demo_line = block[1]
        .strip_prefix("cargo run --release -- ")
        .unwrap_or_else(|| panic!("{}", block[1]));
    let port = common::free_port();
    let script = format!(
        "exec {} {demo_line} --listen 127.0.0.1:{port}",
        env!("CARGO_BIN_EXE_crmgate")
    );
    let mut demo = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = demo.stdout.take().unwrap();
    cleanup.children.push(demo);
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map(Result::unwrap)
        .take_while(|l| !l.starts_with("Stop with Ctrl-C"))
        .collect();
    let step: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .skip_while(|l| !l.starts_with("8."))
        .take_while(|l| !l.starts_with("Also:"))
        .collect();
    let serve: Vec<&str> = step
        .iter()
        .copied()
        .filter(|l| l.contains(" serve --config "))
        .collect();
    assert_eq!(serve.len(), 2, "{lines:#?}");
    for line in &serve {
        let child = Command::new("bash")
            .arg("-c")
            .arg(format!("exec {line}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        cleanup.children.push(child);
    }
    let commands: Vec<&str> = step
        .iter()
        .copied()
        .filter(|l| l.starts_with("curl ") || l.starts_with("TOKEN="))
        .collect();
    assert_eq!(commands.len(), 5, "{step:#?}");
    for c in &commands[1..] {
        let addr = c
            .split("http://")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        wait_for_port(addr);
    }
    let answers = common::run_steps(&commands);
    assert_eq!(answers.len(), 5, "{answers:#?}");
    assert!(
        answers[1].contains("INV-001"),
        "the token works on the second: {}",
        answers[1]
    );
    assert!(
        answers[3].contains("invalid_token"),
        "refused by the first: {}",
        answers[3]
    );
    assert!(
        answers[4].contains("invalid_token"),
        "refused by the second: {}",
        answers[4]
    );
    drop(cleanup);
}
