//! A deadline for the CRM's response head. Pingora's read timeout applies to each read, so a CRM
//! that trickles its header block a byte at a time, or sends `100 Continue` for ever, would hold
//! a call (and a worker's connection) open indefinitely. Once the request has been sent, the CRM
//! has the read timeout to finish its final response head; past it the upstream connection is
//! shut down, the call fails, and the client gets `504`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The deadline of one proxied call.
#[derive(Debug, Default)]
pub struct HeadDeadline {
    /// A duplicate of the upstream connection's descriptor: the same socket for as long as we
    /// hold it, whatever pingora does with its own descriptor.
    conn: Option<std::net::TcpStream>,
    /// The timer, once armed.
    timer: Option<tokio::task::AbortHandle>,
    /// Set when the timer shut the connection down.
    fired: Arc<AtomicBool>,
}

impl HeadDeadline {
    /// Remembers the connection pingora is about to use (a new one replaces the previous one,
    /// as on a retry).
    #[cfg(unix)]
    pub fn connected(&mut self, fd: std::os::unix::io::RawFd) {
        self.disarm();
        // SAFETY: pingora passes the descriptor of the live upstream connection, which stays open
        // for the whole of the `connected_to_upstream` call we are in; it is only borrowed here to
        // duplicate it.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        self.conn = borrowed
            .try_clone_to_owned()
            .ok()
            .map(std::net::TcpStream::from);
    }

    /// Starts the clock: the request is sent, the final response head must follow within `limit`.
    pub fn arm(&mut self, limit: Duration) {
        if self.timer.is_some() {
            return;
        }
        let Some(conn) = self.conn.take() else {
            return;
        };
        let fired = self.fired.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            fired.store(true, Ordering::SeqCst);
            let _ = conn.shutdown(std::net::Shutdown::Both);
        });
        self.timer = Some(timer.abort_handle());
    }

    /// The final response head arrived (or the call is over): stop the clock.
    pub fn disarm(&mut self) {
        if let Some(t) = self.timer.take() {
            t.abort();
        }
        self.conn = None;
    }

    /// True when the deadline passed and the connection was shut down.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for HeadDeadline {
    fn drop(&mut self) {
        self.disarm();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[tokio::test]
    async fn a_late_head_shuts_the_connection_and_a_timely_one_does_not() {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut ours = std::net::TcpStream::connect(addr).unwrap();
        let _theirs = listener.accept().unwrap();

        let mut kept = HeadDeadline::default();
        kept.connected(ours.as_raw_fd());
        kept.arm(Duration::from_millis(50));
        kept.disarm();
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(!kept.fired());

        let mut late = HeadDeadline::default();
        late.connected(ours.as_raw_fd());
        late.arm(Duration::from_millis(50));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(late.fired());
        let mut buf = [0u8; 1];
        let n = ours.read(&mut buf).unwrap_or(usize::MAX);
        assert_eq!(n, 0, "the read end is shut down");
    }
}
