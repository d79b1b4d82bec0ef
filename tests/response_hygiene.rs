//! What every OAuth answer looks like whatever was sent: `error_description` within the RFC 6749
//! charset even when input is echoed, `no-store` on every token answer, tokens and codes with
//! 256 random bits, and no code, refresh token, verifier, password or assertion in the log or in
//! any file of the data dir.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::{HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::browser::*;
use common::jwt::{ASSERTION_TYPE, Key, claims};
use common::*;
use reqwest::blocking::Response;
use serde_json::Value;
use sha2::{Digest, Sha256};

const SVC: &str = "vte_f0000000000000000001";
const SVC_SECRET: &str = "svc-secret";
const JWT: &str = "vte_f0000000000000000002";
const TOKEN: &str = "/oauth2/v2.0/token.php";
const CC: &str = "grant_type=client_credentials";
const SVC_AUTH: Option<(&str, &str)> = Some((SVC, SVC_SECRET));
const WEB_AUTH: Option<(&str, &str)> = Some((WEB, WEB_SECRET));

/// The browser apps of `common::browser` (the web app with offline access), a service account
/// with a secret and one with `key`.
fn harness(key: &Key) -> Harness {
    let apps = format!(
        "{}{}{}",
        web_apps(),
        secret_app(SVC, SVC_SECRET, "rest.all", "aldo"),
        jwt_app(JWT, &key.public_pem(), "rest.all", "aldo"),
    );
    Harness::start(&apps)
}

/// `BASE64URL(SHA256(verifier))`.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Form encoding of one value.
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// POSTs the form `body` to `path`, with HTTP Basic credentials when `who` has them.
fn form(h: &Harness, path: &str, who: Option<(&str, &str)>, body: String) -> Response {
    let rb = h.http.post(h.url(path)).body(body);
    let rb = rb.header("Content-Type", "application/x-www-form-urlencoded");
    let rb = match who {
        Some((id, secret)) => rb.basic_auth(id, Some(secret)),
        None => rb,
    };
    rb.send().unwrap()
}

/// The client assertion form for the JWT app.
fn assertion_form(assertion: &str) -> String {
    format!(
        "{CC}&client_assertion_type={}&client_assertion={assertion}",
        enc(ASSERTION_TYPE)
    )
}

/// A code for `client` authorized by aldo in `b` (logging in first if needed).
fn code(h: &Harness, b: &Browser, client: &str, cb: &str, challenge: Option<&str>) -> String {
    let page = b.get(&authorize_url(h, client, cb, "st", challenge));
    let consent = if page.body.contains("name=\"password\"") {
        b.login(&page, "aldo", "aldo-pw")
    } else {
        page
    };
    assert_eq!(consent.status, 200, "{}", consent.body);
    code_and_state(&b.decide(&consent, "allow").location, cb).0
}

/// The access and refresh token of a redeemed code of the web app.
fn web_tokens(h: &Harness, b: &Browser) -> (String, String, String) {
    let c = code(h, b, WEB, WEB_CB, None);
    let v = exchange(h, WEB, Some(WEB_SECRET), &c, WEB_CB, None);
    let field = |k: &str| v[k].as_str().unwrap().to_string();
    (c, field("access_token"), field("refresh_token"))
}

/// The answer to a refresh of `token` by the web app.
fn refresh(h: &Harness, token: &str) -> Response {
    let body = format!("grant_type=refresh_token&refresh_token={token}");
    form(h, TOKEN, WEB_AUTH, body)
}

