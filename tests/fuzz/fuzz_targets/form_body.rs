//! The form-urlencoded body parser of the token, revocation and introspection endpoints
//! (`crmgate::oauth::form::parse`), checked against a small independent model: same
//! acceptance, same repeated-parameter refusal, same values; empty values read as absent.
//! Also: `form_decode` inverts the standard form encoding, and the content-type check never
//! panics.

#![no_main]

use crmgate::oauth::form::{self, FormError};
use libfuzzer_sys::fuzz_target;

/// `+` is a space, `%XX` a byte (a malformed escape stays as written); must be UTF-8.
fn model_decode(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
                match (hex(raw.get(i + 1)), hex(raw.get(i + 2))) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn model(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut halves = pair.splitn(2, |b| *b == b'=');
        let name = halves.next().unwrap_or_default();
        let value = halves.next().unwrap_or_default();
        let name = model_decode(name).ok_or(FormError::NotUtf8)?;
        let value = model_decode(value).ok_or(FormError::NotUtf8)?;
        if params.iter().any(|(n, _)| *n == name) {
            return Err(FormError::Repeated(name));
        }
        params.push((name, value));
    }
    Ok(params)
}

fuzz_target!(|data: &[u8]| {
    let parsed = form::parse(data);
    let expected = model(data);
    match (&parsed, &expected) {
        (Ok(f), Ok(pairs)) => {
            for (name, value) in pairs {
                let want = (!value.is_empty()).then_some(value.as_str());
                assert_eq!(f.get(name), want, "value of {name:?}");
                assert_eq!(f.has(name), want.is_some());
            }
            // A name the body never gave is absent.
            let absent = format!(
                "{}\u{1}",
                pairs.iter().map(|(n, _)| n.as_str()).collect::<String>()
            );
            assert_eq!(f.get(&absent), None);
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("parser {parsed:?} but model {expected:?}"),
    }

    // form_decode inverts the application/x-www-form-urlencoded serialiser.
    if let Ok(text) = std::str::from_utf8(data) {
        let encoded: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
        assert_eq!(form::form_decode(encoded.as_bytes()).as_deref(), Some(text));
        // ... and a body built with it carries the text through.
        let body = format!("a={encoded}&b=x");
        let f = form::parse(body.as_bytes()).expect("a serialised body parses");
        assert_eq!(f.get("a"), (!text.is_empty()).then_some(text));
        assert_eq!(f.get("b"), Some("x"));
    }
    let _ = form::is_form_content_type(data);
});
