//! The Bearer token of a protected request (RFC 6750 §2.1): exactly one `Authorization: Bearer`
//! header (scheme case-insensitive); a token in the query string or sent twice is refused.

/// Why no usable token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No Bearer credentials at all (401).
    Missing,
    /// Credentials that are not a token68 (400 `invalid_request`).
    Malformed,
    /// More than one token (400 `invalid_request`).
    Repeated,
    /// A token in the URI query (400 `invalid_request`).
    InQuery,
}

impl BearerError {
    /// A short description for the client.
    pub fn describe(self) -> &'static str {
        match self {
            BearerError::Missing => "a Bearer token is required",
            BearerError::Malformed => "the Authorization header is malformed",
            BearerError::Repeated => "more than one token in the request",
            BearerError::InQuery => "tokens are accepted only in the Authorization header",
        }
    }
}

/// The token from the `Authorization` header values and the raw query.
pub fn extract<'a>(
    mut authorization: impl Iterator<Item = &'a [u8]>,
    query: Option<&str>,
) -> Result<&'a str, BearerError> {
    let in_query = query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(name, _)| name == "access_token")
    });
    if in_query {
        return Err(BearerError::InQuery);
    }
    let Some(first) = authorization.next() else {
        return Err(BearerError::Missing);
    };
    if authorization.next().is_some() {
        return Err(BearerError::Repeated);
    }
    let Ok(value) = std::str::from_utf8(first) else {
        return Err(BearerError::Malformed);
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Missing);
    }
    let token = rest.trim_start_matches(' ');
    if is_token68(token) {
        Ok(token)
    } else {
        Err(BearerError::Malformed)
    }
}

/// `b64token` of RFC 6750 §2.1: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(headers: &[&'static str], query: Option<&str>) -> Result<&'static str, BearerError> {
        extract(headers.iter().map(|h| h.as_bytes()), query)
    }

    #[test]
    fn accepts_one_bearer_in_any_case() {
        assert_eq!(ex(&["Bearer abc"], None), Ok("abc"));
        assert_eq!(ex(&["bearer abc"], None), Ok("abc"));
        assert_eq!(ex(&["BEARER  abc=="], Some("x=1")), Ok("abc=="));
    }

    #[test]
    fn refuses_the_rest() {
        assert_eq!(ex(&[], None), Err(BearerError::Missing));
        assert_eq!(ex(&["Basic abc"], None), Err(BearerError::Missing));
        assert_eq!(ex(&["Bearer"], None), Err(BearerError::Malformed));
        assert_eq!(ex(&["Bearer a b"], None), Err(BearerError::Malformed));
        assert_eq!(ex(&["Bearer a\u{1}"], None), Err(BearerError::Malformed));
        assert_eq!(
            ex(&["Bearer a", "Bearer b"], None),
            Err(BearerError::Repeated)
        );
        assert_eq!(
            ex(&["Bearer a"], Some("access_token=a")),
            Err(BearerError::InQuery)
        );
        assert_eq!(
            ex(&[], Some("x=1&access_token=a")),
            Err(BearerError::InQuery)
        );
    }
}
