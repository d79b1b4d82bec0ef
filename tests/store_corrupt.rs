//! A damaged token store at start-up, on each embedded backend. The gateway is populated
//! (tokens issued and revoked, each acknowledged with a 200), SIGKILLed, and the store's files
//! are damaged. sled (`data/store`): bytes flipped at several offsets of the log (`db`), of
//! `conf`, of the snapshot (`snap.*`) and of the seal (`crmgate.seal`), files truncated, files
//! deleted. redb (`data/store-redb`): bytes flipped in `tokens.redb` (its header, its first
//! B-tree pages, the middle, the end), the file truncated or deleted, the seal damaged or
//! deleted. On both: the seal rolled forward (a store behind its seal, which is what a
//! rolled-back commit slot looks like), and on redb the commit slot really rolled back. For each
//! damage the gateway must either refuse to start (exit 1 with "refusing to start" on stderr,
//! within a bounded time, no panic), or start with every acknowledged write intact: issued
//! tokens valid, revoked tokens refused. Starting empty, starting with acknowledged writes lost,
//! panicking or hanging fail the test.

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

pub(crate) fn revoke(h: &Harness, token: &str) -> u16 {
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
pub(crate) fn issue_and_revoke(h: &Harness, n: usize, acked: &mut Acked) {
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

/// A gateway on `backend` with acknowledged tokens and revocations over three runs (so a sled
/// store holds a snapshot, several log segments and a log written after the snapshot; a redb
/// store many group commits after two reopenings), SIGKILLed after the last 200.
pub(crate) fn populated(backend: Backend) -> (Harness, Acked) {
    let apps = format!(
        "{}{}",
        settings(true, false),
        secret_app(ID, SECRET, "rest.all", "aldo")
    );
    let mut h = Harness::start_on(&apps, backend);
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

/// What the proxy answers a Bearer `token` (0: no answer, e.g. the gateway died).
pub(crate) fn invoice_status(h: &Harness, token: &str) -> u16 {
    h.http
        .post(h.url("/restapi/v1/vtews/query"))
        .bearer_auth(token)
        .json(&serde_json::json!({"query": "SELECT * FROM Invoice;"}))
        .send()
        .map_or(0, |r| r.status().as_u16())
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
                        let got = invoice_status(h, t);
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
pub(crate) fn verdict(h: &Harness, acked: &Acked) -> Result<String, String> {
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
            let log = gw.log();
            gw.kill();
            match lost {
                _ if log.contains("panicked") => {
                    Err(format!("started, then panicked: {}", tail(&log)))
                }
                None => Ok("started, every acknowledged write intact".into()),
                Some(what) => Err(format!("started with {what}")),
            }
        }
    }
}

/// The last lines of a log, after the panic message if there is one (a backtrace buries it).
pub(crate) fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let panic = lines
        .iter()
        .position(|l| l.contains("panicked at"))
        .map(|i| format!("{} | ", lines[i..(i + 2).min(lines.len())].join(" ")))
        .unwrap_or_default();
    format!(
        "{panic}{}",
        lines[lines.len().saturating_sub(4)..].join(" | ")
    )
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

/// The store's files by role: sled's `db`, `conf`, `snap` (the newest snapshot); redb's `redb`
/// (`tokens.redb`); both backends' `seal`.
pub(crate) fn store_file(h: &Harness, backend: Backend, role: &str) -> Option<PathBuf> {
    let store = h.path(backend.store_dir());
    if role != "snap" {
        let name = match role {
            "seal" => "crmgate.seal",
            "redb" => "tokens.redb",
            other => other,
        };
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
pub(crate) enum Damage {
    /// Invert the byte at this fraction (per mille) of the file.
    Flip(&'static str, u64),
    /// Invert the byte this far before the end.
    FlipFromEnd(&'static str, u64),
    /// XOR the byte at this offset with this mask.
    XorAt(&'static str, u64, u8),
    /// Cut the file to this fraction (per mille) of its length.
    Truncate(&'static str, u64),
    /// Cut this many bytes off the end.
    Chop(&'static str, u64),
    /// Delete the file (or folder).
    Delete(&'static str),
    /// Rewrite the seal (validly) this many commits ahead of what it says: what the store looks
    /// like when its last commits were lost under an intact seal (a rolled-back commit slot).
    SealAhead(u64),
}

impl Damage {
    fn role(self) -> &'static str {
        match self {
            Damage::Flip(r, _)
            | Damage::FlipFromEnd(r, _)
            | Damage::XorAt(r, _, _)
            | Damage::Truncate(r, _)
            | Damage::Chop(r, _)
            | Damage::Delete(r) => r,
            Damage::SealAhead(_) => "seal",
        }
    }
}

/// A valid seal saying `seq` (the format of `src/store/seal.rs`: magic, the number big endian,
/// the first 8 bytes of SHA-256 over both).
pub(crate) fn seal_bytes(seq: u64) -> Vec<u8> {
    use sha2::Digest;
    let mut out = b"crmseal1".to_vec();
    out.extend_from_slice(&seq.to_be_bytes());
    let sum = sha2::Sha256::digest(&out);
    out.extend_from_slice(&sum[..8]);
    out
}

/// The sequence number a seal says (it must be a valid one).
pub(crate) fn sealed_seq(bytes: &[u8]) -> u64 {
    assert_eq!(bytes.len(), 24, "a seal is 24 bytes");
    let seq = u64::from_be_bytes(bytes[8..16].try_into().unwrap());
    assert_eq!(seal_bytes(seq), bytes, "the seal does not verify");
    seq
}

/// `d` applied to the bytes of its file; false when the file is too short for it.
fn damage_bytes(d: Damage, bytes: &mut Vec<u8>) -> bool {
    let len = bytes.len() as u64;
    let mut xor_at = |at: u64, mask: u8| {
        if at >= len {
            return false;
        }
        bytes[at as usize] ^= mask;
        true
    };
    match d {
        Damage::Flip(_, per_mille) => xor_at(len * per_mille / 1000, 0xff),
        Damage::FlipFromEnd(_, back) => back <= len && xor_at(len - back, 0xff),
        Damage::XorAt(_, at, mask) => xor_at(at, mask),
        Damage::Truncate(_, per_mille) => {
            bytes.truncate((len * per_mille / 1000) as usize);
            true
        }
        Damage::Chop(_, n) => {
            bytes.truncate(len.saturating_sub(n) as usize);
            n <= len
        }
        Damage::SealAhead(n) => {
            *bytes = seal_bytes(sealed_seq(bytes) + n);
            true
        }
        Damage::Delete(_) => unreachable!("deletions have no bytes"),
    }
}

/// Applies `d` to `backend`'s store; false when the file is absent or too short for it.
pub(crate) fn apply(h: &Harness, backend: Backend, d: Damage) -> bool {
    if d.role() == "blobs" {
        std::fs::remove_dir_all(h.path(backend.store_dir()).join("blobs")).unwrap();
        return true;
    }
    let Some(path) = store_file(h, backend, d.role()) else {
        return false;
    };
    if let Damage::Delete(_) = d {
        std::fs::remove_file(&path).unwrap();
        return true;
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let done = damage_bytes(d, &mut bytes);
    std::fs::write(&path, bytes).unwrap();
    done
}

/// Populates a store on `backend`, then for each damage: restores the pristine store, damages
/// it and starts the gateway. Fails listing every damage that was neither refused nor harmless,
/// and when fewer than `min_applied` damages could be applied.
pub(crate) fn run_damages(
    backend: Backend,
    damages: &[Damage],
    min_applied: usize,
) -> Vec<(Damage, String)> {
    let (h, acked) = populated(backend);
    let store = h.path(backend.store_dir());
    let pristine = h.path("store.pristine");
    copy_dir(&store, &pristine);
    for e in std::fs::read_dir(&store).unwrap() {
        let e = e.unwrap();
        let len = e.metadata().unwrap().len();
        eprintln!(
            "store_corrupt ({}): {:?} {len} bytes",
            backend.name(),
            e.file_name()
        );
    }
    let mut report = Vec::new();
    for &d in damages {
        std::fs::remove_dir_all(&store).unwrap();
        copy_dir(&pristine, &store);
        let note = if !apply(&h, backend, d) {
            "not applicable (file absent or too short)".to_string()
        } else {
            verdict(&h, &acked).unwrap_or_else(|e| format!("BAD: {e}"))
        };
        eprintln!("store_corrupt ({}): {d:?} -> {note}", backend.name());
        report.push((d, note));
    }
    let applied = report
        .iter()
        .filter(|(_, n)| !n.starts_with("not "))
        .count();
    assert!(
        applied >= min_applied,
        "only {applied} damages applied: {report:?}"
    );
    let bad: Vec<String> = report
        .iter()
        .filter(|(_, n)| n.starts_with("BAD"))
        .map(|(d, n)| format!("{d:?}: {n}"))
        .collect();
    assert!(
        bad.is_empty(),
        "damaged {} stores mishandled:\n{}",
        backend.name(),
        bad.join("\n")
    );
    report
}
