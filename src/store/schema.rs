//! The storage key schema: every key space, how each key is built from its parts and read back,
//! and the values of the index entries. Nothing outside this module slices or concatenates keys.
//!
//! | space | key | value |
//! |---|---|---|
//! | `Token` | keyed hash of the token (32 bytes) | token record |
//! | `Once` | keyed hash of an assertion id | empty |
//! | `Code` | keyed hash of the code | code record |
//! | `Grant` | family id (16 bytes) | grant record |
//! | `Family` | family id + token hash | empty |
//! | `UserGrant` | username NUL client id NUL family id | empty |
//! | `ClientToken` | client id NUL token hash | expiry (8 bytes, big endian) + kind (1 = refresh) |
//! | `ClientGrant` | client id NUL family id | empty |
//!
//! Client ids and usernames never contain NUL (the registry and users files refuse it), so a
//! prefix ending in NUL selects exactly one client's or user's entries.

use crate::clock::UnixTime;
use crate::keys::Digest;

/// Length of a family id.
pub const FAMILY_LEN: usize = 16;
/// Length of a keyed hash.
pub const HASH_LEN: usize = 32;

/// The id of a grant (token family).
pub type Family = [u8; FAMILY_LEN];

/// The key spaces of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    /// Token records by keyed hash of the token.
    Token,
    /// Single-use client assertion ids.
    Once,
    /// Authorization codes by keyed hash of the code.
    Code,
    /// Grants (one per authorization) by family id.
    Grant,
    /// Family id + token hash: the tokens of each grant.
    Family,
    /// Username, client id and family id: the grants of each user.
    UserGrant,
    /// Client id and token hash → expiry and kind: the tokens of each client.
    ClientToken,
    /// Client id and family id: the grants of each client.
    ClientGrant,
}

impl Space {
    /// Every space.
    pub const ALL: [Space; 8] = [
        Space::Token,
        Space::Once,
        Space::Code,
        Space::Grant,
        Space::Family,
        Space::UserGrant,
        Space::ClientToken,
        Space::ClientGrant,
    ];

    /// The byte that prefixes keys of this space in backends with one key space.
    pub fn tag(self) -> u8 {
        match self {
            Space::Token => b't',
            Space::Once => b'j',
            Space::Code => b'c',
            Space::Grant => b'g',
            Space::Family => b'f',
            Space::UserGrant => b'u',
            Space::ClientToken => b'k',
            Space::ClientGrant => b'a',
        }
    }
}

fn joined(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// The last `N` bytes of `key`, if it is long enough.
fn tail<const N: usize>(key: &[u8]) -> Option<[u8; N]> {
    let at = key.len().checked_sub(N)?;
    key.get(at..)?.try_into().ok()
}

/// `Token`, `Code` and `Once` key of a keyed hash.
pub fn hashed(hash: &Digest) -> Vec<u8> {
    hash.0.to_vec()
}

/// `Grant` key, and the `Family` prefix of the grant's tokens.
pub fn family(family: &Family) -> Vec<u8> {
    family.to_vec()
}

/// `Family` key: a token of a grant.
pub fn family_token(family: &Family, token: &Digest) -> Vec<u8> {
    joined(&[family, &token.0])
}

/// The token hash of a `Family` key.
pub fn token_of_family_key(key: &[u8]) -> Option<Digest> {
    (key.len() == FAMILY_LEN + HASH_LEN).then(|| tail(key).map(Digest))?
}

/// `client_id` + NUL: the prefix of a client's `ClientToken` and `ClientGrant` entries.
pub fn client(client_id: &str) -> Vec<u8> {
    joined(&[client_id.as_bytes(), &[0]])
}

/// `ClientToken` key: a token of a client.
pub fn client_token(client_id: &str, token: &Digest) -> Vec<u8> {
    joined(&[client_id.as_bytes(), &[0], &token.0])
}

/// `ClientGrant` key: a grant of a client.
pub fn client_grant(client_id: &str, family: &Family) -> Vec<u8> {
    joined(&[client_id.as_bytes(), &[0], family])
}

/// `username` + NUL: the prefix of a user's `UserGrant` entries.
pub fn user(username: &str) -> Vec<u8> {
    joined(&[username.as_bytes(), &[0]])
}

/// `UserGrant` key: a grant a user gave a client.
pub fn user_grant(username: &str, client_id: &str, family: &Family) -> Vec<u8> {
    joined(&[
        username.as_bytes(),
        &[0],
        client_id.as_bytes(),
        &[0],
        family,
    ])
}

/// The token hash of a `ClientToken` key.
pub fn token_of_client_key(key: &[u8]) -> Option<Digest> {
    let (_, rest) = split_client(key)?;
    (rest.len() == HASH_LEN).then(|| tail(rest).map(Digest))?
}

/// The family id of a `ClientGrant` or `UserGrant` key.
pub fn family_of_key(key: &[u8]) -> Option<Family> {
    tail(key)
}

/// The client id of a `ClientToken` key.
pub fn client_of_key(key: &[u8]) -> Option<String> {
    let (client, _) = split_client(key)?;
    std::str::from_utf8(client).ok().map(str::to_string)
}

fn split_client(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = key.iter().position(|b| *b == 0)?;
    Some((key.get(..at)?, key.get(at + 1..)?))
}

/// The value of a `ClientToken` entry: the token's expiry and whether it is a refresh token.
pub fn client_token_value(expires_at: UnixTime, refresh: bool) -> Vec<u8> {
    let mut v = expires_at.to_be_bytes().to_vec();
    v.push(u8::from(refresh));
    v
}

/// Reads a `ClientToken` value: (expiry, is a refresh token).
pub fn read_client_token_value(value: &[u8]) -> Option<(UnixTime, bool)> {
    let exp: [u8; 8] = value.get(..8)?.try_into().ok()?;
    Some((UnixTime::from_be_bytes(exp), *value.get(8)? == 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_what_they_were_built_from() {
        let token = Digest([7; 32]);
        let fam = [9; 16];
        assert_eq!(
            token_of_family_key(&family_token(&fam, &token)),
            Some(token)
        );
        let ck = client_token("vte_1", &token);
        assert!(ck.starts_with(&client("vte_1")));
        assert_eq!(token_of_client_key(&ck), Some(token));
        assert_eq!(client_of_key(&ck).as_deref(), Some("vte_1"));
        assert_eq!(family_of_key(&client_grant("vte_1", &fam)), Some(fam));
        let uk = user_grant("aldo", "vte_1", &fam);
        assert!(uk.starts_with(&user("aldo")));
        assert_eq!(family_of_key(&uk), Some(fam));
        let v = client_token_value(1234, true);
        assert_eq!(read_client_token_value(&v), Some((1234, true)));
    }

    #[test]
    fn malformed_keys_read_as_nothing() {
        assert_eq!(token_of_family_key(&[1, 2, 3]), None);
        assert_eq!(token_of_client_key(b"no-nul"), None);
        assert_eq!(token_of_client_key(b"c\0short"), None);
        assert_eq!(family_of_key(b"short"), None);
        assert_eq!(read_client_token_value(&[0; 5]), None);
    }

    #[test]
    fn a_prefix_selects_one_client_only() {
        let token = Digest([1; 32]);
        assert!(!client_token("vte_10", &token).starts_with(&client("vte_1")));
        assert!(!user_grant("aldo2", "c", &[0; 16]).starts_with(&user("aldo")));
    }
}
