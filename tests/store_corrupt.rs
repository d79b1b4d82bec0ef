//! A damaged token store at start-up. The gateway is populated (tokens issued and revoked, each
//! acknowledged with a 200), SIGKILLed, and the sled files under `data/store` are damaged: bytes
//! flipped at several offsets of the log (`db`), of `conf`, of the snapshot (`snap.*`) and of the
//! seal (`crmgate.seal`), files truncated, files deleted. For each damage the gateway must either
//! refuse to start (exit 1 with "refusing to start" on stderr, within a bounded time, no panic),
//! or start with every acknowledged write intact: issued tokens valid, revoked tokens refused.
//! Starting empty, starting with acknowledged writes lost, panicking or hanging fail the test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const ID: &str = "vte_5c000000000000000001";
const SECRET: &str = "corrupt-secret";

/// How long a gateway may take to start or to refuse.
const START_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// A gateway process started by the test itself (the harness's one is stopped first), so that
// a refusal's exit code and stderr can be read, and a wrapper (fiu-run) can be put in front.

/// A gateway this module started; killed when dropped.
pub(crate) struct OwnGateway {
    child: Option<Child>,
    log: PathBuf,
}

impl OwnGateway {
    /// SIGKILLs it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Its stderr so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// True once it exited (it should not).
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for OwnGateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How a start attempt ended.
pub(crate) enum Start {
    /// The process exited on its own.
    Exited { code: Option<i32>, stderr: String },
    /// It serves requests.
    Started(OwnGateway),
    /// Neither within [`START_LIMIT`] (it was killed).
    Hung(String),
}

/// True when `h`'s address answers with `h`'s issuer.
pub(crate) fn answers(h: &Harness) -> bool {
    h.http
        .get(h.url("/.well-known/oauth-authorization-server"))
        .timeout(Duration::from_secs(2))
        .send()
        .ok()
        .and_then(|r| r.json::<Value>().ok())
        .is_some_and(|v| v["issuer"] == h.base.as_str())
}

/// Starts `crmgate serve` on `h`'s config, behind `wrapper` (a command and its arguments, or
/// nothing), with stderr in `log_name`; waits until it serves, exits or [`START_LIMIT`] passes.
pub(crate) fn start_own(h: &Harness, wrapper: &[&str], log_name: &str) -> Start {
    let log = h.path(log_name);
    let file = std::fs::File::create(&log).unwrap();
    let bin = env!("CARGO_BIN_EXE_crmgate");
    let mut cmd = match wrapper.split_first() {
        None => Command::new(bin),
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
    };
    cmd.args(["serve", "--config"])
        .arg(h.path("crmgate.toml"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(file);
    let mut gw = OwnGateway {
        child: Some(cmd.spawn().unwrap()),
        log,
    };
    let deadline = Instant::now() + START_LIMIT;
    while Instant::now() < deadline {
        if let Some(status) = gw.exited() {
            gw.child = None;
            return Start::Exited {
                code: status.code(),
                stderr: gw.log(),
            };
        }
        if answers(h) {
            return Start::Started(gw);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    gw.kill();
    Start::Hung(gw.log())
}

// ---------------------------------------------------------------------------------------------
// The acknowledged state and its check.

/// What the gateway acknowledged before the damage.
pub(crate) struct Acked {
    pub(crate) valid: Vec<String>,
    pub(crate) revoked: Vec<String>,
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

/// Issues `n` tokens from each of four threads and revokes every fifth, each acknowledged.
fn issue_and_revoke(h: &Harness, n: usize, acked: &mut Acked) {
    let parts: Vec<(Vec<String>, Vec<String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let (mut valid, mut revoked) = (Vec::new(), Vec::new());
                    for i in 0..n {
                        let t = h.token(ID, SECRET);
                        if i % 5 == 4 {
                            assert_eq!(revoke(h, &t), 200, "revocation");
                            revoked.push(t);
                        } else {
                            valid.push(t);
                        }
                    }
                    (valid, revoked)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for (valid, revoked) in parts {
        acked.valid.extend(valid);
        acked.revoked.extend(revoked);
    }
}

/// A gateway with acknowledged tokens and revocations over three runs (so the store holds a
/// snapshot, several log segments and a log written after the snapshot), SIGKILLed after the
/// last 200.
fn populated() -> (Harness, Acked) {
    let apps = format!(
        "{}{}",
        settings(true, false),
        secret_app(ID, SECRET, "rest.all", "aldo")
    );
    let mut h = Harness::start(&apps);
    let mut acked = Acked {
        valid: Vec::new(),
        revoked: Vec::new(),
    };
    for run in 0..3 {
        if run > 0 {
            h.restart();
        }
        issue_and_revoke(&h, 70, &mut acked);
    }
    h.kill();
    (h, acked)
}

/// `None` when every acknowledged write holds at the running gateway, else what is wrong.
pub(crate) fn lost_writes(h: &Harness, acked: &Acked) -> Option<String> {
    let mut checks: Vec<(&String, u16, &str)> = Vec::new();
    checks.extend(acked.valid.iter().map(|t| (t, 200, "issued token")));
    checks.extend(acked.revoked.iter().map(|t| (t, 401, "revoked token")));
    let wrong: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = checks
            .chunks(checks.len().div_ceil(4).max(1))
            .map(|part| {
                s.spawn(move || {
                    let mut wrong = Vec::new();
                    for (t, expect, what) in part {
                        let got = h.query_invoices(t).status().as_u16();
                        if got != *expect {
                            wrong.push(format!("{what} answered {got}"));
                        }
                    }
                    wrong
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    if wrong.is_empty() {
        return None;
    }
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for w in &wrong {
        *counts.entry(w).or_default() += 1;
    }
    let what: Vec<String> = counts.iter().map(|(k, n)| format!("{n} x {k}")).collect();
    Some(format!(
        "{} of {} acknowledged writes not holding ({})",
        wrong.len(),
        checks.len(),
        what.join(", ")
    ))
}

/// How the gateway met one damage: `Ok` with a note, or `Err` with what went wrong.
fn verdict(h: &Harness, acked: &Acked) -> Result<String, String> {
    match start_own(h, &[], "corrupt.log") {
        Start::Exited {
            code: Some(1),
            stderr,
        } if stderr.contains("refusing to start") => {
            let how = if stderr.contains("panicked") {
                "refused, sled panicked (caught)"
            } else {
                "refused"
            };
            Ok(format!("{how}: {}", tail(&stderr)))
        }
        Start::Exited { code, stderr } => Err(format!(
            "exited with {code:?} without a clear refusal: {}",
            tail(&stderr)
        )),
        Start::Hung(log) => Err(format!("neither started nor refused: {}", tail(&log))),
        Start::Started(mut gw) => {
            let lost = lost_writes(h, acked);
            gw.kill();
            match lost {
                None => Ok("started, every acknowledged write intact".into()),
                Some(what) => Err(format!("started with {what}")),
            }
        }
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(4)..].join(" | ")
}

// ---------------------------------------------------------------------------------------------
// Damage.

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

/// The store's files by role: `db`, `conf`, `snap` (the newest snapshot), `seal`.
fn store_file(h: &Harness, role: &str) -> Option<PathBuf> {
    let store = h.path("data/store");
    if role != "snap" {
        let name = if role == "seal" { "crmgate.seal" } else { role };
        return Some(store.join(name)).filter(|p| p.exists());
    }
    let mut snaps: Vec<PathBuf> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("snap.")
        })
        .collect();
    snaps.sort();
    snaps.pop()
}

/// One way to damage the store.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// Invert the byte at this fraction (per mille) of the file.
    Flip(&'static str, u64),
    /// Invert the byte this far before the end.
    FlipFromEnd(&'static str, u64),
    /// Cut the file to this fraction (per mille) of its length.
    Truncate(&'static str, u64),
    /// Cut this many bytes off the end.
    Chop(&'static str, u64),
    /// Delete the file (or folder).
    Delete(&'static str),
}

/// Applies `d`; false when the file is absent or too short for it.
fn apply(h: &Harness, d: Damage) -> bool {
    let role = match d {
        Damage::Flip(r, _)
        | Damage::FlipFromEnd(r, _)
        | Damage::Truncate(r, _)
        | Damage::Chop(r, _)
        | Damage::Delete(r) => r,
    };
    if role == "blobs" {
        std::fs::remove_dir_all(h.path("data/store/blobs")).unwrap();
        return true;
    }
    let Some(path) = store_file(h, role) else {
        return false;
    };
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len() as u64;
    let flip_at = |at: u64, bytes: &mut Vec<u8>| {
        if at >= len {
            return false;
        }
        bytes[at as usize] ^= 0xff;
        true
    };
    let done = match d {
        Damage::Flip(_, per_mille) => flip_at(len * per_mille / 1000, &mut bytes),
        Damage::FlipFromEnd(_, back) => back <= len && flip_at(len - back, &mut bytes),
        Damage::Truncate(_, per_mille) => {
            bytes.truncate((len * per_mille / 1000) as usize);
            true
        }
        Damage::Chop(_, n) => {
            bytes.truncate(len.saturating_sub(n) as usize);
            n <= len
        }
        Damage::Delete(_) => {
            std::fs::remove_file(&path).unwrap();
            return true;
        }
    };
    std::fs::write(&path, bytes).unwrap();
    done
}

/// Populates a store, then for each damage: restores the pristine store, damages it and
/// starts the gateway. Fails listing every damage that was neither refused nor harmless, and
/// when fewer than `min_applied` damages could be applied.
fn run_damages(damages: &[Damage], min_applied: usize) -> Vec<(Damage, String)> {
    let (h, acked) = populated();
    let store = h.path("data/store");
    let pristine = h.path("store.pristine");
    copy_dir(&store, &pristine);
    for e in std::fs::read_dir(&store).unwrap() {
        let e = e.unwrap();
        eprintln!(
            "store_corrupt: {:?} {} bytes",
            e.file_name(),
            e.metadata().unwrap().len()
        );
    }
    let mut report = Vec::new();
    let mut bad = Vec::new();
    for &d in damages {
        std::fs::remove_dir_all(&store).unwrap();
        copy_dir(&pristine, &store);
        if !apply(&h, d) {
            report.push((d, "not applicable (file absent or too short)".to_string()));
            continue;
        }
        match verdict(&h, &acked) {
            Ok(note) => report.push((d, note)),
            Err(e) => {
                report.push((d, format!("BAD: {e}")));
                bad.push(format!("{d:?}: {e}"));
            }
        }
    }
    for (d, note) in &report {
        eprintln!("store_corrupt: {d:?} -> {note}");
    }
    let applied = report
        .iter()
        .filter(|(_, n)| !n.starts_with("not "))
        .count();
    assert!(
        applied >= min_applied,
        "only {applied} damages applied: {report:?}"
    );
    assert!(
        bad.is_empty(),
        "damaged stores mishandled:\n{}",
        bad.join("\n")
    );
    report
}

fn refused(report: &[(Damage, String)], what: &str) {
    for (d, note) in report {
        assert!(note.starts_with("refused"), "{what}: {d:?} -> {note}");
    }
}

#[test]
fn flipped_bytes_in_the_log_are_refused_or_harmless() {
    use Damage::*;
    let mut damages: Vec<Damage> = [0, 1, 5, 20, 50, 100, 200, 300, 400, 500, 600, 700]
        .into_iter()
        .map(|m| Flip("db", m))
        .collect();
    damages.extend([800, 900, 950, 990, 999].map(|m| Flip("db", m)));
    damages.extend([1, 16, 100, 1000, 4096, 20_000].map(|b| FlipFromEnd("db", b)));
    run_damages(&damages, 20);
}

#[test]
fn truncated_files_are_refused_or_harmless() {
    use Damage::*;
    let damages = [
        Truncate("db", 0),
        Truncate("db", 100),
        Truncate("db", 500),
        Truncate("db", 900),
        Chop("db", 1),
        Chop("db", 100),
        Chop("db", 1000),
        Chop("db", 10_000),
        Truncate("conf", 0),
        Truncate("conf", 500),
        Truncate("snap", 0),
        Truncate("snap", 500),
        Chop("snap", 1),
        Truncate("seal", 0),
        Chop("seal", 1),
    ];
    let report = run_damages(&damages, 12);
    refused(&report[..1], "an emptied log");
}

#[test]
fn other_files_damaged_or_deleted_are_refused_or_harmless() {
    use Damage::*;
    let damages = [
        Delete("db"),
        Delete("seal"),
        Delete("conf"),
        Delete("snap"),
        Delete("blobs"),
        Flip("conf", 0),
        Flip("conf", 500),
        FlipFromEnd("conf", 1),
        Flip("snap", 0),
        Flip("snap", 500),
        FlipFromEnd("snap", 1),
        Flip("seal", 0),
        Flip("seal", 500),
        FlipFromEnd("seal", 1),
    ];
    let report = run_damages(&damages, 10);
    refused(&report[..1], "a deleted log");
}
