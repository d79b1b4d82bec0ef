//! The path canonicaliser and CRM operation classifier (`crmgate::proxy::route`,
//! `OperationTable`, and the local endpoint router).
//!
//! Properties: nothing panics; a path accepted as canonical is stable (its loose normalisation
//! is itself, lower-cased, and canonical again) and contains no `..`, `//`, `%2e`, `%2f`, `;` or
//! backslash; a `Protected` route is canonical, under the prefix, and names the operation an
//! independent reading of the path finds; and a path is passed through as `Unprotected` only
//! when no reading a web server might make of it (as sent, or after one, two or three rounds
//! of percent-decoding; case, backslashes, `;` parameters, `//` and dot segments resolved) lies
//! under the protected prefix.

#![no_main]

use arbitrary::Arbitrary;
use crmgate::proxy::local;
use crmgate::proxy::route::{
    OpClass, OperationTable, Route, is_canonical, loosely_normalise, may_be_under, route,
};
use crmgate::token::scope::Access;
use libfuzzer_sys::fuzz_target;

const PREFIXES: [&str; 3] = ["/restapi/", "/api/v2/", "/CRM/rest/"];

#[derive(Arbitrary, Debug)]
struct Input {
    prefix: u8,
    path: String,
}

/// Resolves one reading: lower case, `\` as `/`, `;` parameters dropped, empty and dot
/// segments resolved.
fn resolve(s: &str) -> String {
    let s = s.to_ascii_lowercase().replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for seg in s.split('/') {
        match seg.split(';').next().unwrap_or("") {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            seg => out.push(seg),
        }
    }
    let mut r = String::new();
    for seg in &out {
        r.push('/');
        r.push_str(seg);
    }
    if s.ends_with('/') || out.is_empty() {
        r.push('/');
    }
    r
}

/// Every reading of `path`: as sent and after up to three rounds of percent-decoding.
fn readings(path: &str) -> Vec<String> {
    let mut current = path.to_string();
    let mut all = vec![resolve(&current)];
    for _ in 0..3 {
        let next = percent_encoding::percent_decode_str(&current)
            .decode_utf8_lossy()
            .into_owned();
        if next == current {
            break;
        }
        all.push(resolve(&next));
        current = next;
    }
    all
}

/// The vtews operation named by the part of a canonical path after the prefix.
fn model_op(rest: &str) -> Option<String> {
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<&str> = rest.split('/').collect();
    let version =
        |v: &str| v.len() > 1 && v.starts_with('v') && v[1..].bytes().all(|b| b.is_ascii_digit());
    let op = match segs.as_slice() {
        [v, "vtews", op] if version(v) => *op,
        [v, "index.php", "vtews", op] if version(v) => *op,
        _ => return None,
    };
    let op = op
        .strip_suffix(".json")
        .or_else(|| op.strip_suffix(".xml"))
        .unwrap_or(op);
    (!op.is_empty()).then(|| op.to_ascii_lowercase())
}

fuzz_target!(|input: Input| {
    let prefix = PREFIXES[usize::from(input.prefix) % PREFIXES.len()];
    let path = input.path.as_str();
    let bare = prefix.trim_end_matches('/');
    let lower_prefix = prefix.to_ascii_lowercase();

    let loose = loosely_normalise(path);
    if is_canonical(path) {
        let lower = path.to_ascii_lowercase();
        for bad in ["..", "//", "%2e", "%2f", ";", "\\"] {
            assert!(!lower.contains(bad), "canonical {path:?} contains {bad:?}");
        }
        assert_eq!(loose, lower, "canonical {path:?} is not stable");
        assert!(
            is_canonical(&loose),
            "{path:?} normalises to non-canonical {loose:?}"
        );
    }

    let r = route(path, prefix);
    let all = readings(path);
    let under_prefix = all.iter().any(|s| s.starts_with(&lower_prefix));
    let under = under_prefix
        || all
            .iter()
            .any(|s| *s == lower_prefix[..lower_prefix.len() - 1]);
    match &r {
        Route::Protected { op } => {
            assert!(
                is_canonical(path),
                "non-canonical {path:?} routed as protected"
            );
            assert!(
                path.starts_with(prefix) || path == bare,
                "{path:?} not under {prefix:?}"
            );
            assert_eq!(*op, model_op(&path[bare.len()..]), "operation of {path:?}");
            if let Some(op) = op {
                let class = OperationTable::default().classify(op);
                if let Some(access) = class.access() {
                    assert!(matches!(access, Access::Read | Access::Write));
                }
                assert_eq!(
                    OperationTable::with_overrides([(op.as_str(), OpClass::Read)]).classify(op),
                    OpClass::Read
                );
            }
        }
        Route::NonCanonical => {}
        Route::Unprotected => {
            assert!(
                !under,
                "{path:?} passes through but a server may read it under {prefix:?}"
            );
        }
    }
    if under_prefix {
        assert!(
            may_be_under(path, prefix),
            "may_be_under({path:?}, {prefix:?}) is false"
        );
    }
    let _ = local::route(path);
    let _ = OperationTable::default().classify(&path.to_ascii_lowercase());
});
