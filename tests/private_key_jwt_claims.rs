//! `private_key_jwt` (RFC 7523 §3) claim rules at the real gateway: `aud`, `exp`, `nbf`, `iat`,
//! `iss`/`sub`, single-use `jti` (also after a restart), malformed assertions and mixed methods.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::jwt::*;
use serde_json::{Value, json};

#[test]
fn claims_outside_the_rules_are_refused() {
    let es = Key::es256();
    let h = harness(&[(ES, &es)]);
    type Edit = Box<dyn Fn(&mut serde_json::Map<String, Value>)>;
    let token_url = h.token_url();
    let base = h.base.clone();
    let set = |k: &'static str, v: Value| -> Edit {
        Box::new(move |c| {
            c.insert(k.into(), v.clone());
        })
    };
    let remove = |k: &'static str| -> Edit {
        Box::new(move |c| {
            c.remove(k);
        })
    };
    let t = now();
    let cases: Vec<(&str, Edit)> = vec![
        (
            "aud another server",
            set("aud", json!("https://login.example.com/oauth2/token")),
        ),
        (
            "aud revocation endpoint",
            set("aud", json!(h.url("/oauth2/v2.0/revoke.php"))),
        ),
        (
            "aud token endpoint with a trailing slash",
            set("aud", json!(format!("{token_url}/"))),
        ),
        (
            "aud issuer with a path",
            set("aud", json!(format!("{base}/oauth2"))),
        ),
        (
            "aud issuer with two trailing slashes",
            set("aud", json!(format!("{base}//"))),
        ),
        (
            "aud array with the right value",
            set("aud", json!([token_url.clone()])),
        ),
        (
            "aud array with both right values",
            set("aud", json!([token_url.clone(), base.clone()])),
        ),
        ("aud missing", remove("aud")),
        ("exp missing", remove("exp")),
        ("exp expired a minute ago", set("exp", json!(t - 60))),
        ("exp 1 hour ahead", set("exp", json!(t + 3600))),
        ("exp 700 s ahead", set("exp", json!(t + 700))),
        ("exp as a string", set("exp", json!((t + 300).to_string()))),
        ("nbf in the future", set("nbf", json!(t + 300))),
        ("iat in the future", set("iat", json!(t + 300))),
        ("iss differs from sub", set("sub", json!("someone-else"))),
        ("sub missing", remove("sub")),
        ("jti missing", remove("jti")),
        ("jti empty", set("jti", json!(""))),
        ("jti not a string", set("jti", json!(12345))),
        ("jti too long", set("jti", json!("j".repeat(1000)))),
    ];
    for (case, edit) in cases {
        let mut c = claims(&h, ES);
        edit(c.as_object_mut().unwrap());
        assert_invalid_client(post_assertion(&h, &es.sign(&c), &[]), case);
    }
    // iss missing (sub still names the client): there is no client to speak of.
    let c = claims_with(&h, ES, |c| {
        c.remove("iss");
    });
    assert_invalid_client(post_assertion(&h, &es.sign(&c), &[]), "iss missing");
    assert_token(
        &h,
        post_assertion(&h, &es.sign(&claims(&h, ES)), &[]),
        "control",
    );
}

#[test]
fn another_clients_identity_is_refused() {
    let (es, other) = (Key::es256(), Key::es256());
    let h = harness(&[(ES, &es), (OTHER, &other)]);
    // iss = sub = another registered signed_jwt client, signed with my key.
    let c = claims(&h, OTHER);
    assert_invalid_client(
        post_assertion(&h, &es.sign(&c), &[]),
        "iss/sub of another jwt client",
    );
    // iss = sub = a client_secret client.
    let c = claims(&h, SECRET_APP);
    assert_invalid_client(
        post_assertion(&h, &es.sign(&c), &[]),
        "iss/sub of a secret client",
    );
    // iss = sub = an unknown client.
    let c = claims(&h, "nobody");
    assert_invalid_client(
        post_assertion(&h, &es.sign(&c), &[]),
        "iss/sub of an unknown client",
    );
    // iss mine, sub another's (and the other way round, signed by the other key).
    let c = claims_with(&h, ES, |c| {
        c.insert("sub".into(), json!(OTHER));
    });
    assert_invalid_client(
        post_assertion(&h, &es.sign(&c), &[]),
        "iss mine, sub another client",
    );
    let c = claims_with(&h, OTHER, |c| {
        c.insert("sub".into(), json!(ES));
    });
    assert_invalid_client(
        post_assertion(&h, &other.sign(&c), &[]),
        "iss other, sub mine",
    );
    // A valid assertion, with a body client_id naming someone else.
    for client_id in [OTHER, SECRET_APP, "nobody"] {
        let r = post_assertion(&h, &es.sign(&claims(&h, ES)), &[("client_id", client_id)]);
        assert_invalid_client(r, &format!("body client_id {client_id}"));
    }
    assert_token(
        &h,
        post_assertion(&h, &es.sign(&claims(&h, ES)), &[]),
        "control, mine",
    );
    assert_token(
        &h,
        post_assertion(&h, &other.sign(&claims(&h, OTHER)), &[]),
        "control, other",
    );
}

