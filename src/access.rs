//! What a token may do right now: the token record resolved against the current registry, users
//! and global switches, so disabling an app or changing its scope acts on tokens already issued.

use std::sync::Arc;

use crate::registry::{App, ClientType, Registry};
use crate::token::record::TokenRecord;
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

/// Resolves `rec` against the current state.
pub fn resolve(rec: &TokenRecord, reg: &Registry, users: &Users) -> Result<Grant, Denied> {
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
    let user = user_allowed(app, username, reg, users, rec.user.is_some())?;
    let scope = rec.scope.map_or(app.scope, |s| s.intersect(app.scope));
    Ok(Grant {
        app: app.clone(),
        user: user.clone(),
        scope,
    })
}

/// The user `username` if the app may act as them now.
pub fn user_allowed<'u>(
    app: &App,
    username: &str,
    reg: &Registry,
    users: &'u Users,
    check_authorized: bool,
) -> Result<&'u Arc<User>, Denied> {
    let user = users.get(username).ok_or(Denied::UnknownUser)?;
    if user.admin && !reg.settings.allow_admin_users {
        return Err(Denied::AdminUser);
    }
    if check_authorized && !app.all_users {
        let listed = app.authorized_users.iter().any(|u| *u == user.username);
        let in_group = user
            .groups
            .iter()
            .any(|g| app.authorized_groups.iter().any(|a| a == g));
        if !listed && !in_group {
            return Err(Denied::UserNotAuthorized);
        }
    }
    Ok(user)
}
