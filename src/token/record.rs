//! Token records as the store keeps them, and the opaque token strings handed to clients.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;
use crate::keys::Digest;
use crate::store::StoreError;
use crate::token::scope::Scope;

/// Prefix of access tokens.
pub const ACCESS_PREFIX: &str = "crm_at_";
/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "crm_rt_";
/// Random bytes in every token (256 bits).
pub const TOKEN_BYTES: usize = 32;
const ENCODED_LEN: usize = 43;

/// Which kind of token a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenKind {
    /// A Bearer token for the REST API.
    Access,
    /// A refresh token (authorization code grants with offline access).
    Refresh,
}

impl TokenKind {
    /// The string prefix of tokens of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Access => ACCESS_PREFIX,
            TokenKind::Refresh => REFRESH_PREFIX,
        }
    }

    /// The RFC 7009 / 7662 token type hint name.
    pub fn hint(self) -> &'static str {
        match self {
            TokenKind::Access => "access_token",
            TokenKind::Refresh => "refresh_token",
        }
    }
}

/// Identifies one grant: an authorization and every token that came from it.
pub type FamilyId = [u8; 16];

/// A fresh random family id.
pub fn new_family() -> FamilyId {
    let mut id = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut id);
    id
}

/// What became of a rotated refresh token: when, and the keys of the tokens that replaced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// When it was exchanged.
    pub at: UnixTime,
    /// Key of the refresh token issued in exchange.
    pub refresh: Digest,
    /// Key of the access token issued in exchange.
    pub access: Digest,
}

/// What the store remembers of a token; never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Access or refresh.
    pub kind: TokenKind,
    /// The client it was issued to.
    pub client_id: String,
    /// The user it acts as; `None` means the app's bound user at the time of each request.
    pub user: Option<String>,
    /// The scope granted; `None` means the app's scope at the time of each request.
    pub scope: Option<Scope>,
    /// Issue time.
    pub issued_at: UnixTime,
    /// Expiry time.
    pub expires_at: UnixTime,
    /// The grant it belongs to (authorization code grants).
    pub family: Option<FamilyId>,
    /// Set once a refresh token has been exchanged.
    pub rotated: Option<Rotation>,
}

/// What codes and grants keep of their user at the time of authorization: for users the CRM
/// vouches for (`users.backend = "upstream"`), their access key sealed for the store and what the
/// CRM said of them; for users of the users file, nothing but defaults (the file is read again).
/// Built and read only by [`crate::identity::Identity`]. In the stored bytes it is the last three
/// fields of its record, exactly as when they were written inline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSnapshot {
    /// The CRM access key, encrypted (upstream users only).
    pub sealed_key: Option<Vec<u8>>,
    /// Whether the CRM called the user an administrator (last checked).
    pub admin: bool,
    /// The user's CRM groups (last checked).
    pub groups: Vec<String>,
}

impl UserSnapshot {
    /// Takes the administrator flag and groups of `fresh`, keeping the sealed key.
    pub fn update(&mut self, fresh: &UserSnapshot) {
        self.admin = fresh.admin;
        self.groups = fresh.groups.clone();
    }
}

const FORMAT: u8 = 1;

/// Encodes a record for the store: a format byte, then postcard.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    let mut out = vec![FORMAT];
    // Serialising plain structs into a Vec cannot fail.
    out.extend(postcard::to_allocvec(record).unwrap_or_default());
    out
}

/// Decodes what [`encode`] wrote.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt(e.to_string()))
        }
        _ => Err(StoreError::Corrupt("unknown record format".into())),
    }
}

impl TokenRecord {
    /// True when the token is past its expiry at `now`.
    pub fn is_expired(&self, now: UnixTime) -> bool {
        now >= self.expires_at
    }
}

/// A key under which a record is stored: the keyed hash of the token string.
pub type TokenKey = Digest;

/// A fresh random token of `kind`.
pub fn generate(kind: TokenKind) -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut s = String::with_capacity(kind.prefix().len() + ENCODED_LEN);
    s.push_str(kind.prefix());
    URL_SAFE_NO_PAD.encode_string(bytes, &mut s);
    s
}

/// The kind of a string shaped like one of our tokens; `None` for anything else, so malformed
/// input is refused without a hash or a store lookup.
pub fn kind_of(token: &str) -> Option<TokenKind> {
    let kind = if token.starts_with(ACCESS_PREFIX) {
        TokenKind::Access
    } else if token.starts_with(REFRESH_PREFIX) {
        TokenKind::Refresh
    } else {
        return None;
    };
    let body = &token.as_bytes()[kind.prefix().len()..];
    let ok = body.len() == ENCODED_LEN
        && body
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    ok.then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_shape_we_accept() {
        let a = generate(TokenKind::Access);
        let b = generate(TokenKind::Access);
        assert_ne!(a, b);
        assert_eq!(kind_of(&a), Some(TokenKind::Access));
        assert_eq!(
            kind_of(&generate(TokenKind::Refresh)),
            Some(TokenKind::Refresh)
        );
        assert_eq!(kind_of("crm_at_short"), None);
        assert_eq!(kind_of(&a.replace("crm_at_", "crm_xx_")), None);
        assert_eq!(kind_of(&format!("{a}=")), None);
    }
}
