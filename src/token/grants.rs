//! Grants: one per authorization a user gave an app, the root of a token family. Remembered per
//! user, so a user's connected applications can be listed and revoked as a whole.

use serde::{Deserialize, Serialize};

use super::record::{self, FamilyId, UserSnapshot};
use super::service::TokenService;
use crate::clock::UnixTime;
use crate::store::{Space, StoreError, Write, schema};
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
    /// The user as they were at authorization (last field: see [`UserSnapshot`]).
    pub profile: UserSnapshot,
}

impl GrantRecord {
    /// The writes that store (or extend) this grant until `expires_at`.
    pub fn writes(&self, family: &FamilyId, expires_at: UnixTime) -> Vec<Write> {
        vec![
            Write::Put {
                space: Space::Grant,
                key: schema::family(family),
                value: record::encode(self),
                expires_at,
            },
            Write::Put {
                space: Space::UserGrant,
                key: schema::user_grant(&self.user, &self.client_id, family),
                value: Vec::new(),
                expires_at,
            },
            Write::Put {
                space: Space::ClientGrant,
                key: schema::client_grant(&self.client_id, family),
                value: Vec::new(),
                expires_at,
            },
        ]
    }
}

impl TokenService {
    /// The grants `user` has given, with their family ids.
    pub async fn grants_of(&self, user: &str) -> Result<Vec<(FamilyId, GrantRecord)>, StoreError> {
        let mut out = Vec::new();
        let entries = self
            .store()
            .scan(Space::UserGrant, &schema::user(user), USER_SCAN_LIMIT)
            .await?;
        for (key, _) in entries {
            let Some(family) = schema::family_of_key(&key) else {
                continue;
            };
            if let Some(grant) = self.grant(&family).await? {
                out.push((family, grant));
            }
        }
        Ok(out)
    }

    /// True while the grant `family` still holds a token.
    pub async fn has_tokens(&self, family: &FamilyId) -> Result<bool, StoreError> {
        let live = self
            .store()
            .scan(Space::Family, &schema::family(family), 1)
            .await?;
        Ok(!live.is_empty())
    }

    /// Revokes every grant `user` gave `client_id`, with all their tokens; returns how many tokens.
    pub async fn revoke_user_app(&self, user: &str, client_id: &str) -> Result<usize, StoreError> {
        let mut n = 0;
        for (family, grant) in self.grants_of(user).await? {
            if grant.client_id == client_id {
                n += self.revoke_family(&family).await?;
            }
        }
        Ok(n)
    }
}
