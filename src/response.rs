//! A plain HTTP response value: what the OAuth and gateway endpoints compute, before the server
//! layer writes it. Keeps the endpoint logic free of I/O.

use bytes::Bytes;

/// Status, headers and body of a response the gateway itself answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Header name and value pairs, in order.
    pub headers: Vec<(&'static str, String)>,
    /// Body bytes.
    pub body: Bytes,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        Self {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: Bytes::from(body),
        }
    }

    /// A response with a body of the given content type.
    pub fn bytes(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body: body.into(),
        }
    }

    /// An empty response.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Marks the response as not cacheable (RFC 6749 §5.1).
    pub fn no_store(self) -> Self {
        self.header("Cache-Control", "no-store")
            .header("Pragma", "no-cache")
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
