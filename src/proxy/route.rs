//! Which requests are protected and which CRM operation they call: path canonicalisation and the
//! operation a protected path names (its class comes from [`crate::operations`]).

pub use crate::operations::{OpClass, OperationTable};

/// Where a request goes, decided from its path alone.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Not under the protected prefix in any spelling: passed through.
    Unprotected,
    /// Under the protected prefix; `op` is the lower-case vtews operation, when the path names one.
    Protected { op: Option<String> },
    /// Protected in some spelling, but not written canonically: refused, so that the CRM can
    /// never read a different operation than the one the gateway checked.
    NonCanonical,
}

/// Routes `path` (without query) against `prefix` (e.g. `/restapi/`, starting and ending in `/`).
pub fn route(path: &str, prefix: &str) -> Route {
    let bare = prefix.trim_end_matches('/');
    if is_canonical(path) {
        // A canonical path reads the same to every server but for letter case.
        if path.starts_with(prefix) || path == bare {
            return Route::Protected {
                op: operation(&path[bare.len()..]),
            };
        }
        if starts_with_ignore_case(path, prefix) || path.eq_ignore_ascii_case(bare) {
            return Route::NonCanonical;
        }
        return Route::Unprotected;
    }
    if some_reading_under(path, prefix, true) {
        Route::NonCanonical
    } else {
        Route::Unprotected
    }
}

/// The CRM's legacy APIs, which log in with access keys or passwords instead of tokens: the
/// vtiger webservice (`getchallenge`, `login`, `login_pwd`), the SOAP entry point and its scripts.
const LEGACY_APIS: [&str; 3] = ["/webservice.php/", "/vteservice.php/", "/soap/"];

/// True when some server's reading of `path` names a legacy API, as a file or below it
/// (`/webservice.php/x` runs the script too), in any case or encoding.
pub fn is_legacy_api(path: &str) -> bool {
    LEGACY_APIS
        .iter()
        .any(|api| some_reading_under(path, api, true))
}

/// ASCII case-insensitive `starts_with`.
pub fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// True when `path` may name a place under `prefix` in some server's reading of it: the cheap
/// check for canonical paths, the loose normalisation for the rest.
pub fn may_be_under(path: &str, prefix: &str) -> bool {
    if is_canonical(path) {
        starts_with_ignore_case(path, prefix)
    } else {
        some_reading_under(path, prefix, false)
    }
}

/// True when some reading of `path` lies under `prefix` (with `or_bare`, also when it is the
/// prefix without its final `/`): the path as sent and after each of up to three rounds of
/// percent-decoding, each loosely normalised. Every round counts, because decoding further can
/// also move a path out of the prefix: `/restapi/%2e%2e/x` reads as `/x` only once decoded.
fn some_reading_under(path: &str, prefix: &str, or_bare: bool) -> bool {
    let prefix = prefix.to_ascii_lowercase();
    let bare = prefix.trim_end_matches('/');
    let mut current = path.to_string();
    for round in 0..=3 {
        let loose = normalise(&current);
        if loose.starts_with(&prefix) || (or_bare && loose == bare) {
            return true;
        }
        let decoded = decode_once(&current);
        if round == 3 || decoded == current {
            break;
        }
        current = decoded;
    }
    false
}

/// The vtews operation of the part after the prefix: `v1/vtews/op` or `v1/index.php/vtews/op`,
/// with an optional trailing `/` and `.json` / `.xml` suffix.
fn operation(rest: &str) -> Option<String> {
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segments: Vec<&str> = rest.split('/').collect();
    let op = match segments.as_slice() {
        [version, "vtews", op] | [version, "index.php", "vtews", op] if is_version(version) => *op,
        _ => return None,
    };
    let op = op
        .strip_suffix(".json")
        .or_else(|| op.strip_suffix(".xml"))
        .unwrap_or(op);
    (!op.is_empty()).then(|| op.to_ascii_lowercase())
}

