//! `private_key_jwt` client assertion validation (`crmgate::oauth::assertion::verify`, RFC 7523).
//!
//! A fixed registry holds two `signed_jwt` service accounts with fixed P-256 keys (one as PEM, one
//! as a JWK with a `kid`) and a `client_secret` app. The input is either arbitrary text, or an
//! assertion built from fuzzed header and claims signed by a registered key, by an unrelated key
//! or not at all, or a valid assertion with bytes flipped or a segment replaced.
//!
//! Property: `verify` never panics, and it returns `Ok` only when an independent check agrees: the
//! input is a three-part compact JWS with `alg` ES256 whose signature verifies (with `p256`
//! directly) under the key registered for the issuer, and whose claims are acceptable (iss = sub
//! = that client, one audience of ours, exp in the window, a usable jti).

#![no_main]

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use crmgate::oauth::assertion::{Rules, verify};
use crmgate::registry::{ClientAuth, Registry};
use libfuzzer_sys::fuzz_target;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Map, Value, json};

const NOW: u64 = 1_900_000_000;
const MAX_LIFETIME: u64 = 600;
const SKEW: u64 = 30;
const MAX_BYTES: usize = 8 * 1024;
const AUDIENCES: [&str; 3] = [
    "https://gw.example/token",
    "https://gw.example",
    "https://gw.example/",
];
/// The `signed_jwt` clients, in key order.
const JWT_CLIENTS: [&str; 2] = ["svc", "svc-kid"];
/// Every registered client id, plus one that is not.
const CLIENT_IDS: [&str; 4] = ["svc", "svc-kid", "web", "nobody"];

fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).expect("a valid fixed scalar")
}

struct Fixture {
    registry: Registry,
    /// The registered signing keys, by client id.
    keys: HashMap<&'static str, SigningKey>,
    /// A key no client registered.
    unrelated: SigningKey,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let pem_key = signing_key(0x11);
    let jwk_key = signing_key(0x33);
    let pem = pem_key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("PEM");
    let point = jwk_key.verifying_key().to_encoded_point(false);
    let x = B64.encode(point.x().expect("x"));
    let y = B64.encode(point.y().expect("y"));
    let apps = format!(
        r#"
[[apps]]
client_id = "svc"
name = "PEM key"
client_type = "service_account"
secret_type = "signed_jwt"
jwt_public_key = """
{pem}"""
scope = "rest.all"
user = "bot"

[[apps]]
client_id = "svc-kid"
name = "JWK key"
client_type = "service_account"
secret_type = "signed_jwt"
jwt_public_key = {{ kty = "EC", crv = "P-256", x = "{x}", y = "{y}", kid = "k1" }}
scope = "rest.all.read"
user = "bot"

[[apps]]
client_id = "web"
name = "Secret"
client_type = "service_account"
client_secret = "s3cret"
scope = "rest.all"
user = "bot"
"#
    );
    let users = crmgate::users::parse("users.toml", "[[users]]\nusername = \"bot\"\n")
        .expect("users fixture");
    let hasher = crmgate::keys::KeyRing::from_master(&[7; 32]).secrets;
    let registry = crmgate::registry::parse("apps.toml", &apps, Path::new("."), &hasher, &users)
        .unwrap_or_else(|p| panic!("apps fixture: {p}"));
    Fixture {
        registry,
        keys: HashMap::from([("svc", pem_key), ("svc-kid", jwk_key)]),
        unrelated: signing_key(0x22),
    }
});

#[derive(Arbitrary, Debug)]
enum Name {
    Alg,
    Typ,
    Kid,
    Jku,
    Jwk,
    Crit,
    Iss,
    Sub,
    Aud,
    Exp,
    Nbf,
    Iat,
    Jti,
    Other(String),
}

impl Name {
    fn as_string(&self) -> String {
        match self {
            Name::Alg => "alg",
            Name::Typ => "typ",
            Name::Kid => "kid",
            Name::Jku => "jku",
            Name::Jwk => "jwk",
            Name::Crit => "crit",
            Name::Iss => "iss",
            Name::Sub => "sub",
            Name::Aud => "aud",
            Name::Exp => "exp",
            Name::Nbf => "nbf",
            Name::Iat => "iat",
            Name::Jti => "jti",
            Name::Other(s) => s,
        }
        .to_string()
    }
}

/// Strings a valid assertion is made of, and near misses.
const WORDS: [&str; 20] = [
    "ES256",
    "RS256",
    "EdDSA",
    "none",
    "HS256",
    "ES384",
    "es256",
    "JWT",
    "jwt",
    "client-authentication+jwt",
    "svc",
    "svc-kid",
    "web",
    "k1",
    "https://gw.example/token",
    "https://gw.example",
    "https://gw.example/",
    "https://gw.example/token/",
    "",
    "SVC",
];

#[derive(Arbitrary, Debug)]
enum Val {
    Word(u8),
    Str(String),
    /// Seconds relative to now.
    Time(i32),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Words(Vec<u8>),
    Object(Vec<(String, u8)>),
}

