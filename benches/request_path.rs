//! Micro-benchmarks of the per-request work other than the token check: routing a path and
//! classifying its operation, stripping and injecting headers, and verifying a client
//! assertion. Each group also times a trivial baseline in the same run, so BENCHMARKS.md can
//! give ratios. Run with `cargo bench --bench request_path`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use crmgate::keys::KeyRing;
use crmgate::oauth::assertion::{self, Rules};
use crmgate::proxy::headers;
use crmgate::proxy::route::{self, OperationTable, Route};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
use pingora::http::RequestHeader;

const CLIENT: &str = "vte_5a0391ecbe3d04058d56";
const AUD: &str = "http://127.0.0.1:8080/oauth2/v2.0/token.php";

fn routing(c: &mut Criterion) {
    let table = OperationTable::default();
    let mut plain: HashMap<String, u8> = HashMap::new();
    plain.insert("query".into(), 1);
    let mut g = c.benchmark_group("route");
    g.bench_function("baseline_hashmap_get", |b| {
        b.iter(|| plain.get(black_box("query")).copied())
    });
    g.bench_function("route_and_classify_query", |b| {
        b.iter(
            || match route::route(black_box("/restapi/v1/vtews/query"), "/restapi/") {
                Route::Protected { op: Some(op) } => Some(table.classify(&op)),
                _ => None,
            },
        )
    });
    g.bench_function("route_non_canonical", |b| {
        b.iter(|| route::route(black_box("/restapi/v1/vtews/%2e%2e/Query"), "/restapi/"))
    });
    g.finish();
}

/// A request like a client's: ordinary headers plus the ones the gateway must remove.
fn request() -> RequestHeader {
    let mut req = RequestHeader::build("POST", b"/restapi/v1/vtews/query", None).unwrap();
    for (name, value) in [
        ("host", "127.0.0.1:8080"),
        ("user-agent", "bench/1"),
        ("accept", "*/*"),
        ("content-type", "application/json"),
        ("content-length", "33"),
        (
            "authorization",
            "Bearer crm_at_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ),
        ("x-crm-user", "admin"),
        ("x-forwarded-for", "10.0.0.1"),
    ] {
        req.append_header(name, value).unwrap();
    }
    req
}

fn header_rewrite(c: &mut Criterion) {
    let template = request();
    let mut g = c.benchmark_group("headers");
    g.bench_function("baseline_clone_request", |b| {
        b.iter(|| black_box(template.clone()))
    });
    g.bench_function("clone_strip_and_inject", |b| {
        b.iter(|| {
            let mut req = template.clone();
            headers::strip(&mut req, true, false);
            headers::set_forwarded_for(&mut req, Some("127.0.0.1"), false);
            headers::set(&mut req, "x-crm-user", "aldo");
            black_box(req)
        })
    });
    g.finish();
}

fn users_toml() -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let hash = argon.hash_password(b"pw", &salt).unwrap();
    format!(
        "[[users]]\nusername = \"aldo\"\npassword_hash = \"{hash}\"\nadmin = false\n\
         groups = []\ncrm_access_key = \"ak-aldo\"\n"
    )
}

fn assertions(c: &mut Criterion) {
    let secret = p256::SecretKey::from_slice(&[7; 32]).unwrap();
    let private = secret.to_pkcs8_pem(Default::default()).unwrap();
    let public = secret
        .public_key()
        .to_public_key_pem(Default::default())
        .unwrap();
    let apps = format!(
        "[settings]\noauth_enabled = true\n\n[[apps]]\nclient_id = \"{CLIENT}\"\nname = \"Bench\"\n\
         client_type = \"service_account\"\nsecret_type = \"signed_jwt\"\n\
         jwt_public_key = \"\"\"\n{public}\"\"\"\nscope = \"rest.all\"\nuser = \"aldo\"\n"
    );
    let keys = KeyRing::from_master(&[1; 32]);
    let users = crmgate::users::parse("users.toml", &users_toml()).unwrap();
    let reg = crmgate::registry::parse("apps.toml", &apps, Path::new("."), &keys.secrets, &users)
        .unwrap();
    let now = 2_000_000_000;
    let claims = serde_json::json!({"iss": CLIENT, "sub": CLIENT, "aud": AUD, "iat": now,
        "exp": now + 60, "jti": "bench-1"});
    let key = jsonwebtoken::EncodingKey::from_ec_pem(private.as_bytes()).unwrap();
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    let jwt = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let audiences = [AUD];
    let rules = Rules {
        audiences: &audiences,
        now,
        max_lifetime: 600,
        skew: 30,
        max_bytes: 8192,
    };
    assert!(assertion::verify(&jwt, &reg, &rules).is_ok());
    let mut g = c.benchmark_group("assertion");
    g.bench_function("baseline_split_and_base64_decode", |b| {
        b.iter(|| {
            use base64::Engine;
            let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            black_box(&jwt)
                .split('.')
                .map(|part| engine.decode(part).map(|v| v.len()).unwrap_or(0))
                .sum::<usize>()
        })
    });
    g.bench_function("verify_es256", |b| {
        b.iter(|| assertion::verify(black_box(&jwt), &reg, &rules).is_ok())
    });
    g.finish();
}

criterion_group!(request_path, routing, header_rewrite, assertions);
criterion_main!(request_path);
