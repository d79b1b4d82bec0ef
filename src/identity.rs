//! Which user a login, a code, a grant or a token stands for, answered in one place: the users
//! file first; with the `upstream` users backend, the CRM's answer at login and at each refresh,
//! and for tokens the [`UserSnapshot`] their grant keeps (with the user's access key, sealed in
//! the store and cached here once opened).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::access::UserSource;
use crate::keys::Sealer;
use crate::registry::App;
use crate::registry::live::Directory;
use crate::token::codes::CodeRecord;
use crate::token::grants::GrantRecord;
use crate::token::record::{FamilyId, TokenRecord, UserSnapshot};
use crate::token::service::TokenService;
use crate::users::upstream::UpstreamUsers;
use crate::users::{User, Users};

/// Most grant users kept opened, and for how long.
const GRANT_USERS: u64 = 100_000;
const GRANT_USER_TTL: Duration = Duration::from_secs(60);

/// Dummy hash checked for unknown usernames, so they take as long as known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$qGsYk+Jk6/sOxoFAvjvTeg$iWpr4hZbqI8ZGwKcOlclBxvLvN3QuYd6sUzdEeNEsFI";

/// Why the user of a grant cannot be used any more.
#[derive(Debug)]
pub enum Gone {
    /// The user, their grant or their access key no longer exists (a sentence for the log).
    Ended(&'static str),
    /// The CRM could not be asked now.
    Unavailable(String),
}

/// The identity service: users by name, password checks, and the users behind codes, grants and
/// tokens.
pub struct Identity {
    directory: Arc<Directory>,
    upstream: Option<UpstreamUsers>,
    sealer: Sealer,
    grant_users: moka::sync::Cache<FamilyId, Arc<User>>,
}

/// Users as tokens see them (see [`Identity::token_users`]): the users file, and the user the
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

impl Identity {
    /// The service over the users file of `directory` and, with the upstream backend, the CRM.
    pub fn new(directory: Arc<Directory>, upstream: Option<UpstreamUsers>, sealer: Sealer) -> Self {
        let grant_users = moka::sync::Cache::builder()
            .max_capacity(GRANT_USERS)
            .time_to_live(GRANT_USER_TTL)
            .build();
        Self {
            directory,
            upstream,
            sealer,
            grant_users,
        }
    }

    /// True with the `upstream` users backend.
    pub fn crm_vouches(&self) -> bool {
        self.upstream.is_some()
    }

    /// A user by name for logins, consent and codes.
    pub fn user_named(&self, name: &str) -> Option<Arc<User>> {
        let local = self.directory.users().get(name).cloned();
        local.or_else(|| self.upstream.as_ref()?.known(name))
    }

    /// The CRM user a service account is bound to; only the users file can name one (a service
    /// account has no login at which the CRM could vouch for its user).
    pub fn bound_user(&self, app: &App) -> Option<Arc<User>> {
        let name = app.user.as_deref()?;
        self.directory.users().get(name).cloned()
    }

    /// True when `name` is not in the users file (the CRM vouches for them).
    pub fn is_upstream_user(&self, name: &str) -> bool {
        self.upstream.is_some() && self.directory.users().get(name).is_none()
    }

