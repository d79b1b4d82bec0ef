//! The `upstream` users backend: the CRM itself checks passwords. `loginpwd` trades a username
//! and password for the user's access key; then, as that user, the gateway reads whether they are
//! an administrator and which groups they are in. Successful checks are cached briefly (keyed by
//! a keyed hash of the credentials); failures are never cached.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use serde_json::{Value, json};

use super::User;
use crate::config::UpstreamConfig;
use crate::keys::{Digest, KeyedHash};

/// The query that tells whether the user is an administrator (`is_admin` = `on`).
pub const ADMIN_QUERY: &str = "SELECT user_name, is_admin FROM Users WHERE user_name = '{user}';";
/// The query whose rows' `groupname` are the user's groups.
pub const GROUPS_QUERY: &str = "SELECT groupname FROM Groups;";

/// Why the CRM could not answer.
#[derive(Debug, thiserror::Error)]
#[error("CRM users backend: {0}")]
pub struct UpstreamError(String);

/// Users as the CRM knows them.
pub struct UpstreamUsers {
    http: reqwest::Client,
    base: String,
    logins: Cache<Digest, Arc<User>>,
    profiles: Cache<String, Arc<User>>,
    hasher: KeyedHash,
}

impl UpstreamUsers {
    /// A backend asking the CRM of `upstream`; logins are cached for `login_cache`.
    pub fn new(
        upstream: &UpstreamConfig,
        hasher: KeyedHash,
        login_cache: Duration,
        profile_ttl: Duration,
    ) -> Result<Self, UpstreamError> {
        let scheme = if upstream.tls { "https" } else { "http" };
        let http = reqwest::Client::builder()
            .connect_timeout(upstream.connect_timeout)
            .timeout(upstream.read_timeout)
            .build()
            .map_err(|e| UpstreamError(e.to_string()))?;
        Ok(Self {
            http,
            base: format!("{scheme}://{}/restapi/v1/vtews", upstream.address),
            logins: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(login_cache)
                .build(),
            profiles: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(profile_ttl)
                .build(),
            hasher,
        })
    }

    /// The user, when the CRM accepts `password`; `Ok(None)` when it does not.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Arc<User>>, UpstreamError> {
        let key = self
            .hasher
            .hash(format!("{username}\0{password}").as_bytes());
        if let Some(user) = self.logins.get(&key) {
            return Ok(Some(user));
        }
        let body = json!({"username": username, "password": password});
        let answer = self.call("loginpwd", None, &body).await?;
        let Some(access_key) = answer.and_then(|d| d["accesskey"].as_str().map(str::to_string))
        else {
            return Ok(None);
        };
        let Some(user) = self.profile(username, &access_key).await? else {
            return Ok(None);
        };
        self.logins.insert(key, user.clone());
        Ok(Some(user))
    }

    /// The user as the CRM sees them with `access_key`; `Ok(None)` when the key is refused.
    pub async fn profile(
        &self,
        username: &str,
        access_key: &str,
    ) -> Result<Option<Arc<User>>, UpstreamError> {
        let auth = Some((username, access_key));
        let query = json!({"query": ADMIN_QUERY.replace("{user}", username)});
        let Some(me) = self.call("query", auth, &query).await? else {
            return Ok(None);
        };
        let admin = me[0]["is_admin"]
            .as_str()
            .is_some_and(|v| v == "on" || v == "1");
        let groups = self
            .call("query", auth, &json!({"query": GROUPS_QUERY}))
            .await?
            .and_then(|d| d.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|g| g["groupname"].as_str().map(str::to_string))
            .collect();
        let user = Arc::new(User {
            username: username.to_string(),
            name: username.to_string(),
            password_hash: None,
            admin,
            groups,
            crm_access_key: Some(access_key.to_string()),
        });
        self.profiles.insert(username.to_string(), user.clone());
        Ok(Some(user))
    }

    /// The profile read at the user's last login or refresh, while it is fresh.
    pub fn known(&self, username: &str) -> Option<Arc<User>> {
        self.profiles.get(username)
    }

    /// `data` of a vtews call, `None` when the CRM refused it (401/403 or a non-200 status).
    async fn call(
        &self,
        op: &str,
        auth: Option<(&str, &str)>,
        body: &Value,
    ) -> Result<Option<Value>, UpstreamError> {
        let mut req = self.http.post(format!("{}/{op}", self.base)).json(body);
        if let Some((user, key)) = auth {
            req = req.basic_auth(user, Some(key));
        }
        let resp = req.send().await.map_err(|e| UpstreamError(e.to_string()))?;
        let status = resp.status().as_u16();
        if matches!(status, 401 | 403) {
            return Ok(None);
        }
        if status != 200 {
            return Err(UpstreamError(format!("{op} answered HTTP {status}")));
        }
        let v: Value = resp
            .json()
            .await
            .map_err(|e| UpstreamError(e.to_string()))?;
        Ok((v["status"] == 200).then(|| v["data"].clone()))
    }
}
