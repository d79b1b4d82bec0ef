//! I/O errors and a full disk under the token store. Two mechanisms, both required (a missing
//! one fails the test, it never passes silently):
//!
//! - `fiu-run` (Debian `fiu-utils`) preloads libfiu into the gateway; `fiu-ctrl` then makes
//!   `pwrite`, `fsync` and `fdatasync` fail at random with `EIO`, or with `ENOSPC`;
//! - a 4 MiB tmpfs mounted over the data dir (root, or passwordless sudo) that really fills up.
//!
//! Under the faults every issuance and revocation must answer 200 or 5xx, never anything else,
//! and a revocation that answered 5xx is retried (a retry must not answer 200 for a revocation
//! that is not on disk). After the faults the gateway is restarted without them: every token
//! that got a 200 must be valid and every revocation that got a 200 must hold. No panic. Each
//! test runs once per embedded backend (`..._sled`, `..._redb`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

use crate::store_corrupt::{Start, start_own};

const ID: &str = "vte_df000000000000000001";
const SECRET: &str = "disk-fault-secret";

fn harness(backend: Backend) -> Harness {
    let apps = format!(
        "{}{}",
        settings(true, false),
        secret_app(ID, SECRET, "rest.all", "aldo")
    );
    Harness::start_on(&apps, backend)
}

/// What the gateway answered under faults.
#[derive(Default, Debug)]
struct Tally {
    /// Tokens issued with a 200.
    issued: Vec<String>,
    /// Tokens whose revocation answered 200.
    revoked: Vec<String>,
    /// Answers by status.
    statuses: BTreeMap<u16, usize>,
    /// Tokens meant for revocation that were never tried: valid.
    untouched: Vec<String>,
}

impl Tally {
    fn failures(&self) -> usize {
        self.statuses
            .iter()
            .filter(|(s, _)| **s >= 500)
            .map(|(_, n)| n)
            .sum()
    }
}

fn issue(h: &Harness) -> (u16, Option<String>) {
    let r = h.token_basic(ID, SECRET, &[("grant_type", "client_credentials")]);
    let status = r.status().as_u16();
    let v: Value = r.json().unwrap_or(Value::Null);
    (status, v["access_token"].as_str().map(str::to_string))
}

