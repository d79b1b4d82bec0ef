//! Child processes of the load bench: spawning (with a parent-death signal), a guard that stops
//! every child on drop, readiness polling on loopback, and what /proc says about a process tree
//! (CPU time, peak and current RSS).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A started child: its name (for messages) and its stderr log file.
struct Proc {
    name: String,
    child: Child,
    log: std::path::PathBuf,
}

/// Every child the bench started; dropping it stops them all (SIGTERM, then SIGKILL).
#[derive(Default)]
pub struct Procs {
    list: Vec<Proc>,
}

impl Procs {
    /// Starts `cmd` with stdout discarded and stderr appended to `log`; returns its pid.
    pub fn spawn(&mut self, name: &str, cmd: &mut Command, log: &Path) -> Result<u32, String> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let pid = child.id();
        self.list.push(Proc {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        });
        Ok(pid)
    }

    /// Fails with the end of its log when the child `pid` has exited.
    pub fn check_alive(&mut self, pid: u32) -> Result<(), String> {
        let Some(p) = self.list.iter_mut().find(|p| p.child.id() == pid) else {
            return Err(format!("no child with pid {pid}"));
        };
        match p.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited with {status}; its log ends with:\n{}",
                p.name,
                log_tail(&p.log)
            )),
            Err(e) => Err(format!("{}: {e}", p.name)),
        }
    }

    /// Stops the child `pid` (SIGTERM, at most 3 s, then SIGKILL) and forgets it.
    pub fn stop(&mut self, pid: u32) {
        if let Some(i) = self.list.iter().position(|p| p.child.id() == pid) {
            let mut p = self.list.remove(i);
            stop_child(&mut p.child);
        }
    }

    /// Waits for the child `pid` to exit by itself within `timeout`; fails (with its log) when it
    /// exits unsuccessfully or overruns (then it is stopped).
    pub fn wait_exit(&mut self, pid: u32, timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            let Some(p) = self.list.iter_mut().find(|p| p.child.id() == pid) else {
                return Err(format!("no child with pid {pid}"));
            };
            let result = match p.child.try_wait() {
                Ok(None) => None,
                Ok(Some(s)) if s.success() => Some(Ok(())),
                Ok(Some(s)) => Some(Err(format!(
                    "{} exited with {s}:\n{}",
                    p.name,
                    log_tail(&p.log)
                ))),
                Err(e) => Some(Err(format!("{}: {e}", p.name))),
            };
            if let Some(result) = result {
                self.stop(pid);
                return result;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop(pid);
        Err(format!("child {pid} did not finish within {timeout:?}"))
    }

    /// Polls `GET path` on `port` every 5 ms until it answers (200 when `need_ok`); returns the
    /// time it took. Fails when the child exits or `timeout` passes.
    pub fn wait_http(
        &mut self,
        pid: u32,
        port: u16,
        path: &str,
        need_ok: bool,
        timeout: Duration,
    ) -> Result<Duration, String> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            self.check_alive(pid)?;
            match http_status(port, path) {
                Some(200) => return Ok(start.elapsed()),
                Some(_) if !need_ok => return Ok(start.elapsed()),
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        Err(format!(
            "127.0.0.1:{port}{path} did not answer within {timeout:?}"
        ))
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        while let Some(mut p) = self.list.pop() {
            stop_child(&mut p.child);
        }
    }
}

fn stop_child(child: &mut Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: plain syscall on the pid of our own, not yet reaped, child.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The last 2 KB of a log file.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(2048);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_string()
}

/// A free loopback port (bound, then released).
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// Status code of `GET path` on a fresh loopback connection, if an answer came within 1 s.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split(' ').nth(1)?.parse().ok()
}

/// Clock ticks per second of the utime/stime fields in /proc/PID/stat.
pub fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Fields of /proc/PID/stat after the command name: index 0 is field 3 (state).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// `pid` and its direct children (nginx: the master and its worker).
pub fn tree(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten().take(100_000) {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let parent = stat_fields(child).and_then(|f| f.get(1)?.parse::<u32>().ok());
        if parent == Some(pid) {
            pids.push(child);
        }
    }
    pids
}

/// utime + stime of `pids`, in clock ticks.
pub fn cpu_ticks(pids: &[u32]) -> u64 {
    let one = |pid: &u32| -> u64 {
        stat_fields(*pid).map_or(0, |f| {
            let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            field(11) + field(12)
        })
    };
    pids.iter().map(one).sum()
}

/// A `Vm*` line of /proc/PID/status (e.g. `VmHWM`) summed over `pids`, in KiB.
pub fn status_kib(pids: &[u32], key: &str) -> u64 {
    let one = |pid: &u32| -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    pids.iter().map(one).sum()
}

/// Resets the peak RSS (VmHWM) of `pids` to their current RSS; best effort.
pub fn reset_peak_rss(pids: &[u32]) {
    for pid in pids {
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
}
