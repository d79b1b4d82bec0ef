//! Request parameters of the OAuth endpoints: `application/x-www-form-urlencoded` bodies
//! (RFC 6749 §3.2, appendix B) with repeated parameters refused (§3.1), and the client
//! credentials of an HTTP Basic header (§2.3.1).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Parameters of one request, each name at most once; empty values count as absent (§3.1).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Form {
    params: Vec<(String, String)>,
}

impl Form {
    /// The value of `name`, if given and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// True when `name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Why a body is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// A parameter appears more than once.
    Repeated(String),
    /// The body is not UTF-8 after decoding.
    NotUtf8,
}

/// Parses a form body.
pub fn parse(body: &[u8]) -> Result<Form, FormError> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let name = form_decode(name).ok_or(FormError::NotUtf8)?;
        let value = form_decode(value).ok_or(FormError::NotUtf8)?;
        if params.iter().any(|(n, _)| *n == name) {
            return Err(FormError::Repeated(name));
        }
        params.push((name, value));
    }
    params.retain(|(_, v)| !v.is_empty());
    Ok(Form { params })
}

/// The form-urlencoded decoding of one name or value: `+` is a space, `%XX` a byte; the result
/// must be UTF-8.
pub fn form_decode(raw: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// True when a `Content-Type` value is `application/x-www-form-urlencoded` (parameters allowed).
pub fn is_form_content_type(value: &[u8]) -> bool {
    let media = value.split(|b| *b == b';').next().unwrap_or_default();
    media
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
}

/// Client id and secret from an HTTP Basic header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The client id, form-decoded.
    pub client_id: String,
    /// The secret, form-decoded as RFC 6749 §2.3.1 requires.
    pub secret: String,
    /// The secret exactly as sent, for clients that skip the form-encoding step.
    pub raw_secret: String,
}

/// Decodes `Basic base64(urlencode(id):urlencode(secret))`; `None` if it is not Basic at all,
/// `Some(Err)` if it is Basic but malformed.
pub fn basic_credentials(header: &[u8]) -> Option<Result<BasicCredentials, &'static str>> {
    let (scheme, rest) = match header.iter().position(|b| *b == b' ') {
        Some(i) => (&header[..i], &header[i + 1..]),
        None => (header, &b""[..]),
    };
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    Some(decode_basic(rest.trim_ascii()))
}

fn decode_basic(b64: &[u8]) -> Result<BasicCredentials, &'static str> {
    let decoded = STANDARD
        .decode(b64)
        .map_err(|_| "Basic credentials are not base64")?;
    let text = String::from_utf8(decoded).map_err(|_| "Basic credentials are not UTF-8")?;
    let (id, secret) = text.split_once(':').ok_or("Basic credentials lack a ':'")?;
    let client_id = form_decode(id.as_bytes()).ok_or("Basic client id is not UTF-8")?;
    if client_id.is_empty() {
        return Err("Basic credentials have an empty client id");
    }
    Ok(BasicCredentials {
        client_id,
        secret: form_decode(secret.as_bytes()).unwrap_or_else(|| secret.to_string()),
        raw_secret: secret.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_ignored() {
        assert_eq!(
            parse(b"grant_type=a&grant_type=b"),
            Err(FormError::Repeated("grant_type".into()))
        );
        let f = parse(b"grant_type=client_credentials&scope=").unwrap();
        assert_eq!(f.get("grant_type"), Some("client_credentials"));
        assert_eq!(f.get("scope"), None);
        assert_eq!(parse(b"a=%ff"), Err(FormError::NotUtf8));
        assert_eq!(parse(b"a=b+c%2B").unwrap().get("a"), Some("b c+"));
    }

    #[test]
    fn content_type_allows_parameters() {
        assert!(is_form_content_type(
            b"application/x-www-form-urlencoded; charset=UTF-8"
        ));
        assert!(is_form_content_type(b"Application/X-WWW-Form-Urlencoded"));
        assert!(!is_form_content_type(b"application/json"));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        // id "my:id", secret "p%s+&:" encoded per RFC 6749 §2.3.1
        let raw = STANDARD.encode("my%3Aid:p%25s%2B%26%3A");
        let c = basic_credentials(format!("Basic {raw}").as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(c.client_id, "my:id");
        assert_eq!(c.secret, "p%s+&:");
        let plain = STANDARD.encode("id:a+b");
        let c = basic_credentials(format!("basic {plain}").as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!((c.secret.as_str(), c.raw_secret.as_str()), ("a b", "a+b"));
        let odd = STANDARD.encode("id:a%ffb");
        let c = basic_credentials(format!("Basic {odd}").as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(c.secret, "a%ffb", "an undecodable secret is taken as sent");
        assert!(basic_credentials(b"Bearer x").is_none());
        assert!(basic_credentials(b"Basic !!!").unwrap().is_err());
        assert!(
            basic_credentials(format!("Basic {}", STANDARD.encode("nocolon")).as_bytes())
                .unwrap()
                .is_err()
        );
    }
}