impl Val {
    fn json(&self) -> Value {
        let word = |i: &u8| WORDS[usize::from(*i) % WORDS.len()];
        match self {
            Val::Word(i) => json!(word(i)),
            Val::Str(s) => json!(s),
            Val::Time(d) => json!(NOW as i64 + i64::from(*d)),
            Val::Int(i) => json!(i),
            Val::Float(f) => json!(f),
            Val::Bool(b) => json!(b),
            Val::Null => Value::Null,
            Val::Words(ws) => Value::Array(ws.iter().map(|w| json!(word(w))).collect()),
            Val::Object(kv) => Value::Object(
                kv.iter()
                    .map(|(k, w)| (k.clone(), json!(word(w))))
                    .collect(),
            ),
        }
    }
}

/// How the signature part is made.
#[derive(Arbitrary, Debug)]
enum Signer {
    /// ES256 with the key registered for `JWT_CLIENTS[i]`.
    Registered(u8),
    /// ES256 with a key nobody registered.
    Unrelated,
    /// No signature at all.
    Empty,
    /// Arbitrary bytes.
    Garbage(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Tweak {
    Set(Name, Val),
    Remove(Name),
    Header(Name, Val),
    RemoveHeader(Name),
}

#[derive(Arbitrary, Debug)]
enum Input {
    /// Anything at all.
    Raw(String),
    /// Fuzzed header and claims (or raw JSON text for them).
    Forged {
        header: Vec<(Name, Val)>,
        claims: Vec<(Name, Val)>,
        raw_header: Option<String>,
        raw_claims: Option<String>,
        signer: Signer,
    },
    /// A valid assertion of `JWT_CLIENTS[client]`, then edited.
    Template {
        client: u8,
        jti: String,
        tweaks: Vec<Tweak>,
        signer: Signer,
    },
    /// A valid assertion with bytes XORed and possibly cut short.
    Flip {
        client: u8,
        flips: Vec<(u16, u8)>,
        truncate: Option<u16>,
    },
    /// A valid assertion with one of its three segments replaced.
    Splice {
        client: u8,
        segment: u8,
        replacement: String,
    },
}

fn b64_json(v: &Value) -> String {
    B64.encode(serde_json::to_vec(v).expect("JSON"))
}

fn sign(header_b64: &str, claims_b64: &str, signer: &Signer) -> String {
    let input = format!("{header_b64}.{claims_b64}");
    let f = &*FIXTURE;
    let sig = match signer {
        Signer::Registered(i) => {
            let key = &f.keys[JWT_CLIENTS[usize::from(*i) % JWT_CLIENTS.len()]];
            let s: Signature = key.sign(input.as_bytes());
            B64.encode(s.to_bytes())
        }
        Signer::Unrelated => {
            let s: Signature = f.unrelated.sign(input.as_bytes());
            B64.encode(s.to_bytes())
        }
        Signer::Empty => String::new(),
        Signer::Garbage(bytes) => B64.encode(bytes),
    };
    format!("{input}.{sig}")
}

fn valid_parts(client: &str, jti: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut header = Map::new();
    header.insert("alg".into(), json!("ES256"));
    header.insert("typ".into(), json!("JWT"));
    if client == "svc-kid" {
        header.insert("kid".into(), json!("k1"));
    }
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(client));
    claims.insert("sub".into(), json!(client));
    claims.insert("aud".into(), json!(AUDIENCES[0]));
    claims.insert("exp".into(), json!(NOW + 60));
    claims.insert("iat".into(), json!(NOW));
    claims.insert("jti".into(), json!(if jti.is_empty() { "j" } else { jti }));
    (header, claims)
}

fn valid(client: &str, jti: &str) -> String {
    let (h, c) = valid_parts(client, jti);
    let signer =
        Signer::Registered(JWT_CLIENTS.iter().position(|c2| *c2 == client).unwrap_or(0) as u8);
    sign(
        &b64_json(&Value::Object(h)),
        &b64_json(&Value::Object(c)),
        &signer,
    )
}

fn pick_client(i: u8) -> &'static str {
    JWT_CLIENTS[usize::from(i) % JWT_CLIENTS.len()]
}

