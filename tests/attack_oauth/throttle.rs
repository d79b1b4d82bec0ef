//! Brute force: guessing client secrets (at every endpoint that authenticates clients, with any
//! method) and user passwords is throttled per client or user and per address, answered `429`
//! with `Retry-After`; the throttle lasts its configured time and then lets everyone back in.

use super::*;

use std::time::{Duration, Instant};

/// A gateway whose throttles are tight and short.
fn throttled_harness(limits: &str) -> Harness {
    Harness::start_with(
        &apps(),
        Options {
            extra: limits.into(),
            ..Options::default()
        },
    )
}

/// The `Retry-After` seconds of a 429.
fn retry_after(r: &Response) -> u64 {
    assert_eq!(r.status(), 429);
    r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Polls `f` until it returns 200 (at most `limit`); how long that took.
fn back_within(limit: Duration, what: &str, f: impl Fn() -> u16) -> Duration {
    let start = Instant::now();
    loop {
        let status = f();
        if status == 200 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{what}: still {status} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

const CC: [(&str, &str); 1] = [("grant_type", "client_credentials")];

#[test]
fn client_throttles_answer_429_and_expire_without_locking_the_client_out() {
    let h = throttled_harness(
        "[limits]\nclient_failures_per_client = 3\nclient_failures_per_ip = 5\nclient_throttle_seconds = 3\n",
    );
    for _ in 0..2 {
        assert_eq!(h.token_basic(SA, "guess", &CC).status(), 401);
    }
    let r = h.token_basic(SA, "guess", &CC);
    assert!((1..=3).contains(&retry_after(&r)), "per client");
    assert_eq!(oauth_error(r), (429, "invalid_client".into()));
    // The per-client throttle never stops the right secret.
    assert_eq!(h.token_basic(SA, SA_SECRET, &CC).status(), 200);
    // Two more failures from this address (for clients that do not even exist) and the address
    // is throttled: now even the right secret waits.
    for id in ["vte_nobody1", "vte_nobody2"] {
        h.token_basic(id, "guess", &CC);
    }
    let r = h.token_basic(SA, SA_SECRET, &CC);
    assert!((1..=3).contains(&retry_after(&r)), "per address");
    assert_eq!(oauth_error(r), (429, "invalid_client".into()));
    // ... for as long as the throttle lasts, not longer.
    let took = back_within(Duration::from_secs(10), "the legitimate client", || {
        h.token_basic(SA, SA_SECRET, &CC).status().as_u16()
    });
    assert!(took < Duration::from_secs(7), "locked out for {took:?}");
}

#[test]
fn failed_authentications_at_every_endpoint_and_method_count_towards_the_throttle() {
    let h = throttled_harness(
        "[limits]\nclient_failures_per_client = 100\nclient_failures_per_ip = 4\nclient_throttle_seconds = 60\n",
    );
    let t = h.token(SA, SA_SECRET);
    let form = [("token", t.as_str())];
    for endpoint in ["/oauth2/v2.0/revoke.php", "/oauth2/v2.0/introspect.php"] {
        let r = h
            .http
            .post(h.url(endpoint))
            .basic_auth(SA, Some("guess"))
            .form(&form)
            .send()
            .unwrap();
        assert_eq!(oauth_error(r), (401, "invalid_client".into()), "{endpoint}");
    }
    let forged = jwt::Key::es256().sign(&jwt::claims(&h, SA));
    let r = jwt::post_assertion(&h, &forged, &[]);
    assert_eq!(oauth_error(r), (401, "invalid_client".into()), "assertion");
    let r = h
        .http
        .post(h.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SA),
            ("client_secret", "guess"),
        ])
        .send()
        .unwrap();
    assert_eq!(
        oauth_error(r),
        (401, "invalid_client".into()),
        "client_secret_post"
    );
    // Four failures, four ways: the address is throttled everywhere.
    assert_eq!(h.token_basic(SA, SA_SECRET, &CC).status(), 429, "token");
    let r = h
        .http
        .post(h.url("/oauth2/v2.0/revoke.php"))
        .basic_auth(SA, Some(SA_SECRET))
        .form(&form)
        .send()
        .unwrap();
    assert_eq!(r.status(), 429, "revocation");
    assert_eq!(
        h.query_invoices(&t).status(),
        200,
        "the token was not revoked"
    );
}

/// Posts a login for `user` on a fresh authorization request; the status.
fn login(h: &Harness, user: &str, password: &str) -> u16 {
    let b = Browser::new(h);
    let page = b.get(&authorize_url(h, WEB, WEB_CB, "st", None));
    b.login(&page, user, password).status
}

#[test]
fn login_throttles_per_user_and_per_address_answer_429_and_expire() {
    let h = throttled_harness(
        "[login]\nfailures_per_user = 3\nfailures_per_ip = 5\nthrottle_seconds = 3\n",
    );
    for _ in 0..3 {
        assert_eq!(login(&h, "bruna", "guess"), 401);
    }
    assert_eq!(login(&h, "bruna", "bruna-pw"), 429, "bruna is throttled");
    // The admin API's login shares the throttle.
    let r = h
        .http
        .post(h.url("/gateway/api/login"))
        .json(&serde_json::json!({"username": "bruna", "password": "bruna-pw"}))
        .send()
        .unwrap();
    assert!((1..=3).contains(&retry_after(&r)), "admin API");
    assert_eq!(login(&h, "aldo", "aldo-pw"), 200, "others are not");
    // Unknown and other users' failures from this address add up.
    for user in ["carla", "nobody"] {
        assert_eq!(login(&h, user, "guess"), 401);
    }
    assert_eq!(
        login(&h, "aldo", "aldo-pw"),
        429,
        "the address is throttled"
    );
    let took = back_within(Duration::from_secs(10), "bruna", || {
        login(&h, "bruna", "bruna-pw")
    });
    assert!(took < Duration::from_secs(7), "locked out for {took:?}");
    assert_eq!(login(&h, "aldo", "aldo-pw"), 200);
}
