//! Who a login, a code or a token stands for: the users file first; with the `upstream` users
//! backend, the CRM's answer at login, and for tokens the snapshot their grant keeps (with the
//! user's access key, sealed in the store and cached here once opened).

use std::sync::Arc;

use crate::access::UserSource;
use crate::gateway::Gateway;
use crate::token::grants::GrantRecord;
use crate::token::record::FamilyId;
use crate::users::{User, Users};

/// Users as tokens see them (see [`Gateway::token_users`]).
pub struct TokenUsers<'a> {
    gw: &'a Gateway,
    local: &'a Users,
}

impl UserSource for TokenUsers<'_> {
    fn user(&self, name: &str, family: Option<&FamilyId>) -> Option<Arc<User>> {
        if let Some(u) = self.local.get(name) {
            return Some(u.clone());
        }
        let family = family?;
        self.gw.upstream.as_ref()?;
        if let Some(u) = self.gw.grant_users.get(family) {
            return Some(u);
        }
        let grant = self.gw.tokens.grant(family).ok()??;
        let user = self.gw.user_from_grant(&grant)?;
        self.gw.grant_users.insert(*family, user.clone());
        Some(user)
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

    /// The user source for resolving tokens, over the current users file.
    pub fn token_users<'a>(&'a self, local: &'a Users) -> TokenUsers<'a> {
        TokenUsers { gw: self, local }
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