#[test]
fn a_replayed_jti_is_refused_even_after_a_restart() {
    let es = Key::es256();
    let mut h = harness(&[(ES, &es)]);
    let c = claims(&h, ES);
    let jwt = es.sign(&c);
    assert_token(&h, post_assertion(&h, &jwt, &[]), "first use");
    assert_invalid_client(post_assertion(&h, &jwt, &[]), "same assertion again");
    // A new assertion (other iat/exp, so other bytes) reusing the jti.
    let mut reuse = claims(&h, ES);
    reuse["jti"] = c["jti"].clone();
    reuse["exp"] = json!(now() + 200);
    let jwt2 = es.sign(&reuse);
    assert_ne!(jwt, jwt2);
    assert_invalid_client(post_assertion(&h, &jwt2, &[]), "new assertion, same jti");
    // Concurrent replays of a fresh assertion: exactly one wins.
    let fresh = es.sign(&claims(&h, ES));
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| post_assertion(&h, &fresh, &[]).status().as_u16()))
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "parallel replays: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count(),
        7,
        "parallel replays: {statuses:?}"
    );
    h.restart();
    assert_invalid_client(
        post_assertion(&h, &jwt, &[]),
        "same assertion after a restart",
    );
    assert_invalid_client(post_assertion(&h, &jwt2, &[]), "same jti after a restart");
    assert_invalid_client(
        post_assertion(&h, &fresh, &[]),
        "parallel winner after a restart",
    );
    assert_token(
        &h,
        post_assertion(&h, &es.sign(&claims(&h, ES)), &[]),
        "fresh jti after a restart",
    );
}

#[test]
fn malformed_assertions_are_refused() {
    let es = Key::es256();
    let h = harness(&[(ES, &es)]);
    let post = |form: &[(&str, &str)]| h.http.post(h.token_url()).form(form).send().unwrap();
    let good = es.sign(&claims(&h, ES));
    for bad_type in [
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "URN:IETF:PARAMS:OAUTH:CLIENT-ASSERTION-TYPE:JWT-BEARER",
        "jwt",
    ] {
        let r = post(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", bad_type),
            ("client_assertion", &good),
        ]);
        assert_invalid_client(r, &format!("client_assertion_type {bad_type}"));
    }
    let r = post(&[
        ("grant_type", "client_credentials"),
        ("client_assertion", &good),
    ]);
    assert_invalid_client(r, "client_assertion without client_assertion_type");
    let r = post(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
    ]);
    assert_refused(
        r,
        400,
        "invalid_request",
        "client_assertion_type without client_assertion",
    );

    let jwe = [
        b64_json(&json!({"alg": "RSA-OAEP-256", "enc": "A256GCM"})),
        URL_SAFE_NO_PAD.encode([7u8; 256]),
        URL_SAFE_NO_PAD.encode([1u8; 12]),
        URL_SAFE_NO_PAD.encode(b"ciphertext"),
        URL_SAFE_NO_PAD.encode([2u8; 16]),
    ]
    .join(".");
    let parts: Vec<&str> = good.split('.').collect();
    let garbage: Vec<(&str, String)> = vec![
        ("a.b.c", "a.b.c".into()),
        ("JWE-shaped 5 parts", jwe),
        ("two parts", format!("{}.{}", parts[0], parts[1])),
        ("four parts", format!("{good}.{}", parts[2])),
        ("dots only", "..".into()),
        (
            "not base64",
            format!("{}.{}!.{}", parts[0], parts[1], parts[2]),
        ),
        (
            "padded base64",
            format!("{}==.{}.{}", parts[0], parts[1], parts[2]),
        ),
        (
            "payload not JSON",
            format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode("nope"),
                parts[2]
            ),
        ),
        (
            "payload a JSON array",
            format!("{}.{}.{}", parts[0], b64_json(&json!([1])), parts[2]),
        ),
        ("whitespace", format!(" {good}")),
    ];
    for (case, value) in garbage {
        assert_invalid_client(post_assertion(&h, &value, &[]), case);
    }
    // Over the assertion size limit (8 KiB) but within the body limit: validly signed, refused.
    let big = claims_with(&h, ES, |c| {
        c.insert("pad".into(), json!("p".repeat(9 * 1024)));
    });
    assert_invalid_client(
        post_assertion(&h, &es.sign(&big), &[]),
        "a 12 KiB assertion",
    );
    // A 1 MB assertion exceeds the token endpoint's 64 KiB body limit: refused before it is read,
    // with 413 (the body limit of every OAuth endpoint) rather than 401.
    let huge = claims_with(&h, ES, |c| {
        c.insert("pad".into(), json!("p".repeat(1024 * 1024)));
    });
    let r = post_assertion(&h, &es.sign(&huge), &[]);
    assert_refused(r, 413, "invalid_request", "a 1 MB assertion");
    // The same padding, small enough, is accepted: the size is what was refused above.
    let small = claims_with(&h, ES, |c| {
        c.insert("pad".into(), json!("p".repeat(4 * 1024)));
    });
    assert_token(
        &h,
        post_assertion(&h, &es.sign(&small), &[]),
        "a 6 KiB assertion",
    );
    assert_token(&h, post_assertion(&h, &good, &[]), "control");
}