fn is_version(s: &str) -> bool {
    s.len() > 1 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

/// A protected path must be plain: unreserved characters and single slashes only, no dot
/// segments, no percent-encoding, no `;` parameters.
pub fn is_canonical(path: &str) -> bool {
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~'));
    plain
        && path.starts_with('/')
        && !path.contains("//")
        // Not even inside a segment: some servers strip trailing dots (`query..` is `query`).
        && !path.contains("..")
        && path.split('/').all(|seg| seg != ".")
}

/// The most lenient reading any web server might make of `path`: percent-decoded, lower case,
/// backslashes as slashes, `;` parameters dropped, repeated slashes and dot segments resolved.
pub fn loosely_normalise(path: &str) -> String {
    normalise(&percent_decode(path))
}

/// Lower case, backslashes as slashes, `;` parameters dropped, repeated slashes and dot segments
/// resolved (no decoding).
fn normalise(path: &str) -> String {
    let decoded = path.to_ascii_lowercase().replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        let seg = seg.split(';').next().unwrap_or("");
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut s = String::with_capacity(decoded.len() + 1);
    for seg in &out {
        s.push('/');
        s.push_str(seg);
    }
    if decoded.ends_with('/') || out.is_empty() {
        s.push('/');
    }
    s
}

/// One round of `%XX` decoding; invalid escapes stay, invalid UTF-8 becomes U+FFFD.
pub(crate) fn decode_once(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

/// Decodes `%XX` escapes repeatedly (so double encoding is seen through); invalid escapes stay.
fn percent_decode(path: &str) -> String {
    let mut current = path.to_string();
    for _ in 0..3 {
        let decoded = decode_once(&current);
        if decoded == current {
            break;
        }
        current = decoded;
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(path: &str) -> Route {
        route(path, "/restapi/")
    }

    fn protected(o: &str) -> Route {
        Route::Protected {
            op: Some(o.to_string()),
        }
    }

    #[test]
    fn canonical_variants_name_the_same_operation() {
        for p in [
            "/restapi/v1/vtews/query",
            "/restapi/v1/vtews/query/",
            "/restapi/v1/vtews/query.json",
            "/restapi/v1/vtews/query.xml",
            "/restapi/v1/index.php/vtews/query",
            "/restapi/v1/vtews/QUERY",
        ] {
            assert_eq!(op(p), protected("query"), "{p}");
        }
    }

    #[test]
    fn unknown_shapes_have_no_operation() {
        assert_eq!(op("/restapi/v1/other/query"), Route::Protected { op: None });
        assert_eq!(op("/restapi/"), Route::Protected { op: None });
        assert_eq!(op("/restapi"), Route::Protected { op: None });
    }

    #[test]
    fn tricks_are_refused_not_passed_through() {
        for p in [
            "/restapi/v1/vtews/%71uery",
            "/%72estapi/v1/vtews/create",
            "/RESTAPI/v1/vtews/create",
            "//restapi/v1/vtews/create",
            "/x/../restapi/v1/vtews/create",
            "/restapi/v1/vtews/query/../create",
            "/restapi/v1/vtews/query;x=1",
            "/restapi;x/v1/vtews/create",
            "/restapi%2Fv1/vtews/create",
            "/%252Frestapi/v1/vtews/create",
            "/./restapi/v1/vtews/create",
            "/restapi\\v1",
        ] {
            assert_eq!(op(p), Route::NonCanonical, "{p}");
        }
    }

    #[test]
    fn every_decoding_round_is_a_reading() {
        // Found by the path_classifier fuzz target ("/restapi//%2e.//%+apI/v1v1/re/"): decoded
        // in full these leave the prefix and passed through, but a server that reads the path
        // as sent (or decodes it only once) sees it under the prefix.
        for p in [
            "/restapi//%2e.//%+apI/v1v1/re/",
            "/restapi/%2e%2e/x",
            "/restapi/%252e%252e/x",
            "/restapi/v1/vtews/create/%252e%252e/%252e%252e/%252e%252e/%252e%252e/x",
        ] {
            assert_eq!(op(p), Route::NonCanonical, "{p}");
            assert!(may_be_under(p, "/restapi/"), "{p}");
        }
        assert_eq!(op("/static/%2e%2e/other"), Route::Unprotected);
    }

    #[test]
    fn dot_runs_are_not_canonical() {
        // Found by the path_classifier fuzz target: "/restapi/v2/index..php/vtews/query" was
        // canonical; servers that strip trailing dots read a different path.
        assert!(!is_canonical("/restapi/v2/index..php/vtews/query"));
        for p in [
            "/restapi/v2/index..php/vtews/query",
            "/restapi/...",
            "/restapi/v1/vtews/query..",
        ] {
            assert_eq!(op(p), Route::NonCanonical, "{p}");
        }
        assert_eq!(op("/static/app..js"), Route::Unprotected);
    }

    #[test]
    fn legacy_apis_in_every_spelling() {
        for p in [
            "/webservice.php",
            "/WebService.php",
            "/webservice.php/",
            "/webservice.php/extra",
            "//webservice.php",
            "/./webservice.php",
            "/x/../webservice.php",
            "/%77ebservice.php",
            "/%2577ebservice.php",
            "/webservice.php;x=1",
            "/vteservice.php",
            "/soap/customerportal.php",
            "/SOAP/VTESOAPServer.php",
            "/soap",
        ] {
            assert!(is_legacy_api(p), "{p}");
        }
        for p in [
            "/",
            "/index.php",
            "/webservice.phpx",
            "/restapi/v1/vtews/query",
            "/soapbox",
        ] {
            assert!(!is_legacy_api(p), "{p}");
        }
    }

    #[test]
    fn other_paths_pass_through() {
        for p in ["/", "/index.php", "/restapix/v1", "/modules/x", "/rest/api"] {
            assert_eq!(op(p), Route::Unprotected, "{p}");
        }
    }
}