/// True when every byte is in `%x20-21 / %x23-5B / %x5D-7E` (RFC 6749 §5.2, §4.1.2.1).
fn rfc_text(s: &str) -> bool {
    s.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

/// Asserts that an `error` and its `error_description` stay in the RFC charset and short.
fn assert_clean(error: Option<&str>, description: Option<&str>, case: &str) {
    let error = error.unwrap_or_else(|| panic!("{case}: no error"));
    assert!(rfc_text(error), "{case}: error {error:?}");
    if let Some(d) = description {
        assert!(
            rfc_text(d) && d.len() <= 256,
            "{case}: error_description {d:?}"
        );
    }
}

/// Asserts a JSON error answer whose error fields are clean.
fn assert_clean_json(r: Response, case: &str) {
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{case}: {text}"));
    assert!(status >= 400, "{case}: {status} {v}");
    assert_clean(v["error"].as_str(), v["error_description"].as_str(), case);
}

/// Hostile values: quotes, backslashes, non-ASCII, control characters, markup, very long.
fn hostile() -> Vec<String> {
    let mut v: Vec<String> = [
        "\"quoted\" 'single'",
        "back\\slash\\\"",
        "ünïcödé ✓ 日本 \u{202e}rtl",
        "ctl \u{1}\u{7}\u{1b}[31m\u{7f} tab\tcr\rlf\n end",
        "</script><img src=x onerror=alert(1)>",
        "%22%5C%00%0d%0a",
        "{\"error\":\"injected\"}",
    ]
    .map(String::from)
    .to_vec();
    v.push("x\"\\\u{1}é".repeat(500));
    v
}

/// Form bodies of the token (`t`), revocation (`r`) and introspection (`i`) endpoints, `X`
/// standing for the hostile value, and who sends them: the service account (`s`), the web app
/// (`w`), nobody (`-`) or a hostile client id and secret (`x`).
const ECHO_CASES: &[(char, char, &str)] = &[
    ('t', 's', "grant_type=X"),
    ('t', 's', "grant_type=client_credentials&scope=X"),
    (
        't',
        '-',
        "grant_type=client_credentials&client_id=X&client_secret=X",
    ),
    ('t', 'x', "grant_type=client_credentials"),
    ('t', 'w', "grant_type=authorization_code&code=X"),
    (
        't',
        'w',
        "grant_type=authorization_code&code=X&redirect_uri=X&code_verifier=X",
    ),
    ('t', 'w', "grant_type=refresh_token&refresh_token=X&scope=X"),
    (
        't',
        '-',
        "grant_type=client_credentials&client_assertion_type=X&client_assertion=X",
    ),
    ('t', 's', "X=1&X=2"),
    ('t', 's', "grant_type=X&grant_type=X"),
    ('r', 's', "token_type_hint=X"),
    ('r', 's', "token=X&token_type_hint=X&token_type_hint=X"),
    ('r', '-', "client_id=X&token=X"),
    ('i', 's', "token_type_hint=X"),
    ('i', 's', "token=X&token_type_hint=X&token_type_hint=X"),
    ('i', '-', "client_id=X&token=X"),
];

#[test]
fn token_revoke_and_introspect_errors_stay_in_the_rfc_charset() {
    let key = Key::es256();
    let h = harness(&key);
    for x in hostile() {
        for (endpoint, who, template) in ECHO_CASES {
            let path = match endpoint {
                't' => TOKEN,
                'r' => "/oauth2/v2.0/revoke.php",
                _ => "/oauth2/v2.0/introspect.php",
            };
            let who = match who {
                's' => SVC_AUTH,
                'w' => WEB_AUTH,
                'x' => Some((x.as_str(), x.as_str())),
                _ => None,
            };
            let r = form(&h, path, who, template.replace('X', &enc(&x)));
            let shown: String = x.chars().take(30).collect();
            assert_clean_json(r, &format!("{path} {template} {shown:?}"));
        }
        // The assertion itself hostile; and parameters in the query string, whatever their names.
        assert_clean_json(form(&h, TOKEN, None, assertion_form(&enc(&x))), "assertion");
        let query = format!("{TOKEN}?{}={}", enc(&x), enc(&x));
        assert_clean_json(form(&h, &query, SVC_AUTH, CC.into()), "query");
    }
}

#[test]
fn authorize_error_redirects_and_pages_stay_clean() {
    let key = Key::es256();
    let h = harness(&key);
    let b = Browser::new(&h);
    let challenge = s256("a-verifier-that-is-long-enough-for-rfc-7636-section-4-1");
    let (auth, cb) = (h.url("/oauth2/v2.0/auth.php"), enc(WEB_CB));
    for x in hostile() {
        let x = x.as_str();
        // Errors sent back to the app: clean error fields, and state byte for byte.
        for pairs in [
            "response_type={x}",
            "response_type=code&scope={x}",
            "response_type=code&code_challenge={x}&code_challenge_method=S256",
            "response_type=code&code_challenge={c}&code_challenge_method={x}",
        ] {
            let query = pairs.replace("{c}", &challenge).replace("{x}", &enc(x));
            let page = b.get(&format!(
                "{auth}?client_id={WEB}&redirect_uri={cb}&state={}&{query}",
                enc(x)
            ));
            assert_eq!(page.status, 302, "{pairs}: {}", page.body);
            assert!(
                page.location.starts_with(&format!("{WEB_CB}?")),
                "{}",
                page.location
            );
            let url = url::Url::parse(&page.location).unwrap();
            let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
            let get = |k: &str| q.get(k).map(String::as_str);
            assert_clean(get("error"), get("error_description"), pairs);
            assert_eq!((get("state"), get("code")), (Some(x), None), "{pairs}");
        }
        // Untrusted client or redirect URI: an error page, never a redirect, input escaped.
        for query in [
            format!("response_type=code&client_id={}&redirect_uri={cb}", enc(x)),
            format!("response_type=code&client_id={WEB}&redirect_uri={}", enc(x)),
        ] {
            let page = b.get(&format!("{auth}?{query}"));
            assert_eq!(
                (page.status, page.location.as_str()),
                (400, ""),
                "{query:.80}"
            );
            assert!(
                !page.body.contains("<img") && !page.body.contains('\u{1}'),
                "{}",
                page.body
            );
        }
        let page = b.post(&[("req", x), ("csrf", x), ("decision", x)]);
        assert!(page.status >= 400 && page.location.is_empty(), "{page:?}");
        assert!(!page.body.contains("<img"), "{}", page.body);
    }
}

/// Asserts `Cache-Control: no-store` and `Pragma: no-cache` on `r`; returns status and body.
fn assert_no_store(r: Response, case: &str) -> (u16, Value) {
    let header = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    let (cache, pragma) = (header("cache-control"), header("pragma"));
    assert_eq!(cache.as_deref(), Some("no-store"), "{case}");
    assert_eq!(pragma.as_deref(), Some("no-cache"), "{case}");
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(v.is_object() || text.is_empty(), "{case}: {text}");
    (status, v)
}

#[test]
fn every_token_answer_is_no_store() {
    let key = Key::es256();
    let h = harness(&key);
    let b = Browser::new(&h);
    let (_, v) = assert_no_store(form(&h, TOKEN, SVC_AUTH, CC.into()), "client_credentials");
    let access = format!("token={}", v["access_token"].as_str().unwrap());
    let jwt = assertion_form(&key.sign(&claims(&h, JWT)));
    let (status, _) = assert_no_store(form(&h, TOKEN, None, jwt), "private_key_jwt");
    assert_eq!(status, 200);
    let code1 = code(&h, &b, WEB, WEB_CB, None);
    let r = exchange_raw(&h, WEB, Some(WEB_SECRET), &code1, Some(WEB_CB), None);
    let (_, v) = assert_no_store(r, "authorization_code");
    let rt = v["refresh_token"].as_str().unwrap();
    assert_eq!(assert_no_store(refresh(&h, rt), "refresh_token").0, 200);
    let verifier = "native-verifier-0123456789-0123456789-0123456789";
    let code2 = code(&h, &b, NATIVE, NATIVE_CB, Some(&s256(verifier)));
    let r = exchange_raw(&h, NATIVE, None, &code2, Some(NATIVE_CB), Some(verifier));
    assert_eq!(assert_no_store(r, "PKCE").0, 200);
    // Revocation and introspection answers are about tokens too.
    for endpoint in ["/oauth2/v2.0/introspect.php", "/oauth2/v2.0/revoke.php"] {
        let (status, _) = assert_no_store(form(&h, endpoint, SVC_AUTH, access.clone()), endpoint);
        assert_eq!(status, 200, "{endpoint}");
    }
}

#[test]
fn every_token_endpoint_error_is_no_store() {
    let key = Key::es256();
    let h = harness(&key);
    let (code, _, rt) = web_tokens(&h, &Browser::new(&h));
    assert_eq!(refresh(&h, &rt).status(), 200);
    let cb = enc(WEB_CB);
    let used_code = format!("grant_type=authorization_code&code={code}&redirect_uri={cb}");
    let used_rt = format!("grant_type=refresh_token&refresh_token={rt}");
    let forms = [
        ("wrong secret", Some((SVC, "wrong")), CC.to_string()),
        ("no grant_type", SVC_AUTH, "scope=rest.all".into()),
        ("unknown grant", SVC_AUTH, "grant_type=password".into()),
        ("wide scope", SVC_AUTH, format!("{CC}&scope=admin")),
        ("used code", WEB_AUTH, used_code),
        ("used refresh token", WEB_AUTH, used_rt),
        ("repeated", SVC_AUTH, format!("{CC}&{CC}")),
        (
            "too large",
            SVC_AUTH,
            format!("{CC}&pad={}", "a".repeat(70_000)),
        ),
    ];
    let mut errors: Vec<(&str, Response)> = forms
        .into_iter()
        .map(|(case, who, body)| (case, form(&h, TOKEN, who, body)))
        .collect();
    let url = h.token_url();
    let send = |rb: reqwest::blocking::RequestBuilder| rb.send().unwrap();
    errors.extend([
        (
            "query",
            form(&h, &format!("{TOKEN}?{CC}"), SVC_AUTH, CC.into()),
        ),
        ("GET", send(h.http.get(&url))),
        (
            "JSON",
            send(
                h.http
                    .post(&url)
                    .basic_auth(SVC, Some(SVC_SECRET))
                    .body("{}"),
            ),
        ),
        (
            "huge header",
            send(h.http.post(&url).header("X-Big", "a".repeat(40_000))),
        ),
    ]);
    for (case, r) in errors {
        let (status, v) = assert_no_store(r, case);
        assert!(
            status >= 400 && v["error"].is_string(),
            "{case}: {status} {v}"
        );
    }
}

/// The 32 random bytes of a `prefix` token; asserts the documented shape on the way.
fn random_part(token: &str, prefix: &str) -> Vec<u8> {
    let rest = token
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{token} lacks {prefix}"));
    let url_safe = rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    assert!(
        url_safe && rest.len() == 43,
        "{token}: not 43 URL-safe characters"
    );
    let bytes = URL_SAFE_NO_PAD.decode(rest).unwrap();
    assert_eq!(bytes.len(), 32, "{token}: fewer than 256 bits");
    bytes
}

/// Statistics that a counter, a timestamp or a weak generator would fail: every bit position
/// set in some but not all tokens and in 50% ± 6 standard deviations of them, every character
/// position of the encoding (but the last, which carries 4 bits) varied, and the character
/// frequencies within a loose chi-square bound (63 degrees of freedom: mean 63, and 150 is far
/// in the tail).
fn assert_random(tokens: &[String], prefix: &str) {
    let n = tokens.len() as f64;
    let parts: Vec<Vec<u8>> = tokens.iter().map(|t| random_part(t, prefix)).collect();
    let sd = (n * 0.25).sqrt();
    for bit in 0..256 {
        let ones = parts
            .iter()
            .filter(|p| p[bit / 8] >> (bit % 8) & 1 == 1)
            .count() as f64;
        let fair = ones > 0.0 && ones < n && (ones - n / 2.0).abs() < 6.0 * sd;
        assert!(fair, "{prefix}: bit {bit} set in {ones} of {n}");
    }
    let texts: Vec<&[u8]> = tokens
        .iter()
        .map(|t| &t.as_bytes()[prefix.len()..])
        .collect();
    let mut counts = HashMap::<u8, f64>::new();
    for pos in 0..42 {
        let column: HashSet<u8> = texts.iter().map(|t| t[pos]).collect();
        let varied = column.len() as f64 >= (n / 4.0).min(30.0);
        assert!(
            varied,
            "{prefix}: position {pos} has {} values",
            column.len()
        );
        for t in &texts {
            *counts.entry(t[pos]).or_default() += 1.0;
        }
    }
    assert_eq!(counts.len(), 64, "{prefix}: not the base64url alphabet");
    let expected = n * 42.0 / 64.0;
    let chi2: f64 = counts
        .values()
        .map(|c| (c - expected).powi(2) / expected)
        .sum();
    assert!(
        chi2 < 150.0,
        "{prefix}: chi-square {chi2:.1} over 63 degrees of freedom"
    );
}

#[test]
fn tokens_codes_and_refresh_tokens_carry_256_random_bits() {
    let key = Key::es256();
    let h = harness(&key);
    let mut access: Vec<String> = (0..200).map(|_| h.token(SVC, SVC_SECRET)).collect();
    let b = Browser::new(&h);
    let (mut codes, mut refreshes) = (vec![], vec![]);
    for _ in 0..25 {
        let (c, at, rt) = web_tokens(&h, &b);
        let rotated: Value = refresh(&h, &rt).json().unwrap();
        access.extend([at, rotated["access_token"].as_str().unwrap().to_string()]);
        refreshes.extend([rt, rotated["refresh_token"].as_str().unwrap().to_string()]);
        codes.push(c);
    }
    assert_random(&access[..200], "crm_at_");
    assert_random(&refreshes, "crm_rt_");
    assert_random(&codes, "crm_ac_");
    let all: Vec<&String> = access.iter().chain(&refreshes).chain(&codes).collect();
    let distinct: HashSet<&[u8]> = all.iter().map(|t| &t.as_bytes()[7..]).collect();
    assert_eq!(distinct.len(), all.len(), "a random part came out twice");
}

/// Every file under `dir`, with its bytes.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let (mut out, mut todo) = (vec![], vec![dir.to_path_buf()]);
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs every flow that carries a secret, failures included; returns the secrets.
fn secrets_in_use(h: &Harness, key: &Key) -> Vec<String> {
    let b = Browser::new(h);
    let page = b.get(&authorize_url(h, WEB, WEB_CB, "st", None));
    b.login(&page, "aldo", "aldo-wrong-password-4711");
    let (code1, _, refresh1) = web_tokens(h, &b);
    let rotated: Value = refresh(h, &refresh1).json().unwrap();
    let refresh2 = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(
        refresh(h, &refresh1).status(),
        400,
        "a rotated refresh token again"
    );
    let again = exchange_raw(h, WEB, Some(WEB_SECRET), &code1, Some(WEB_CB), None);
    assert_eq!(again.status(), 400, "a used code again");
    // 43 to 128 characters (RFC 7636 §4.1).
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let wrong = format!("{verifier}-wrong");
    let code2 = code(h, &b, NATIVE, NATIVE_CB, Some(&s256(&verifier)));
    let r = exchange_raw(h, NATIVE, None, &code2, Some(NATIVE_CB), Some(&wrong));
    assert_eq!(r.status(), 400, "a wrong verifier");
    let code3 = code(h, &b, NATIVE, NATIVE_CB, Some(&s256(&verifier)));
    exchange(h, NATIVE, None, &code3, NATIVE_CB, Some(&verifier));
    let assertion = key.sign(&claims(h, JWT));
    assert_eq!(
        form(h, TOKEN, None, assertion_form(&assertion)).status(),
        200
    );
    assert_eq!(
        form(h, TOKEN, None, assertion_form(&assertion)).status(),
        401,
        "a replay"
    );
    let signature = assertion.rsplit('.').next().unwrap().to_string();
    let basic = STANDARD.encode(format!("{WEB}:{WEB_SECRET}"));
    let fixed = ["aldo-pw", "aldo-wrong-password-4711", WEB_SECRET].map(String::from);
    let mut secrets = vec![code1, code2, code3, refresh1, refresh2, verifier, wrong];
    secrets.extend([assertion, signature, basic]);
    secrets.extend(fixed);
    secrets
}

#[test]
fn codes_refresh_tokens_verifiers_passwords_and_assertions_never_leak() {
    let key = Key::es256();
    let mut h = harness(&key);
    let secrets = secrets_in_use(&h, &key);
    h.kill();
    let log = h.log();
    assert!(
        log.contains(WEB) && log.contains(JWT),
        "the log should name the clients"
    );
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "the log holds {s}");
    }
    // The data dir: no secret as text, and no random part of a code or token, neither as text
    // nor as its 32 raw bytes.
    let mut needles: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
    for s in secrets.iter().filter(|s| s.starts_with("crm_")) {
        needles.push(s.as_bytes()[7..].to_vec());
        needles.push(URL_SAFE_NO_PAD.decode(&s[7..]).unwrap());
    }
    assert_eq!(
        needles.len(),
        secrets.len() + 10,
        "five codes and refresh tokens"
    );
    let files = files(&h.path("data"));
    let named = files.iter().any(|(_, b)| contains(b, WEB.as_bytes()));
    assert!(named, "the store should name the client");
    for (path, bytes) in &files {
        for n in &needles {
            let shown = String::from_utf8_lossy(n);
            assert!(!contains(bytes, n), "{} holds {shown}", path.display());
        }
    }
}
