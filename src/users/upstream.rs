//! The `upstream` users backend: the CRM itself checks passwords, as vtenext 20.04 really answers.
//!
//! - `loginpwd` trades a username and password for the user's access key: `{"status": 200,
//!   "data": ["<key>"]}`; a wrong password (or a locked or inactive user) is HTTP 500 with a
//!   `WebServiceException`. The gateway passes the browser's address in `X-Forwarded-For`, so the
//!   CRM's lock-out counter counts the real client and never locks the gateway's own address.
//! - Administrator: as the user, `describe Users` lists that module's fields only to
//!   administrators (and to profiles that may view every record); those get their own row of
//!   `SELECT user_name, is_admin FROM Users WHERE user_name = '...'`, which says `on` or `off`.
//!   Everyone else is not an administrator: the CRM denies them the `is_admin` field.
//! - Groups: the CRM's REST API cannot read group membership (any query of `Groups` ends in a PHP
//!   fatal error, for administrators too), so users the CRM vouches for are in no group; apps
//!   restricted to groups admit them by name (`authorized_users`).
//!
//! Successful checks are cached briefly (keyed by a keyed hash of the credentials); failures
//! are never cached.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use serde_json::{Value, json};

use super::User;
use crate::config::UpstreamConfig;
use crate::keys::{Digest, KeyedHash};

/// The query whose one row says whether the user is an administrator (`is_admin` = `on`).
pub const ADMIN_QUERY: &str = "SELECT user_name, is_admin FROM Users WHERE user_name = '{user}';";

/// Why the CRM could not answer.
#[derive(Debug, thiserror::Error)]
#[error("CRM users backend: {0}")]
pub struct UpstreamError(String);

/// What the CRM said to one vtews call.
enum Answer {
    /// `status: 200` and its `data`.
    Data(Value),
    /// The CRM refused the caller or the credentials (401/403, or a vtews exception).
    Refused,
}

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
        crate::crypto::use_ring();
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

    /// The user, when the CRM accepts `password`; `Ok(None)` when it does not. `client` is the
    /// address the attempt came from, for the CRM's lock-out counter.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<Option<Arc<User>>, UpstreamError> {
        if !super::valid_username(username) {
            return Ok(None);
        }
        let key = self
            .hasher
            .hash(format!("{username}\0{password}").as_bytes());
        if let Some(user) = self.logins.get(&key) {
            return Ok(Some(user));
        }
        let body = json!({"username": username, "password": password});
        let data = match self.call("loginpwd", None, client, &body).await? {
            Answer::Data(d) => d,
            Answer::Refused => return Ok(None),
        };
        let access_key = data[0]
            .as_str()
            .or_else(|| data["accesskey"].as_str())
            .ok_or_else(|| UpstreamError("loginpwd answered no access key".into()))?;
        let Some(user) = self.profile(username, access_key).await? else {
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
        let Some(admin) = self.is_admin(username, access_key).await? else {
            return Ok(None);
        };
        let user = Arc::new(User {
            username: username.to_string(),
            name: username.to_string(),
            password_hash: None,
            admin,
            groups: Vec::new(),
            crm_access_key: Some(access_key.to_string()),
        });
        self.profiles.insert(username.to_string(), user.clone());
        Ok(Some(user))
    }

    /// Whether the user is an administrator; `None` when the CRM refuses the key.
    async fn is_admin(&self, username: &str, key: &str) -> Result<Option<bool>, UpstreamError> {
        let auth = Some((username, key));
        let describe = json!({"elementType": "Users"});
        let fields = match self.call("describe", auth, None, &describe).await? {
            Answer::Data(d) => d["fields"].as_array().cloned().unwrap_or_default(),
            Answer::Refused => return Ok(None),
        };
        if !fields.iter().any(|f| f["name"] == "is_admin") {
            return Ok(Some(false));
        }
        let query = json!({"query": ADMIN_QUERY.replace("{user}", username)});
        match self.call("query", auth, None, &query).await? {
            Answer::Data(rows) => Ok(Some(rows[0]["is_admin"] == "on")),
            Answer::Refused => Err(UpstreamError(
                "the CRM listed is_admin but refused to read it".into(),
            )),
        }
    }

    /// The profile read at the user's last login or refresh, while it is fresh.
    pub fn known(&self, username: &str) -> Option<Arc<User>> {
        self.profiles.get(username)
    }

    /// One vtews call, as `auth` when given, for a client at `client` when given.
    async fn call(
        &self,
        op: &str,
        auth: Option<(&str, &str)>,
        client: Option<IpAddr>,
        body: &Value,
    ) -> Result<Answer, UpstreamError> {
        let mut req = self.http.post(format!("{}/{op}", self.base)).json(body);
        if let Some((user, key)) = auth {
            req = req.basic_auth(user, Some(key));
        }
        if let Some(ip) = client {
            req = req.header("X-Forwarded-For", ip.to_string());
        }
        let resp = req.send().await.map_err(|e| UpstreamError(e.to_string()))?;
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        classify(op, status, &v)
    }
}

/// Reads a vtews answer: data, a refusal (HTTP 401/403, or a `WebServiceException` /
/// `InvalidLoginException`, which vtenext sends as HTTP 500), or anything else as an error.
fn classify(op: &str, status: u16, v: &Value) -> Result<Answer, UpstreamError> {
    if status == 200 && v["status"] == 200 {
        return Ok(Answer::Data(v["data"].clone()));
    }
    let class = v["error"].as_str().unwrap_or_default();
    if matches!(status, 401 | 403) || class.ends_with("Exception") {
        return Ok(Answer::Refused);
    }
    Err(UpstreamError(format!("{op} answered HTTP {status}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vtenext_answers() {
        let ok = json!({"status": 200, "data": ["B9gVd6yeLXyTT41f"]});
        assert!(
            matches!(classify("loginpwd", 200, &ok), Ok(Answer::Data(d)) if d[0] == "B9gVd6yeLXyTT41f")
        );
        let wrong = json!({"status": 500, "error": "WebServiceException", "message": "Invalid username or password"});
        assert!(matches!(
            classify("loginpwd", 500, &wrong),
            Ok(Answer::Refused)
        ));
        let key = json!({"status": 401, "error": "InvalidLoginException", "message": "Authentication failed"});
        assert!(matches!(
            classify("describe", 401, &key),
            Ok(Answer::Refused)
        ));
        let fatal = json!({"status": 500, "success": false, "error": 0, "message": "Call to undefined method"});
        assert!(classify("query", 500, &fatal).is_err());
        assert!(classify("query", 502, &Value::Null).is_err());
        let odd = json!({"status": 500, "data": []});
        assert!(classify("query", 200, &odd).is_err());
    }
}