fn json_segment(segment: &str) -> Option<Map<String, Value>> {
    match serde_json::from_slice(&B64.decode(segment).ok()?).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The independent judgement of an assertion that `verify` accepted.
fn check_accepted(jwt: &str, client_id: &str, jti: &str, expires_at: u64) {
    assert!(CLIENT_IDS.contains(&client_id));
    let key = FIXTURE
        .keys
        .get(client_id)
        .unwrap_or_else(|| panic!("accepted for {client_id}, which has no registered key"));
    let app = FIXTURE.registry.app(client_id).expect("registered");
    assert!(matches!(app.auth, ClientAuth::Jwt(_)));
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "accepted a non-JWS: {jwt:?}");
    let header = json_segment(parts[0]).expect("accepted header is a JSON object");
    assert_eq!(header.get("alg"), Some(&json!("ES256")), "{header:?}");
    for k in header.keys() {
        assert!(
            matches!(k.as_str(), "alg" | "typ" | "kid"),
            "header {k:?} accepted"
        );
    }
    let sig = B64
        .decode(parts[2])
        .unwrap_or_else(|e| panic!("accepted a signature that is not base64url ({e}): {jwt:?}"));
    let sig = Signature::from_slice(&sig)
        .unwrap_or_else(|e| panic!("accepted a malformed signature ({e}): {jwt:?}"));
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    let vk: &VerifyingKey = key.verifying_key();
    vk.verify(signing_input.as_bytes(), &sig)
        .unwrap_or_else(|e| panic!("accepted a signature the key did not make ({e}): {jwt:?}"));
    let claims = json_segment(parts[1]).expect("accepted payload is a JSON object");
    assert_eq!(claims.get("iss"), Some(&json!(client_id)));
    assert_eq!(claims.get("sub"), Some(&json!(client_id)));
    let aud = claims
        .get("aud")
        .and_then(Value::as_str)
        .expect("string aud");
    assert!(AUDIENCES.contains(&aud), "aud {aud:?} accepted");
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .expect("numeric exp");
    assert!(exp + SKEW as f64 > NOW as f64, "expired assertion accepted");
    assert!(
        exp <= (NOW + MAX_LIFETIME + SKEW) as f64,
        "far exp accepted"
    );
    assert!(expires_at >= NOW && expires_at <= NOW + MAX_LIFETIME + 2 * SKEW + 1);
    assert_eq!(claims.get("jti"), Some(&json!(jti)));
    assert!(!jti.is_empty() && jti.len() <= 256);
}

fn run(jwt: &str) -> bool {
    let rules = Rules {
        audiences: &AUDIENCES,
        now: NOW,
        max_lifetime: MAX_LIFETIME,
        skew: SKEW,
        max_bytes: MAX_BYTES,
    };
    match verify(jwt, &FIXTURE.registry, &rules) {
        Ok(v) => {
            check_accepted(jwt, &v.app.client_id, &v.jti, v.expires_at);
            true
        }
        Err(_) => false,
    }
}

fn apply(map: &mut Map<String, Value>, name: &Name, val: Option<&Val>) {
    match val {
        Some(v) => map.insert(name.as_string(), v.json()),
        None => map.remove(&name.as_string()),
    };
}

fuzz_target!(|input: Input| {
    match input {
        Input::Raw(s) => {
            run(&s);
        }
        Input::Forged {
            header,
            claims,
            raw_header,
            raw_claims,
            signer,
        } => {
            let h = match raw_header {
                Some(raw) => B64.encode(raw),
                None => b64_json(&Value::Object(
                    header
                        .iter()
                        .map(|(n, v)| (n.as_string(), v.json()))
                        .collect(),
                )),
            };
            let c = match raw_claims {
                Some(raw) => B64.encode(raw),
                None => b64_json(&Value::Object(
                    claims
                        .iter()
                        .map(|(n, v)| (n.as_string(), v.json()))
                        .collect(),
                )),
            };
            let jwt = sign(&h, &c, &signer);
            let ok = run(&jwt);
            assert!(
                !ok || matches!(signer, Signer::Registered(_)),
                "unsigned or forged accepted"
            );
        }
        Input::Template {
            client,
            jti,
            tweaks,
            signer,
        } => {
            let (mut h, mut c) = valid_parts(pick_client(client), &jti);
            for t in &tweaks {
                match t {
                    Tweak::Set(n, v) => apply(&mut c, n, Some(v)),
                    Tweak::Remove(n) => apply(&mut c, n, None),
                    Tweak::Header(n, v) => apply(&mut h, n, Some(v)),
                    Tweak::RemoveHeader(n) => apply(&mut h, n, None),
                }
            }
            let jwt = sign(
                &b64_json(&Value::Object(h)),
                &b64_json(&Value::Object(c)),
                &signer,
            );
            let ok = run(&jwt);
            assert!(
                !ok || matches!(signer, Signer::Registered(_)),
                "unsigned or forged accepted"
            );
        }
        Input::Flip {
            client,
            flips,
            truncate,
        } => {
            let mut jwt = valid(pick_client(client), "flip").into_bytes();
            if flips.is_empty() && truncate.is_none() {
                assert!(
                    run(&String::from_utf8_lossy(&jwt)),
                    "a valid assertion was refused"
                );
                return;
            }
            let len = jwt.len();
            for (pos, mask) in flips {
                jwt[usize::from(pos) % len] ^= mask;
            }
            if let Some(t) = truncate {
                jwt.truncate(usize::from(t) % len);
            }
            run(&String::from_utf8_lossy(&jwt));
        }
        Input::Splice {
            client,
            segment,
            replacement,
        } => {
            let jwt = valid(pick_client(client), "splice");
            let mut parts: Vec<String> = jwt.split('.').map(str::to_string).collect();
            parts[usize::from(segment) % 3] = replacement;
            run(&parts.join("."));
        }
    }
});
