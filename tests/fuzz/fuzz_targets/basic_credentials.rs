//! The HTTP Basic client credentials decoder (`crmgate::oauth::form::basic_credentials`,
//! RFC 6749 §2.3.1): never panics; whatever pair it returns survives a round trip through the
//! encoding clients must apply (form-urlencode each half, join with `:`, base64); and any
//! (id, secret) pair encoded that way decodes back to itself.

#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crmgate::oauth::form::{BasicCredentials, basic_credentials};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    /// A header value as sent.
    Raw(Vec<u8>),
    /// A header value whose credentials part is base64 of these bytes.
    Encoded {
        scheme: u8,
        spaces: u8,
        payload: Vec<u8>,
    },
    /// A well-formed header for this pair.
    Pair {
        id: String,
        secret: String,
        scheme: u8,
    },
}

const SCHEMES: [&str; 4] = ["Basic", "basic", "BASIC", "bAsIc"];

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn header(scheme: u8, id: &str, secret: &str) -> String {
    let raw = format!("{}:{}", urlencode(id), urlencode(secret));
    format!(
        "{} {}",
        SCHEMES[usize::from(scheme) % SCHEMES.len()],
        STANDARD.encode(raw)
    )
}

fn round_trip(c: &BasicCredentials) {
    assert!(!c.client_id.is_empty(), "an empty client id was accepted");
    let again = basic_credentials(header(0, &c.client_id, &c.secret).as_bytes());
    match again {
        Some(Ok(d)) => {
            assert_eq!(
                d.client_id, c.client_id,
                "client id changed in a round trip"
            );
            assert_eq!(d.secret, c.secret, "secret changed in a round trip");
            assert_eq!(d.raw_secret, urlencode(&c.secret));
        }
        other => panic!("re-encoded {c:?} decodes to {other:?}"),
    }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Raw(bytes) => {
            if let Some(Ok(c)) = basic_credentials(&bytes) {
                round_trip(&c);
            }
        }
        Input::Encoded {
            scheme,
            spaces,
            payload,
        } => {
            let value = format!(
                "{}{}{}",
                SCHEMES[usize::from(scheme) % SCHEMES.len()],
                " ".repeat(usize::from(spaces % 4) + 1),
                STANDARD.encode(&payload)
            );
            match basic_credentials(value.as_bytes()) {
                Some(Ok(c)) => {
                    round_trip(&c);
                    // The raw secret is what followed the first ':' of the payload.
                    let text = String::from_utf8(payload).expect("accepted payload is UTF-8");
                    let (_, raw) = text.split_once(':').expect("accepted payload has a ':'");
                    assert_eq!(c.raw_secret, raw);
                }
                Some(Err(_)) => {}
                None => panic!("a Basic header was not recognised as Basic: {value:?}"),
            }
        }
        Input::Pair { id, secret, scheme } => {
            let value = header(scheme, &id, &secret);
            match basic_credentials(value.as_bytes()) {
                Some(Ok(c)) => {
                    assert_eq!(
                        (c.client_id.as_str(), c.secret.as_str()),
                        (id.as_str(), secret.as_str())
                    );
                    round_trip(&c);
                }
                Some(Err(why)) => assert!(id.is_empty(), "{id:?}/{secret:?} refused: {why}"),
                None => panic!("a Basic header was not recognised as Basic: {value:?}"),
            }
        }
    }
});
