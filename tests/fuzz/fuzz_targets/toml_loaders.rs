//! The TOML loaders: `crmgate.toml` (`config::parse`), `users.toml` (`users::parse`) and
//! `apps.toml` (`registry::parse`), each fed the same arbitrary text.
//!
//! Property: no loader panics, and every problem a loader reports names the file and a line
//! within the text (1 up to the number of lines), as the `file:line: key: message` format
//! promises.

#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use crmgate::config::Problems;
use crmgate::keys::KeyedHash;
use crmgate::users::Users;
use libfuzzer_sys::fuzz_target;

static USERS: LazyLock<Users> = LazyLock::new(|| {
    crmgate::users::parse(
        "users.toml",
        "[[users]]\nusername = \"aldo\"\ngroups = [\"sales\"]\n",
    )
    .expect("users fixture")
});
static HASHER: LazyLock<KeyedHash> =
    LazyLock::new(|| crmgate::keys::KeyRing::from_master(&[7; 32]).secrets);

fn check(text: &str, file: &str, result: Result<(), Problems>) {
    let Err(problems) = result else {
        return;
    };
    assert!(!problems.is_empty(), "an error without problems");
    let lines = text.bytes().filter(|b| *b == b'\n').count() + 1;
    for p in &problems.0 {
        assert_eq!(p.file, file);
        match p.line {
            Some(l) => assert!((1..=lines).contains(&l), "line {l} of {lines}: {p}"),
            None => panic!("problem without a line: {p}"),
        }
    }
    let _ = problems.to_string();
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = Path::new("/etc/crmgate/crmgate.toml");
    check(
        text,
        "/etc/crmgate/crmgate.toml",
        crmgate::config::parse(config, text).map(drop),
    );
    check(
        text,
        "users.toml",
        crmgate::users::parse("users.toml", text).map(drop),
    );
    check(
        text,
        "apps.toml",
        crmgate::registry::parse(
            "apps.toml",
            text,
            Path::new("/etc/crmgate"),
            &HASHER,
            &USERS,
        )
        .map(drop),
    );
});