#[test]
fn a_basic_header_or_secret_next_to_an_assertion_is_invalid_request() {
    let es = Key::es256();
    let h = harness(&[(ES, &es)]);
    let form = |jwt: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_assertion_type", ASSERTION_TYPE.to_string()),
            ("client_assertion", jwt.to_string()),
        ]
    };
    let jwt = es.sign(&claims(&h, ES));
    let r = h
        .http
        .post(h.token_url())
        .basic_auth(SECRET_APP, Some(SECRET))
        .form(&form(&jwt))
        .send()
        .unwrap();
    assert_refused(r, 400, "invalid_request", "Basic (secret app) + assertion");
    let r = h
        .http
        .post(h.token_url())
        .basic_auth(ES, Some("x"))
        .form(&form(&jwt))
        .send()
        .unwrap();
    assert_refused(r, 400, "invalid_request", "Basic (same client) + assertion");
    let mut f = form(&jwt);
    f.push(("client_secret", SECRET.into()));
    f.push(("client_id", SECRET_APP.into()));
    let r = h.http.post(h.token_url()).form(&f).send().unwrap();
    assert_refused(
        r,
        400,
        "invalid_request",
        "client_secret + assertion in the body",
    );
    // None of the above consumed the jti.
    assert_token(
        &h,
        post_assertion(&h, &jwt, &[]),
        "the same assertion alone",
    );
}

#[test]
fn a_signed_jwt_app_cannot_authenticate_with_a_client_secret() {
    let es = Key::es256();
    let h = harness(&[(ES, &es)]);
    let pem = es.public_pem();
    // Guesses an attacker might try as the "secret": its public key, nothing, its client_id.
    for secret in [SECRET, pem.as_str(), ES, "x"] {
        let r = h
            .http
            .post(h.token_url())
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", ES),
                ("client_secret", secret),
            ])
            .send()
            .unwrap();
        assert_invalid_client(r, "client_secret_post for a signed_jwt app");
        let r = h.token_basic(ES, secret, &[("grant_type", "client_credentials")]);
        assert_invalid_client(r, "client_secret_basic for a signed_jwt app");
    }
    // Naming itself with no credentials at all is no way in either: a confidential client that
    // does not authenticate is invalid_client.
    let r = h
        .http
        .post(h.token_url())
        .form(&[("grant_type", "client_credentials"), ("client_id", ES)])
        .send()
        .unwrap();
    assert_refused(r, 401, "invalid_client", "client_id only");
    assert_token(
        &h,
        post_assertion(&h, &es.sign(&claims(&h, ES)), &[]),
        "control",
    );
}
