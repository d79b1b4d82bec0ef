//! The gateway as an operator's process: signals sent to it and the way it exits.

use std::time::{Duration, Instant};

use super::Harness;

impl Harness {
    /// Sends `sig` to the gateway process.
    pub fn signal(&self, sig: i32) {
        let pid = self
            .child
            .as_ref()
            .expect("the gateway is not running")
            .id();
        // SAFETY: kill(2) on the pid of a child this harness spawned and has not reaped.
        assert_eq!(
            unsafe { libc::kill(pid as libc::pid_t, sig) },
            0,
            "kill {sig}"
        );
    }

    /// Waits up to `within` for the gateway process to exit; its status, or `None` if it still
    /// runs.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the gateway process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}
