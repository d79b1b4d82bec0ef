//! Authorization codes (RFC 6749 §4.1.2): 256 random bits, single use, short-lived, bound to the
//! client, redirect URI, user, scope and PKCE challenge. Redemption is one atomic store commit
//! that marks the code used and stores the grant and its tokens, so parallel redemptions of one
//! code cannot both succeed, and a second redemption finds the code spent.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::grants::GrantRecord;
use super::record::{self, FamilyId, TokenRecord, UserSnapshot};
use super::service::TokenService;
use crate::clock::UnixTime;
use crate::store::{Expect, Space, StoreError, Write, schema};
use crate::token::scope::Scope;

/// Prefix of authorization codes.
pub const CODE_PREFIX: &str = "crm_ac_";
/// How long a used or expired code is remembered, to recognise replays.
const REPLAY_MEMORY: u64 = 600;

/// What the store keeps of a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The client it was issued to.
    pub client_id: String,
    /// The user who authorized.
    pub user: String,
    /// The scope granted.
    pub scope: Scope,
    /// The redirect URI of the authorization request, if it named one.
    pub redirect_uri: Option<String>,
    /// The S256 PKCE challenge, if any.
    pub challenge: Option<String>,
    /// The grant the tokens will belong to.
    pub family: FamilyId,
    /// Refresh tokens come with it.
    pub offline: bool,
    /// Expiry.
    pub expires_at: UnixTime,
    /// Redeemed already.
    pub used: bool,
    /// The user as they were at authorization (last field: see [`UserSnapshot`]).
    pub profile: UserSnapshot,
}

/// A code as read from the store, with its stored bytes for the atomic redemption.
pub struct StoredCode {
    /// The record.
    pub record: CodeRecord,
    raw: Vec<u8>,
}

/// The outcome of a redemption.
pub enum Redeemed {
    /// The tokens.
    Issued {
        /// Access token.
        access: String,
        /// Refresh token, with offline access.
        refresh: Option<String>,
    },
    /// Someone redeemed it first.
    Spent,
}

/// True for strings shaped like a code of ours.
pub fn is_code(s: &str) -> bool {
    s.strip_prefix(CODE_PREFIX).is_some_and(|b| {
        b.len() == 43
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    })
}

impl TokenService {
    /// Stores a new code durably and returns it.
    pub async fn issue_code(&self, rec: &CodeRecord) -> Result<String, StoreError> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let code = format!("{CODE_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let put = Write::Put {
            space: Space::Code,
            key: schema::hashed(&self.key(&code)),
            value: record::encode(rec),
            expires_at: rec.expires_at + REPLAY_MEMORY,
        };
        self.store().commit(Vec::new(), vec![put]).await?;
        Ok(code)
    }

    /// The stored code, used or not.
    pub async fn code(&self, code: &str) -> Result<Option<StoredCode>, StoreError> {
        if !is_code(code) {
            return Ok(None);
        }
        let key = schema::hashed(&self.key(code));
        let Some(raw) = self.store().get(Space::Code, &key).await? else {
            return Ok(None);
        };
        Ok(Some(StoredCode {
            record: record::decode(&raw)?,
            raw,
        }))
    }

    /// Marks the code used and stores its grant and tokens, all at once; `Spent` when the code
    /// was used already, or another redemption won the race.
    pub async fn redeem_code(
        &self,
        code: &str,
        stored: StoredCode,
        access: &TokenRecord,
        refresh: Option<&TokenRecord>,
        grant: &GrantRecord,
    ) -> Result<Redeemed, StoreError> {
        if stored.record.used {
            return Ok(Redeemed::Spent);
        }
        let key = schema::hashed(&self.key(code));
        let expect = Expect {
            space: Space::Code,
            key: key.clone(),
            value: Some(stored.raw),
        };
        let mut used = stored.record.clone();
        used.used = true;
        let mut writes = vec![Write::Put {
            space: Space::Code,
            key,
            value: record::encode(&used),
            expires_at: used.expires_at + REPLAY_MEMORY,
        }];
        let access_record = access;
        let access = self.mint(access);
        let refresh = refresh.map(|r| self.mint(r));
        let grant_expiry = refresh.as_ref().map_or(access.expires_at, |r| r.expires_at);
        writes.extend(grant.writes(&stored.record.family, grant_expiry));
        writes.extend(access.writes);
        let refresh_token = refresh.map(|r| {
            writes.extend(r.writes);
            r.token
        });
        if !self.store().commit(vec![expect], writes).await? {
            return Ok(Redeemed::Spent);
        }
        self.counted(&[access_record]);
        Ok(Redeemed::Issued {
            access: access.token,
            refresh: refresh_token,
        })
    }
}
