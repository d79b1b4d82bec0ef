//! What a token may do right now: the token record resolved against the current registry, users
//! and global switches, so disabling an app or changing its scope acts on tokens already issued.

use std::sync::Arc;

use crate::registry::{App, ClientType, Registry};
use crate::token::record::{FamilyId, TokenRecord};
use crate::token::scope::Scope;
use crate::users::{User, Users};

/// Why a stored token no longer grants anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// `oauth_enabled = false`.
    OAuthDisabled,
    /// The app was deleted.
    UnknownApp,
    /// The app is disabled.
    AppDisabled,
    /// The token names no user and the app binds none.
    NoUser,
    /// The user is not in the directory.
    UnknownUser,
    /// The user is an admin and `allow_admin_users = false`.
    AdminUser,
    /// The user is no longer among the app's authorized users or groups.
    UserNotAuthorized,
}

impl Denied {
    /// A short reason for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Denied::OAuthDisabled => "oauth disabled",
            Denied::UnknownApp => "app deleted",
            Denied::AppDisabled => "app disabled",
            Denied::NoUser => "no user",
            Denied::UnknownUser => "user unknown",
            Denied::AdminUser => "admin user not allowed",
            Denied::UserNotAuthorized => "user not authorized for app",
        }
    }
}

/// A live token: the app, the user it acts as and the scope it has now.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The client.
    pub app: Arc<App>,
    /// The CRM user.
    pub user: Arc<User>,
    /// The effective scope.
    pub scope: Scope,
}

/// Finds the user a token or a login names.
pub trait UserSource {
    /// The user `name`; `family` is the token's grant, for users that only the grant knows.
    fn user(&self, name: &str, family: Option<&FamilyId>) -> Option<Arc<User>>;
}

impl UserSource for Users {
    fn user(&self, name: &str, _family: Option<&FamilyId>) -> Option<Arc<User>> {
        self.get(name).cloned()
    }
}

/// Resolves `rec` against the current state.
pub fn resolve(rec: &TokenRecord, reg: &Registry, users: &dyn UserSource) -> Result<Grant, Denied> {
    if !reg.settings.oauth_enabled {
        return Err(Denied::OAuthDisabled);
    }
    let app = reg.app(&rec.client_id).ok_or(Denied::UnknownApp)?;
    if !app.enabled {
        return Err(Denied::AppDisabled);
    }
    let username = match (&rec.user, app.client_type) {
        (Some(u), _) => u.as_str(),
        (None, ClientType::ServiceAccount) => app.user.as_deref().ok_or(Denied::NoUser)?,
        (None, _) => return Err(Denied::NoUser),
    };
    let user = users
        .user(username, rec.family.as_ref())
        .ok_or(Denied::UnknownUser)?;
    user_allowed(app, &user, reg, rec.user.is_some())?;
    let scope = rec.scope.map_or(app.scope, |s| s.intersect(app.scope));
    Ok(Grant {
        app: app.clone(),
        user,
        scope,
    })
}

/// Whether the app may act as `user` now: admins only while allowed, and (for users who
/// authorized the app themselves) only listed users or members of listed groups.
pub fn user_allowed(
    app: &App,
    user: &User,
    reg: &Registry,
    check_authorized: bool,
) -> Result<(), Denied> {
    if user.admin && !reg.settings.allow_admin_users {
        return Err(Denied::AdminUser);
    }
    if check_authorized && !app.all_users {
        let listed = app.authorized_users.contains(&user.username);
        let in_group = user
            .groups
            .iter()
            .any(|g| app.authorized_groups.iter().any(|a| a == g));
        if !listed && !in_group {
            return Err(Denied::UserNotAuthorized);
        }
    }
    Ok(())
}
