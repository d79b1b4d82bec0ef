//! A raw HTTP/1.1 connection to the gateway, for requests an HTTP client library would
//! normalise (odd targets, missing `Host`, `TRACE`, upgrades) and for watching one keep-alive
//! connection across several answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One answer as it came over the wire.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: String,
}

impl Answer {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status_line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    /// The first value of `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// True when the gateway will close the connection after this answer.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A connection to `127.0.0.1:port`.
pub struct Wire {
    reader: BufReader<TcpStream>,
}

impl Wire {
    pub fn connect(port: u16) -> Self {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Self {
            reader: BufReader::new(s),
        }
    }

    /// Sends raw bytes (a connection the gateway already closed is not an error here).
    pub fn send(&mut self, raw: &[u8]) {
        let _ = self.reader.get_mut().write_all(raw);
    }

    /// Sends a request and reads its answer; `None` when the connection closed instead.
    pub fn exchange(&mut self, raw: &str) -> Option<Answer> {
        self.send(raw.as_bytes());
        self.read_answer()
    }

    /// Reads one answer (`Content-Length` or chunked, or up to the close).
    pub fn read_answer(&mut self) -> Option<Answer> {
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line).ok()? == 0 {
            return None;
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (n, v) = line.split_once(':')?;
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let mut answer = Answer {
            status_line: status_line.trim_end().to_string(),
            headers,
            body: String::new(),
        };
        answer.body = self.read_body(&answer)?;
        Some(answer)
    }

    fn read_body(&mut self, a: &Answer) -> Option<String> {
        let status = a.status();
        if status == 101 || status == 204 || status == 304 || (100..200).contains(&status) {
            return Some(String::new());
        }
        if let Some(n) = a.header("content-length") {
            let mut body = vec![0u8; n.parse().ok()?];
            self.reader.read_exact(&mut body).ok()?;
            return Some(String::from_utf8_lossy(&body).into_owned());
        }
        if a.header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            return self.read_chunked();
        }
        let mut body = Vec::new();
        let _ = self.reader.read_to_end(&mut body);
        Some(String::from_utf8_lossy(&body).into_owned())
    }

    fn read_chunked(&mut self) -> Option<String> {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            self.reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0u8; size + 2];
            self.reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                return Some(String::from_utf8_lossy(&body).into_owned());
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
}

/// A POST of a JSON `body` to `path` with a Bearer token on an open connection.
pub fn post(path: &str, token: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}
