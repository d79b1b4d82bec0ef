//! `X-Crm-Gateway-Signature`: lowercase hex HMAC-SHA256(secret, ts "\n" METHOD "\n"
//! path-and-query "\n" user "\n" client_id "\n" scope), so the CRM can tell the gateway's
//! requests from anyone else's.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The fields that are signed, empty strings where unset.
pub struct Signed<'a> {
    /// Unix seconds.
    pub timestamp: u64,
    /// Request method.
    pub method: &'a str,
    /// Path and query as forwarded.
    pub path_and_query: &'a str,
    /// CRM user.
    pub user: &'a str,
    /// Client id.
    pub client_id: &'a str,
    /// Scope.
    pub scope: &'a str,
}

/// The lowercase hex signature of `fields` under `secret`.
pub fn signature(secret: &[u8], fields: &Signed<'_>) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    let ts = fields.timestamp.to_string();
    for (i, part) in [
        ts.as_str(),
        fields.method,
        fields.path_and_query,
        fields.user,
        fields.client_id,
        fields.scope,
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            mac.update(b"\n");
        }
        mac.update(part.as_bytes());
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_newline_joined_fields() {
        let s = signature(
            b"key",
            &Signed {
                timestamp: 1700000000,
                method: "POST",
                path_and_query: "/restapi/v1/vtews/query",
                user: "aldo",
                client_id: "vte_1",
                scope: "rest.all",
            },
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"1700000000\nPOST\n/restapi/v1/vtews/query\naldo\nvte_1\nrest.all");
        let want: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(s, want);
        assert_eq!(s.len(), 64);
    }
}