    /// Whether `password` is the user's: argon2id against the users file, else the CRM (upstream
    /// backend, told the `client` address). Unknown names cost as much time as known ones.
    pub async fn check_password(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<bool, String> {
        if let Some(user) = self.directory.users().get(username).cloned() {
            return Ok(password_matches(user.password_hash.clone(), password).await);
        }
        if let Some(upstream) = &self.upstream {
            return upstream
                .login(username, password, client)
                .await
                .map(|u| u.is_some())
                .map_err(|e| e.to_string());
        }
        let _ = password_matches(Some(DUMMY_HASH.to_string()), password).await;
        Ok(false)
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
    pub async fn grant_user_of(
        &self,
        tokens: &TokenService,
        rec: &TokenRecord,
    ) -> Option<Arc<User>> {
        let (Some(name), Some(family)) = (&rec.user, &rec.family) else {
            return None;
        };
        if self.directory.users().get(name).is_some() {
            return None;
        }
        self.upstream.as_ref()?;
        if let Some(u) = self.grant_users.get(family) {
            return Some(u);
        }
        let grant = tokens.grant(family).await.ok()??;
        let user = self.user_of_grant(&grant)?;
        self.grant_users.insert(*family, user.clone());
        Some(user)
    }

    /// What a code keeps of `user`: for users the CRM vouches for, their access key sealed and
    /// what the CRM said of them.
    pub fn snapshot(&self, user: &User) -> UserSnapshot {
        let sealed_key = self
            .is_upstream_user(&user.username)
            .then_some(user.crm_access_key.as_ref())
            .flatten()
            .map(|key| self.sealer.seal(key.as_bytes(), user.username.as_bytes()));
        UserSnapshot {
            sealed_key,
            admin: user.admin,
            groups: user.groups.clone(),
        }
    }

    /// What a refresh keeps of a fresh look at a CRM user: the administrator flag and groups (the
    /// grant keeps its sealed key); `None` for users of the users file, whom the file describes.
    pub fn refreshed_profile(&self, user: &User) -> Option<UserSnapshot> {
        self.is_upstream_user(&user.username).then(|| UserSnapshot {
            sealed_key: None,
            admin: user.admin,
            groups: user.groups.clone(),
        })
    }

    /// The user a code was issued for, as the users file says now or, for CRM users, as the code
    /// remembers them; `None` when they are gone.
    pub fn user_of_code(&self, rec: &CodeRecord) -> Option<User> {
        let user = match self.directory.users().get(&rec.user) {
            Some(local) => (**local).clone(),
            None if rec.profile.sealed_key.is_some() => User {
                admin: rec.profile.admin,
                groups: rec.profile.groups.clone(),
                ..User::dummy("")
            },
            None => return None,
        };
        Some(User {
            username: rec.user.clone(),
            ..user
        })
    }

    /// The user as they are now, for a refresh: the users file, or for CRM users a fresh look at
    /// the CRM with the access key their grant keeps (a key the CRM no longer accepts ends the
    /// grant).
    pub async fn current_user(
        &self,
        tokens: &TokenService,
        user: &str,
        family: Option<&FamilyId>,
    ) -> Result<Arc<User>, Gone> {
        if let Some(local) = self.directory.users().get(user) {
            return Ok(local.clone());
        }
        let (Some(upstream), Some(family)) = (&self.upstream, family) else {
            return Err(Gone::Ended("the user no longer exists"));
        };
        let grant = tokens
            .grant(family)
            .await
            .map_err(|e| Gone::Unavailable(e.to_string()))?;
        let Some(known) = grant.as_ref().and_then(|g| self.user_of_grant(g)) else {
            return Err(Gone::Ended("the grant was revoked"));
        };
        let key = known.crm_access_key.clone().unwrap_or_default();
        match upstream.profile(user, &key).await {
            Ok(Some(fresh)) => Ok(fresh),
            Ok(None) => Err(Gone::Ended(
                "the CRM no longer accepts the user's access key",
            )),
            Err(e) => Err(Gone::Unavailable(e.to_string())),
        }
    }

    /// The user a grant's snapshot describes, with the access key unsealed.
    fn user_of_grant(&self, grant: &GrantRecord) -> Option<Arc<User>> {
        let sealed = grant.profile.sealed_key.as_ref()?;
        let key = self.sealer.open(sealed, grant.user.as_bytes())?;
        Some(Arc::new(User {
            username: grant.user.clone(),
            name: grant.user.clone(),
            password_hash: None,
            admin: grant.profile.admin,
            groups: grant.profile.groups.clone(),
            crm_access_key: Some(String::from_utf8(key).ok()?),
        }))
    }
}

/// Checks `password` against an argon2id hash off the async workers (it is slow on purpose).
/// Users without a hash cannot log in.
async fn password_matches(hash: Option<String>, password: &str) -> bool {
    let Some(hash) = hash else {
        return false;
    };
    let password = password.to_string();
    tokio::task::spawn_blocking(move || crate::generate::verify_password(&hash, &password))
        .await
        .unwrap_or(false)
}
