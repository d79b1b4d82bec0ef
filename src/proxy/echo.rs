//! Nothing the gateway injects comes back: the CRM credentials it adds to a forwarded call (the
//! user's access key and its `Basic` form) are blanked wherever a CRM answer repeats them, in a
//! header or anywhere in the body, however the body is split into chunks.

use base64::Engine;
use bytes::{Bytes, BytesMut};
use memchr::memmem;

/// The byte every byte of a blanked secret becomes.
const BLANK: u8 = b'*';

/// The spellings of the injected credentials a CRM answer could repeat.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    needles: Vec<Vec<u8>>,
}

impl Secrets {
    /// The access key of `username` and the `Basic` credentials made from it: as sent, with `/`
    /// escaped as JSON (`\/`, what PHP's `json_encode` writes) and percent-encoded.
    pub fn basic(username: &str, access_key: &str) -> Self {
        let b64 =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{access_key}"));
        let mut needles = vec![
            access_key.as_bytes().to_vec(),
            b64.as_bytes().to_vec(),
            b64.replace('/', "\\/").into_bytes(),
            percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
                .into_bytes(),
        ];
        needles.retain(|n| n.len() >= 6);
        needles.sort();
        needles.dedup();
        Self { needles }
    }

    /// True when there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// True when `haystack` repeats a secret.
    pub fn found_in(&self, haystack: &[u8]) -> bool {
        self.needles
            .iter()
            .any(|n| memmem::find(haystack, n).is_some())
    }

    fn longest(&self) -> usize {
        self.needles.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// Blanks every occurrence in `buf`; true when there was one.
    fn blank(&self, buf: &mut [u8]) -> bool {
        let mut found = false;
        for needle in &self.needles {
            let hits: Vec<usize> = memmem::find_iter(buf, needle).collect();
            for at in hits {
                buf[at..at + needle.len()].fill(BLANK);
                found = true;
            }
        }
        found
    }
}

/// Blanks secrets in a body that arrives in chunks: the last `longest - 1` bytes of each chunk
/// are held back until the next one shows whether they start a secret, so the body keeps its
/// length and only the chunking changes.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: Secrets,
    held: BytesMut,
    /// Whether a secret was blanked.
    pub blanked: bool,
}

impl Redactor {
    /// A redactor looking for `secrets`.
    pub fn new(secrets: Secrets) -> Self {
        Self {
            secrets,
            held: BytesMut::new(),
            blanked: false,
        }
    }

    /// What it looks for.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// The bytes to send for `chunk` (`None` = no body data yet); `end` flushes what is held.
    pub fn filter(&mut self, chunk: Option<Bytes>, end: bool) -> Option<Bytes> {
        if self.secrets.is_empty() {
            return chunk;
        }
        if let Some(c) = chunk {
            self.held.extend_from_slice(&c);
        }
        self.blanked |= self.secrets.blank(&mut self.held);
        let keep = if end {
            0
        } else {
            self.secrets
                .longest()
                .saturating_sub(1)
                .min(self.held.len())
        };
        let ready = self.held.len() - keep;
        (ready > 0).then(|| self.held.split_to(ready).freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(secrets: &Secrets, body: &[u8], chunk: usize) -> Vec<u8> {
        let mut r = Redactor::new(secrets.clone());
        let mut out = Vec::new();
        let parts: Vec<&[u8]> = body.chunks(chunk).collect();
        for (i, part) in parts.iter().enumerate() {
            let end = i + 1 == parts.len();
            if let Some(b) = r.filter(Some(Bytes::copy_from_slice(part)), end) {
                out.extend_from_slice(&b);
            }
        }
        out
    }

    #[test]
    fn blanks_every_spelling_at_any_chunk_boundary() {
        let s = Secrets::basic("aldo", "B9gVd6yeLXyTT41f");
        let b64 = "YWxkbzpCOWdWZDZ5ZUxYeVRUNDFm";
        let body = format!(
            "TRACE / HTTP/1.1\r\nAuthorization: Basic {b64}\r\n\r\n{{\"k\":\"B9gVd6yeLXyTT41f\"}}"
        );
        for chunk in 1..body.len() {
            let out = run(&s, body.as_bytes(), chunk);
            assert_eq!(out.len(), body.len(), "{chunk}");
            assert!(!s.found_in(&out), "{chunk}");
            assert!(
                String::from_utf8_lossy(&out).contains("Authorization: Basic ****"),
                "{chunk}"
            );
        }
        let clean = b"{\"status\":200,\"data\":[]}";
        assert_eq!(run(&s, clean, 3), clean);
    }

    #[test]
    fn json_and_percent_spellings() {
        // base64 of "u:k/k?k>>" holds a '/' and a '+' once encoded.
        let s = Secrets::basic("u", "key???>>>?");
        let b64 = base64::engine::general_purpose::STANDARD.encode("u:key???>>>?");
        assert!(b64.contains('/') || b64.contains('+'), "{b64}");
        let json = b64.replace('/', "\\/");
        assert!(s.found_in(json.as_bytes()));
        let pct = percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        assert!(s.found_in(pct.as_bytes()));
        assert!(!s.found_in(b"nothing to see"));
    }
}
