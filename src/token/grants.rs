//! Grants: one per authorization a user gave an app, the root of a token family. Remembered per
//! user, so a user's connected applications can be listed and revoked as a whole.

use serde::{Deserialize, Serialize};

use super::record::{self, FamilyId};
use super::service::TokenService;
use crate::clock::UnixTime;
use crate::store::{Space, StoreError, Write};
use crate::token::scope::Scope;

/// Most grants listed for one user.
const USER_SCAN_LIMIT: usize = 10_000;

/// What the store keeps of a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// The app.
    pub client_id: String,
    /// The user who authorized it.
    pub user: String,
    /// The scope granted.
    pub scope: Scope,
    /// Refresh tokens come with it.
    pub offline: bool,
    /// When the user said yes.
    pub created_at: UnixTime,
    /// The user's CRM access key, encrypted (upstream users backend only).
    pub sealed_key: Option<Vec<u8>>,
    /// Whether the CRM called the user an administrator (upstream users, last checked).
    pub admin: bool,
    /// The user's CRM groups (upstream users, last checked).
    pub groups: Vec<String>,
}

impl GrantRecord {
    /// Key of this grant in the per-user index: user, client and family.
    pub fn user_key(&self, family: &FamilyId) -> Vec<u8> {
        let mut k = user_prefix(&self.user);
        k.extend_from_slice(self.client_id.as_bytes());
        k.push(0);
        k.extend_from_slice(family);
        k
    }

    /// Key of this grant in the per-client index: client and family.
    pub fn client_key(&self, family: &FamilyId) -> Vec<u8> {
        let mut k = super::service::client_prefix(&self.client_id);
        k.extend_from_slice(family);
        k
    }

    /// The writes that store (or extend) this grant until `expires_at`.
    pub fn writes(&self, family: &FamilyId, expires_at: UnixTime) -> Vec<Write> {
        vec![
            Write::Put {
                space: Space::Grant,
                key: family.to_vec(),
                value: record::encode(self),
                expires_at,
            },
            Write::Put {
                space: Space::UserGrant,
                key: self.user_key(family),
                value: Vec::new(),
                expires_at,
            },
            Write::Put {
                space: Space::ClientGrant,
                key: self.client_key(family),
                value: Vec::new(),
                expires_at,
            },
        ]
    }
}

fn user_prefix(user: &str) -> Vec<u8> {
    let mut k = user.as_bytes().to_vec();
    k.push(0);
    k
}

impl TokenService {
    /// The grants `user` has given, with their family ids.
    pub fn grants_of(&self, user: &str) -> Result<Vec<(FamilyId, GrantRecord)>, StoreError> {
        let mut out = Vec::new();
        for (key, _) in self
            .store()
            .scan(Space::UserGrant, &user_prefix(user), USER_SCAN_LIMIT)?
        {
            let Some(family) = key
                .len()
                .checked_sub(16)
                .and_then(|at| key[at..].try_into().ok())
            else {
                continue;
            };
            if let Some(grant) = self.grant(&family)? {
                out.push((family, grant));
            }
        }
        Ok(out)
    }

    /// Revokes every grant `user` gave `client_id`, with all their tokens; returns how many tokens.
    pub async fn revoke_user_app(&self, user: &str, client_id: &str) -> Result<usize, StoreError> {
        let mut n = 0;
        for (family, grant) in self.grants_of(user)? {
            if grant.client_id == client_id {
                n += self.revoke_family(&family).await?;
            }
        }
        Ok(n)
    }
}
