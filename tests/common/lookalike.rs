//! A CRM that answers the way the real vtenext 20.04 behind Apache does, on the points the
//! gateway must cope with (measured, see ../shared/vtenext/README.md): `HTTP/1.0` status lines
//! and a closed connection after every answer, `Access-Control-Allow-Origin: *` with
//! `-Allow-Credentials: true` on every REST answer, a session cookie, `401` for credentials it
//! does not know, Apache's `TRACE` echo, the legacy `/webservice.php`. It also does what a
//! hostile or broken CRM could: echo the request's headers in a body, switch protocols, answer
//! without a length. Every request is recorded.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;

/// One request as the CRM read it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The request line's method.
    pub method: String,
    /// The request target as sent.
    pub target: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Bytes that arrived after a protocol switch.
    pub tunnelled: Vec<u8>,
}

impl Seen {
    /// Every value of `name`.
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Longest any connection thread of the CRM lives.
const LIFETIME: Duration = Duration::from_secs(60);

/// The look-alike CRM on a loopback port. Users and keys are the harness's (`ak-<name>`).
pub struct Lookalike {
    pub addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    finished: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Lookalike {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let finished = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, f, st) = (seen.clone(), finished.clone(), stop.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            while !st.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(600) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (s, f) = (s.clone(), f.clone());
                        std::thread::spawn(move || serve(conn, &s, &f));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            addr,
            seen,
            finished,
            stop,
        }
    }

    /// Connections the CRM is done with (answered and, after a switch, closed).
    pub fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }

    /// Everything received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Forgets what was received.
    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

impl Drop for Lookalike {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads one request (head and `Content-Length` body); `None` on a closed or garbled stream.
fn read_request(conn: &mut TcpStream) -> Option<(Seen, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let mut seen = Seen {
        method: request_line.next()?.to_string(),
        target: request_line.next()?.to_string(),
        ..Seen::default()
    };
    for line in lines.filter(|l| !l.is_empty()) {
        let (n, v) = line.split_once(':')?;
        seen.headers
            .push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let length: usize = seen
        .header("content-length")
        .first()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    seen.body = body;
    Some((seen, buf[..head_end].to_vec()))
}

fn serve(mut conn: TcpStream, seen: &Mutex<Vec<Seen>>, finished: &AtomicUsize) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    if let Some((request, head)) = read_request(&mut conn) {
        let answer = answer(&request, &head);
        let index = {
            let mut all = seen.lock().unwrap();
            all.push(request);
            all.len() - 1
        };
        let _ = conn.write_all(&answer);
        if answer.starts_with(b"HTTP/1.1 101") {
            let tunnelled = read_tunnel(&mut conn);
            seen.lock().unwrap()[index].tunnelled = tunnelled;
        }
    }
    // Apache closes the connection after every answer of the CRM.
    finished.fetch_add(1, Ordering::SeqCst);
}

/// What arrives after a protocol switch, until the peer closes (at most 2 s).
fn read_tunnel(conn: &mut TcpStream) -> Vec<u8> {
    let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
    let mut chunk = [0u8; 4096];
    let mut tunnelled = Vec::new();
    let until = Instant::now() + Duration::from_secs(2).min(LIFETIME);
    while Instant::now() < until {
        match conn.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => tunnelled.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    }
    tunnelled
}

/// The user whose harness access key (`ak-<name>`) the request's Basic credentials carry.
fn basic_user(request: &Seen) -> Option<String> {
    let value = request.header("authorization").first().copied()?;
    let b64 = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, key) = decoded.split_once(':')?;
    (key == format!("ak-{user}")).then(|| user.to_string())
}

const REST_HEADERS: &str = "Access-Control-Allow-Headers: Authorization, Content-Type\r\n\
    Access-Control-Allow-Credentials: true\r\nAccess-Control-Allow-Methods: POST, OPTIONS\r\n\
    Access-Control-Allow-Origin: *\r\nSet-Cookie: PHPSESSID=crm-session-1; path=/\r\n";

fn http10(status: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.0 {status}\r\nServer: Apache/2.4.71 (Debian) PHP/7.4.33\r\n{extra}Content-Length: {}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn answer(request: &Seen, head: &[u8]) -> Vec<u8> {
    if request.method == "TRACE" {
        let echo = String::from_utf8_lossy(head);
        return format!(
            "HTTP/1.1 200 OK\r\nContent-Type: message/http\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{echo}",
            echo.len()
        )
        .into_bytes();
    }
    if !request.header("upgrade").is_empty() {
        return b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            .to_vec();
    }
    if request.target.starts_with("/webservice.php") {
        return http10(
            "200 OK",
            "",
            r#"{"success":true,"result":{"token":"challenge","serverTime":1}}"#,
        );
    }
    if !request.target.starts_with("/restapi/") {
        return http10("200 OK", "Set-Cookie: PHPSESSID=crm-ui; path=/\r\n", "{}");
    }
    let Some(user) = basic_user(request) else {
        let body = r#"{"status":401,"error":"InvalidLoginException","message":"Authentication failed - reason: incorrect username and password combination"}"#;
        return http10("401 Unauthorized", REST_HEADERS, body);
    };
    rest(request, &user)
}

/// A REST answer for `user`; the query text picks a behaviour.
fn rest(request: &Seen, user: &str) -> Vec<u8> {
    let body = String::from_utf8_lossy(&request.body);
    if body.contains("ECHO") {
        // What a CRM that repeats the request would send, with PHP's `\/` escapes.
        let headers: Vec<String> = request
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        let json = serde_json::json!({"status": 200, "data": headers}).to_string();
        let body = json.replace('/', "\\/");
        return http10("200 OK", REST_HEADERS, &body);
    }
    if body.contains("SWITCH") {
        return b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: tunnel\r\nConnection: Upgrade\r\n\r\n"
            .to_vec();
    }
    let data = format!(r#"{{"status":200,"data":[{{"id":"3x1","owner":"{user}"}}]}}"#);
    if body.contains("NOLENGTH") {
        return format!(
            "HTTP/1.0 200 OK\r\n{REST_HEADERS}Connection: close\r\nContent-Type: application/json\r\n\r\n{data}"
        )
        .into_bytes();
    }
    http10("200 OK", REST_HEADERS, &data)
}