fn revoke(h: &Harness, token: &str) -> u16 {
    h.http
        .post(h.url("/oauth2/v2.0/revoke.php"))
        .basic_auth(ID, Some(SECRET))
        .form(&[("token", token)])
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// `rounds` of: revoke one of `victims` (a 5xx is retried up to 3 times; only a 200 counts as
/// revoked), and issue a token, every other one becoming a victim. A revocation comes first, so
/// that the first write to meet a fault is one, and its retry reads what the failed write left
/// in memory. Stops at `limit`.
fn load(h: &Harness, mut victims: Vec<String>, rounds: usize, limit: Duration) -> Tally {
    let mut t = Tally::default();
    let deadline = Instant::now() + limit;
    for round in 0..rounds {
        if Instant::now() > deadline {
            break;
        }
        if let Some(victim) = victims.pop() {
            for _ in 0..3 {
                let status = revoke(h, &victim);
                *t.statuses.entry(status).or_default() += 1;
                if status == 200 {
                    t.revoked.push(victim);
                    break;
                }
                if status < 500 {
                    break;
                }
            }
        }
        let (status, token) = issue(h);
        *t.statuses.entry(status).or_default() += 1;
        if status == 200 {
            let token = token.expect("a 200 without a token");
            if round % 2 == 0 {
                victims.push(token);
            } else {
                t.issued.push(token);
            }
        }
    }
    t.untouched = victims;
    t
}

/// Every answer was 200 or 5xx, and some of each (the faults took effect).
fn assert_answers(t: &Tally, what: &str) {
    let odd: Vec<_> = t
        .statuses
        .iter()
        .filter(|(s, _)| **s != 200 && **s < 500)
        .collect();
    assert!(
        odd.is_empty(),
        "{what}: answers other than 200/5xx: {odd:?}"
    );
    assert!(
        t.failures() > 0,
        "{what}: no request failed: the faults had no effect"
    );
    eprintln!("disk_faults: {what}: {:?}", t.statuses);
}

/// After a restart without faults: baseline and issued tokens valid, revocations holding.
fn assert_acknowledged(h: &Harness, valid: &[String], t: &Tally, what: &str) {
    for token in valid.iter().chain(&t.issued).chain(&t.untouched) {
        let s = h.query_invoices(token).status().as_u16();
        assert_eq!(
            s,
            200,
            "{what}: a token acknowledged with 200 is lost\n{}",
            h.log()
        );
    }
    for token in &t.revoked {
        let s = h.query_invoices(token).status().as_u16();
        assert_eq!(
            s, 401,
            "{what}: a revocation acknowledged with 200 did not hold"
        );
    }
}

fn require(tool: &str, why: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is not installed: {why}");
}

/// Where fiu's control FIFOs go (fiu appends the pid): in the test's folder, so a killed
/// gateway leaves none behind in /tmp.
fn fifo_base(h: &Harness) -> String {
    h.path("fiu-ctrl").to_str().unwrap().to_string()
}

fn fiu_ctrl(h: &Harness, pid: u32, command: &str) {
    let out = Command::new("fiu-ctrl")
        .args(["-f", &fifo_base(h), "-c", command, &pid.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fiu-ctrl {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const FAULT_POINTS: [&str; 3] = [
    "posix/io/rw/pwrite",
    "posix/io/sync/fsync",
    "posix/io/sync/fdatasync",
];

/// Runs the load on a gateway on `backend` under fiu with `enable` (`enable` or
/// `enable_random`) and its `params` applied to each fault point, then restarts it without
/// faults and checks what was acknowledged. Returns the tally and the answers to five issuances
/// after the faults stopped.
fn under_fiu(backend: Backend, enable: &str, params: &str, what: &str) -> (Tally, Vec<u16>) {
    require("fiu-run", "apt-get install fiu-utils");
    require("fiu-ctrl", "apt-get install fiu-utils");
    let what = &format!("{what} ({})", backend.name());
    let mut h = harness(backend);
    let baseline: Vec<String> = (0..60).map(|_| h.token(ID, SECRET)).collect();
    let (kept, victims) = (baseline[..20].to_vec(), baseline[20..].to_vec());
    h.kill();
    let base = fifo_base(&h);
    let Start::Started(mut gw) = start_own(&h, &["fiu-run", "-x", "-f", &base], "fiu.log") else {
        panic!("the gateway did not start under fiu-run");
    };
    for point in FAULT_POINTS {
        let errno = if what.contains("ENOSPC") { 28 } else { 5 };
        let command = format!("{enable} name={point},{params}failinfo={errno}");
        fiu_ctrl(&h, gw.pid(), &command);
    }
    let tally = load(&h, victims, 40, Duration::from_secs(60));
    for point in FAULT_POINTS {
        fiu_ctrl(&h, gw.pid(), &format!("disable name={point}"));
    }
    let after: Vec<u16> = (0..5).map(|_| issue(&h).0).collect();
    if what.contains("ENOSPC") {
        // The store failed for good: liveness says so, for an orchestrator to restart it.
        let health = h.http.get(h.url("/gateway/healthz")).send().unwrap();
        assert_eq!(health.status(), 503, "{what}: healthz after a failed store");
    }
    assert!(
        gw.exited().is_none(),
        "{what}: the gateway died: {}",
        gw.log()
    );
    let log = gw.log();
    gw.kill();
    assert!(
        !log.contains("panicked"),
        "{what}: panic under faults: {log}"
    );
    assert_answers(&tally, what);
    h.restart();
    assert_acknowledged(&h, &kept, &tally, what);
    eprintln!("disk_faults: {what}: after the faults stopped, issuance answered {after:?}");
    (tally, after)
}

fn random_io_errors_are_5xx_and_never_a_false_200(backend: Backend) {
    let (_, after) = under_fiu(backend, "enable_random", "probability=0.02,", "random EIO");
    assert!(after.iter().all(|s| *s == 200 || *s >= 500), "{after:?}");
}

fn a_disk_that_is_full_for_every_write_is_5xx_and_never_a_false_200(backend: Backend) {
    let (tally, after) = under_fiu(backend, "enable", "", "ENOSPC on every write");
    assert!(after.iter().all(|s| *s == 200 || *s >= 500), "{after:?}");
    assert!(
        tally.issued.is_empty(),
        "issued with every write failing: {tally:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// A real full disk: a tmpfs over the data dir.

/// A mount that is lazily unmounted when dropped.
struct Mount(std::path::PathBuf);

fn privileged(cmd: &str, args: &[&str]) -> std::process::Output {
    let root = unsafe { libc::geteuid() } == 0;
    let mut c = if root {
        Command::new(cmd)
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", cmd]);
        c
    };
    c.args(args).output().unwrap()
}

impl Mount {
    fn tmpfs(dir: &std::path::Path, size: &str) -> Self {
        let d = dir.to_str().unwrap();
        let opts = format!("size={size}");
        let out = privileged("mount", &["-t", "tmpfs", "-o", &opts, "tmpfs", d]);
        assert!(
            out.status.success(),
            "cannot mount a tmpfs at {d} (the full-disk test needs root or passwordless sudo): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(dir.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = privileged("umount", &["-l", self.0.to_str().unwrap()]);
    }
}

/// Fills the file system of `path` (a new file) until `ENOSPC`, then frees `leave` bytes.
/// The gateway runs meanwhile: the disk fills under it.
fn fill(path: &std::path::Path, leave: u64) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    for _ in 0..4096 {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    assert!(written > leave, "only {written} bytes fit");
    f.set_len(written - leave).unwrap();
    f.sync_all().unwrap();
}

fn a_full_tmpfs_is_5xx_and_never_a_false_200(backend: Backend) {
    let what = &format!("full tmpfs ({})", backend.name());
    let mut h = harness(backend);
    let baseline: Vec<String> = (0..60).map(|_| h.token(ID, SECRET)).collect();
    let (kept, victims) = (baseline[..20].to_vec(), baseline[20..].to_vec());
    h.kill();
    let (data, orig) = (h.path("data"), h.path("data.orig"));
    std::fs::rename(&data, &orig).unwrap();
    std::fs::create_dir(&data).unwrap();
    let _mount = Mount::tmpfs(&data, "8m");
    crate::store_corrupt::copy_dir(&orig, &data);
    h.restart();
    fill(&data.join("filler"), 64 * 1024);
    let tally = load(&h, victims, 1_000, Duration::from_secs(90));
    assert_answers(&tally, what);
    std::fs::remove_file(data.join("filler")).unwrap();
    let after: Vec<u16> = (0..5).map(|_| issue(&h).0).collect();
    eprintln!("disk_faults: {what}: after space was freed, issuance answered {after:?}");
    assert!(after.iter().all(|s| *s == 200 || *s >= 500), "{after:?}");
    let log = h.log();
    assert!(
        !log.contains("panicked"),
        "{what}: panic on a full disk: {log}"
    );
    h.restart();
    assert_acknowledged(&h, &kept, &tally, what);
    h.kill();
}

/// Fault points `backend` never calls while opening an existing store: there the fault has no
/// effect on the start, and the gateway may start. redb syncs its file with `fdatasync` only;
/// the seal's folder is `fsync`ed only when the seal is created, and here it exists.
fn unused_at_start_up(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Sled => &[],
        Backend::Redb => &["posix/io/sync/fsync"],
    }
}

/// Starts the gateway under fiu with `point` failing: a clean refusal, or (for a point the
/// backend does not call at start-up) a start whose writes under the fault answer 200 or 5xx.
/// Returns the tokens issued with a 200.
fn start_with_fault(h: &Harness, backend: Backend, point: &str) -> Vec<String> {
    let enable = format!("enable name={point},failinfo=5");
    let base = fifo_base(h);
    let wrapper = ["fiu-run", "-x", "-f", &base, "-c", enable.as_str()];
    let name = backend.name();
    match start_own(h, &wrapper, "fiu-start.log") {
        Start::Exited { code, stderr } => {
            eprintln!("disk_faults: {point} failing at start-up ({name}): exit {code:?}: {stderr}");
            assert_eq!(code, Some(1), "{point}: {stderr}");
            assert!(stderr.contains("refusing to start"), "{point}: {stderr}");
            assert!(!stderr.contains("panicked"), "{point}: {stderr}");
            Vec::new()
        }
        Start::Started(mut gw) => {
            assert!(
                unused_at_start_up(backend).contains(&point),
                "{point} failing: the gateway started ({name})"
            );
            let answers: Vec<(u16, Option<String>)> = (0..5).map(|_| issue(h)).collect();
            let log = gw.log();
            gw.kill();
            eprintln!("disk_faults: {point} failing at start-up ({name}): started; {answers:?}");
            assert!(!log.contains("panicked"), "{point}: {log}");
            for (status, _) in &answers {
                assert!(*status == 200 || *status >= 500, "{point}: {answers:?}");
            }
            answers.into_iter().filter_map(|(_, t)| t).collect()
        }
        Start::Hung(log) => panic!("{point} failing: neither started nor refused: {log}"),
    }
}

fn io_errors_at_start_up_are_a_clean_refusal(backend: Backend) {
    require("fiu-run", "apt-get install fiu-utils");
    let mut h = harness(backend);
    let mut kept: Vec<String> = (0..10).map(|_| h.token(ID, SECRET)).collect();
    h.kill();
    for point in FAULT_POINTS {
        kept.extend(start_with_fault(&h, backend, point));
    }
    h.restart();
    let t = Tally::default();
    assert_acknowledged(&h, &kept, &t, "after start-up faults");
}

// ---------------------------------------------------------------------------------------------
// One test per embedded backend.

#[test]
fn random_io_errors_are_5xx_and_never_a_false_200_sled() {
    random_io_errors_are_5xx_and_never_a_false_200(Backend::Sled);
}

#[test]
fn random_io_errors_are_5xx_and_never_a_false_200_redb() {
    random_io_errors_are_5xx_and_never_a_false_200(Backend::Redb);
}

#[test]
fn a_disk_that_is_full_for_every_write_is_5xx_and_never_a_false_200_sled() {
    a_disk_that_is_full_for_every_write_is_5xx_and_never_a_false_200(Backend::Sled);
}

#[test]
fn a_disk_that_is_full_for_every_write_is_5xx_and_never_a_false_200_redb() {
    a_disk_that_is_full_for_every_write_is_5xx_and_never_a_false_200(Backend::Redb);
}

#[test]
fn a_full_tmpfs_is_5xx_and_never_a_false_200_sled() {
    a_full_tmpfs_is_5xx_and_never_a_false_200(Backend::Sled);
}

#[test]
fn a_full_tmpfs_is_5xx_and_never_a_false_200_redb() {
    a_full_tmpfs_is_5xx_and_never_a_false_200(Backend::Redb);
}

#[test]
fn io_errors_at_start_up_are_a_clean_refusal_sled() {
    io_errors_at_start_up_are_a_clean_refusal(Backend::Sled);
}

#[test]
fn io_errors_at_start_up_are_a_clean_refusal_redb() {
    io_errors_at_start_up_are_a_clean_refusal(Backend::Redb);
}
