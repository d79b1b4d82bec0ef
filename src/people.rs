//! Who a login, a code or a token stands for: the users file first; with the `upstream` users
//! backend, the CRM's answer at login, and for tokens the snapshot their grant keeps (with the
//! user's access key, sealed in the store and cached here once opened).

use std::sync::Arc;

use crate::access::UserSource;
use crate::gateway::Gateway;
use crate::token::grants::GrantRecord;
use crate::token::record::{FamilyId, TokenRecord};
use crate::users::{User, Users};

/// Users as tokens see them (see [`Gateway::token_users`]): the users file, and the user the
/// token's grant describes (read from the store beforehand).
pub struct TokenUsers<'a> {
    local: &'a Users,
    from_grant: Option<Arc<User>>,
}

impl UserSource for TokenUsers<'_> {
    fn user(&self, name: &str, family: Option<&FamilyId>) -> Option<Arc<User>> {
        if let Some(u) = self.local.get(name) {
            return Some(u.clone());
        }
        family?;
        self.from_grant.clone().filter(|u| u.username == name)
    }
}

impl Gateway {
    /// A user by name for logins, consent and codes.
    pub fn user_named(&self, name: &str) -> Option<Arc<User>> {
        let local = self.directory.users().get(name).cloned();
        local.or_else(|| self.upstream.as_ref()?.known(name))
    }

    /// True when `name` is not in the users file (the CRM vouches for them).
    pub fn is_upstream_user(&self, name: &str) -> bool {
        self.upstream.is_some() && self.directory.users().get(name).is_none()
    }

    /// The user source for resolving a token over the current users file; `from_grant` is
    /// [`Self::grant_user_of`] the token.
    pub fn token_users<'a>(
        &self,
        local: &'a Users,
        from_grant: Option<Arc<User>>,
    ) -> TokenUsers<'a> {
        TokenUsers { local, from_grant }
    }

    /// The user `rec`'s grant describes, for users the users file does not list.
    pub async fn grant_user_of(&self, rec: &TokenRecord) -> Option<Arc<User>> {
        let (Some(name), Some(family)) = (&rec.user, &rec.family) else {
            return None;
        };
        if self.directory.users().get(name).is_some() {
            return None;
        }
        self.grant_user(family).await
    }

    /// The user of an upstream grant, from the cache or opened from the store.
    async fn grant_user(&self, family: &FamilyId) -> Option<Arc<User>> {
        self.upstream.as_ref()?;
        if let Some(u) = self.grant_users.get(family) {
            return Some(u);
        }
        let grant = self.tokens.grant(family).await.ok()??;
        let user = self.user_from_grant(&grant)?;
        self.grant_users.insert(*family, user.clone());
        Some(user)
    }

    /// The user a grant's snapshot describes, with the access key unsealed.
    pub fn user_from_grant(&self, grant: &GrantRecord) -> Option<Arc<User>> {
        let sealed = grant.sealed_key.as_ref()?;
        let key = self.keys.sealer.open(sealed, grant.user.as_bytes())?;
        Some(Arc::new(User {
            username: grant.user.clone(),
            name: grant.user.clone(),
            password_hash: None,
            admin: grant.admin,
            groups: grant.groups.clone(),
            crm_access_key: Some(String::from_utf8(key).ok()?),
        }))
    }

    /// The user's access key sealed for the store, for users the CRM vouches for.
    pub fn seal_access_key(&self, user: &User) -> Option<Vec<u8>> {
        if !self.is_upstream_user(&user.username) {
            return None;
        }
        let key = user.crm_access_key.as_ref()?;
        Some(
            self.keys
                .sealer
                .seal(key.as_bytes(), user.username.as_bytes()),
        )
    }
}
