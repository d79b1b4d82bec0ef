//! A CRM that misbehaves as told: a loopback listener whose connections each get the current
//! [`Fault`], served by a thread that ends with the fault, when the CRM is dropped, or after a
//! bounded time.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How the fake CRM treats each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Reads nothing and closes with unread data: the kernel answers with a TCP RST.
    Reset,
    /// Reads the request and closes without a byte.
    Close,
    /// Answers binary garbage.
    Garbage,
    /// Speaks another protocol first (an SSH banner), then closes.
    Banner,
    /// A status line whose code is not a number.
    BadStatus,
    /// Half a header block, then closes.
    HalfHeaders,
    /// A 1 MiB header line.
    HugeHeaders,
    /// `100 Continue` after `100 Continue`, forever.
    Continues,
    /// The header block one byte every 200 ms, forever.
    Trickle,
    /// Reads the request and never answers.
    Hang,
    /// Headers with `Content-Length: 1000`, a few bytes of body, then closes.
    ShortBody,
    /// Headers and a few bytes of body, then nothing.
    StallBody,
    /// Two different `Content-Length` values.
    DoubleLength,
    /// A proper JSON answer (then closes).
    Healthy,
}

pub const FAULTS: [Fault; 14] = [
    Fault::Reset,
    Fault::Close,
    Fault::Garbage,
    Fault::Banner,
    Fault::BadStatus,
    Fault::HalfHeaders,
    Fault::HugeHeaders,
    Fault::Continues,
    Fault::Trickle,
    Fault::Hang,
    Fault::ShortBody,
    Fault::StallBody,
    Fault::DoubleLength,
    Fault::Healthy,
];

/// Longest any fake CRM thread lives, whatever the test does.
const CRM_LIFETIME: Duration = Duration::from_secs(120);

/// A CRM that misbehaves as told, on a loopback port.
pub struct BadCrm {
    pub addr: String,
    fault: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BadCrm {
    pub fn start(fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let index = FAULTS.iter().position(|f| *f == fault).unwrap() as u8;
        let fault = Arc::new(AtomicU8::new(index));
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (f, s, a) = (fault.clone(), stop.clone(), accepted.clone());
        let thread = std::thread::spawn(move || accept_loop(&listener, &f, &s, &a));
        Self {
            addr,
            fault,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    pub fn set(&self, fault: Fault) {
        let index = FAULTS.iter().position(|f| *f == fault).unwrap() as u8;
        self.fault.store(index, Ordering::SeqCst);
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for BadCrm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, fault: &AtomicU8, stop: &Arc<AtomicBool>, n: &AtomicUsize) {
    let born = Instant::now();
    while !stop.load(Ordering::SeqCst) && born.elapsed() < CRM_LIFETIME {
        match listener.accept() {
            Ok((conn, _)) => {
                n.fetch_add(1, Ordering::SeqCst);
                let f = FAULTS[usize::from(fault.load(Ordering::SeqCst))];
                let stop = stop.clone();
                std::thread::spawn(move || serve(conn, f, &stop));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Sleeps until the CRM stops or `limit` passes.
fn hold(stop: &AtomicBool, limit: Duration) {
    let start = Instant::now();
    while !stop.load(Ordering::SeqCst) && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes `chunk` every `every` until the peer goes, the CRM stops or 30 s pass.
fn drip(conn: &mut TcpStream, stop: &AtomicBool, chunk: &[u8], every: Duration) {
    let start = Instant::now();
    while !stop.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(30) {
        if conn.write_all(chunk).is_err() {
            return;
        }
        std::thread::sleep(every);
    }
}

/// Reads one request (headers and a `Content-Length` body); false if none came within 5 s.
fn read_request(conn: &mut TcpStream) -> bool {
    let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < Duration::from_secs(5) {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return true;
            }
        }
        match conn.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    false
}

fn serve(mut conn: TcpStream, fault: Fault, stop: &AtomicBool) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
    match fault {
        Fault::Reset => {
            // Wait for the request to arrive, then close with it unread: Linux sends RST.
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = conn.peek(&mut [0u8; 1]);
            std::thread::sleep(Duration::from_millis(20));
            return;
        }
        Fault::Banner => {
            let _ = conn.write_all(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3\r\n");
            read_request(&mut conn);
            return;
        }
        _ => {}
    }
    if !read_request(&mut conn) {
        return;
    }
    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n";
    let _ = match fault {
        Fault::Garbage => {
            let bytes: Vec<u8> = (0..512u32).map(|i| (i * 37 + 11) as u8).collect();
            conn.write_all(&bytes)
        }
        Fault::BadStatus => conn.write_all(b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n"),
        Fault::HalfHeaders => conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Ty"),
        Fault::HugeHeaders => {
            let mut big = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
            big.extend(std::iter::repeat_n(b'a', 1 << 20));
            big.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
            conn.write_all(&big)
        }
        Fault::Continues => {
            let every = Duration::from_millis(100);
            drip(&mut conn, stop, b"HTTP/1.1 100 Continue\r\n\r\n", every);
            Ok(())
        }
        Fault::Trickle => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nX-Slow: ");
            drip(&mut conn, stop, b"a", Duration::from_millis(200));
            Ok(())
        }
        Fault::Hang => {
            hold(stop, Duration::from_secs(30));
            Ok(())
        }
        Fault::ShortBody => {
            let _ = conn.write_all(HEAD);
            conn.write_all(b"Content-Length: 1000\r\n\r\n{\"data\":")
        }
        Fault::StallBody => {
            let _ = conn.write_all(HEAD);
            let _ = conn.write_all(b"Content-Length: 1000\r\n\r\n{\"data\":");
            hold(stop, Duration::from_secs(30));
            Ok(())
        }
        Fault::DoubleLength => conn
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello"),
        Fault::Healthy => {
            let body = br#"{"success":true,"result":[]}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\
                 Content-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            conn.write_all(body)
        }
        Fault::Reset | Fault::Close | Fault::Banner => Ok(()),
    };
}
