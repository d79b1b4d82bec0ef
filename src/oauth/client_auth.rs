//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3):
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523) and `none` for
//! public clients. Exactly one method per request; each app only by its registered method.

use std::net::IpAddr;
use std::sync::Arc;

use super::OAuthRequest;
use super::assertion::{self, ASSERTION_TYPE};
use super::error::{ErrorCode, OAuthError};
use super::form::{self, BasicCredentials, Form};
use crate::config::Limits;
use crate::gateway::Gateway;
use crate::keys::Digest;
use crate::login::throttle::{self, Refused, Throttle};
use crate::registry::{App, ClientAuth, Registry};
use crate::store::ephemeral::Ephemeral;

/// The credentials a request presents.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// HTTP Basic.
    Basic(BasicCredentials),
    /// `client_id` + `client_secret` in the body.
    Post {
        /// Client id.
        client_id: String,
        /// Secret.
        secret: String,
    },
    /// A signed JWT.
    Assertion {
        /// The compact JWS.
        assertion: String,
        /// `client_id` from the body, if sent.
        client_id: Option<String>,
    },
    /// A public client naming itself.
    Public {
        /// Client id.
        client_id: String,
    },
}

impl Credentials {
    /// The client id the credentials claim, when they name one.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Credentials::Basic(c) => Some(&c.client_id),
            Credentials::Post { client_id, .. } | Credentials::Public { client_id } => {
                Some(client_id)
            }
            Credentials::Assertion { client_id, .. } => client_id.as_deref(),
        }
    }
}

/// Picks the one authentication method a request uses.
pub fn credentials(req: &OAuthRequest<'_>, form: &Form) -> Result<Credentials, OAuthError> {
    if req.authorization.len() > 1 {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let basic = match req.authorization.first() {
        None => None,
        Some(h) => match form::basic_credentials(h) {
            Some(Ok(c)) => Some(c),
            Some(Err(why)) => {
                let mut e = OAuthError::invalid_client(why);
                e.basic_challenge = true;
                return Err(e);
            }
            None => {
                return Err(OAuthError::invalid_request(
                    "unsupported Authorization scheme",
                ));
            }
        },
    };
    let has_secret = form.has("client_secret");
    let has_assertion = form.has("client_assertion") || form.has("client_assertion_type");
    let methods =
        usize::from(basic.is_some()) + usize::from(has_secret) + usize::from(has_assertion);
    if methods > 1 {
        return Err(OAuthError::invalid_request(
            "more than one client authentication method",
        ));
    }
    let client_id = form.get("client_id").map(str::to_string);
    if let Some(c) = basic {
        if client_id.as_ref().is_some_and(|id| *id != c.client_id) {
            return Err(OAuthError::invalid_request(
                "client_id differs from the Basic credentials",
            ));
        }
        return Ok(Credentials::Basic(c));
    }
    if has_assertion {
        return assertion_credentials(form, client_id);
    }
    match (client_id, form.get("client_secret")) {
        (Some(client_id), Some(secret)) => Ok(Credentials::Post {
            client_id,
            secret: secret.to_string(),
        }),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "client_secret without client_id",
        )),
        (Some(client_id), None) => Ok(Credentials::Public { client_id }),
        (None, None) => {
            let mut e = OAuthError::invalid_client("no client authentication");
            e.basic_challenge = true;
            Err(e)
        }
    }
}

fn assertion_credentials(
    form: &Form,
    client_id: Option<String>,
) -> Result<Credentials, OAuthError> {
    if form.get("client_assertion_type") != Some(ASSERTION_TYPE) {
        return Err(OAuthError::invalid_client(
            "missing or unsupported client_assertion_type",
        ));
    }
    let Some(assertion) = form.get("client_assertion") else {
        return Err(OAuthError::invalid_request("client_assertion is missing"));
    };
    Ok(Credentials::Assertion {
        assertion: assertion.to_string(),
        client_id,
    })
}

/// Failed client authentications by client id and address, shared by the token, revocation and
/// introspection endpoints.
pub struct ClientThrottle(Throttle);

impl ClientThrottle {
    /// Counters per `limits.client_*`, kept in `store`.
    pub fn new(limits: &Limits, store: Arc<dyn Ephemeral>) -> Self {
        Self(Throttle::new(
            store,
            throttle::CLIENTS,
            limits.client_failures_per_client,
            limits.client_failures_per_ip,
            std::time::Duration::from_secs(limits.client_throttle_seconds),
        ))
    }
}

/// Verifies the credentials; returns the app they belong to, enabled or not (each caller
/// decides what a disabled app may still do). Failures are throttled: an address with too many
/// recent failures is refused before checking, and a client id with too many gets 429 instead
/// of 401, so guessing slows down while the real client (with the right secret) still gets in.
pub async fn authenticate(
    gw: &Gateway,
    throttle: &ClientThrottle,
    creds: Credentials,
    peer: Option<IpAddr>,
) -> Result<Arc<App>, OAuthError> {
    let client_id = creds.client_id().map(str::to_string).unwrap_or_default();
    throttle.0.check_ip(peer).await.map_err(throttled)?;
    let result = verify(gw, creds).await;
    if let Err(e) = &result
        && e.code == ErrorCode::InvalidClient
    {
        throttle.0.failed(&client_id, peer).await;
        throttle
            .0
            .check_name(Some(&client_id))
            .await
            .map_err(throttled)?;
    }
    result
}

/// A request about one token (revocation, introspection): the checked form, its authenticated
/// client (enabled or not) and the `token` it names.
pub async fn token_request(
    gw: &Gateway,
    throttle: &ClientThrottle,
    req: &OAuthRequest<'_>,
) -> Result<(Arc<App>, String), OAuthError> {
    let form = super::read_form(req)?;
    let creds = credentials(req, &form)?;
    let app = authenticate(gw, throttle, creds, req.peer).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    Ok((app, token.to_string()))
}

fn throttled(refused: Refused) -> OAuthError {
    match refused {
        Refused::Wait(wait) => OAuthError::new(
            ErrorCode::InvalidClient,
            "too many failed authentications; retry later",
        )
        .status(429)
        .retry_after(wait),
        Refused::Unavailable(e) => OAuthError::store(e),
    }
}

async fn verify(gw: &Gateway, creds: Credentials) -> Result<Arc<App>, OAuthError> {
    let reg = gw.directory.registry_full();
    match creds {
        Credentials::Basic(c) => check_secret(gw, &reg, &c.client_id, &c.secret)
            .or_else(|_| check_secret(gw, &reg, &c.client_id, &c.raw_secret)),
        Credentials::Post { client_id, secret } => check_secret(gw, &reg, &client_id, &secret),
        Credentials::Assertion {
            assertion,
            client_id,
        } => verify_assertion(gw, &reg, &assertion, client_id.as_deref()).await,
        Credentials::Public { client_id } => match reg.app(&client_id) {
            Some(app) if matches!(app.auth, ClientAuth::Public) => Ok(app.clone()),
            Some(_) => Err(OAuthError::invalid_client(
                "confidential client sent no credentials",
            )),
            None => Err(OAuthError::invalid_client("unknown client")),
        },
    }
}

/// The error for a disabled client that authenticated correctly.
pub fn disabled(app: &App) -> OAuthError {
    OAuthError::invalid_client(format!("client {} is disabled", app.client_id))
}

fn check_secret(
    gw: &Gateway,
    reg: &Registry,
    id: &str,
    secret: &str,
) -> Result<Arc<App>, OAuthError> {
    let presented = gw.keys.secrets.hash(secret.as_bytes());
    let app = reg.app(id);
    let expected = match app.map(|a| &a.auth) {
        Some(ClientAuth::Secret(d)) => *d,
        _ => Digest([0; 32]),
    };
    let matches = presented.ct_eq(&expected);
    match app {
        Some(app) if matches && matches!(app.auth, ClientAuth::Secret(_)) => Ok(app.clone()),
        Some(app) if !matches!(app.auth, ClientAuth::Secret(_)) => Err(OAuthError::invalid_client(
            format!("client {id} is not registered for secret authentication"),
        )),
        Some(_) => Err(OAuthError::invalid_client(format!(
            "wrong secret for client {id}"
        ))),
        None => Err(OAuthError::invalid_client("unknown client")),
    }
}

async fn verify_assertion(
    gw: &Gateway,
    reg: &Registry,
    jwt: &str,
    client_id: Option<&str>,
) -> Result<Arc<App>, OAuthError> {
    let issuer_slash = format!("{}/", gw.endpoints.issuer);
    let audiences = [
        gw.endpoints.token.as_str(),
        &gw.endpoints.issuer,
        &issuer_slash,
    ];
    let rules = assertion::Rules {
        audiences: &audiences,
        now: gw.clock.now(),
        max_lifetime: gw.config.tokens.assertion_max_lifetime,
        skew: gw.config.tokens.clock_skew,
        max_bytes: gw.config.limits.assertion_bytes,
    };
    let verified = assertion::verify(jwt, reg, &rules).map_err(OAuthError::invalid_client)?;
    if client_id.is_some_and(|id| id != verified.app.client_id) {
        return Err(OAuthError::invalid_client(
            "client_id differs from the assertion issuer",
        ));
    }
    let once = format!("{}\0{}", verified.app.client_id, verified.jti);
    let id = gw.keys.jti.hash(once.as_bytes());
    let fresh = gw
        .tokens
        .claim_once(&id, verified.expires_at)
        .await
        .map_err(OAuthError::store)?;
    if !fresh {
        return Err(OAuthError::invalid_client("assertion jti was already used"));
    }
    Ok(verified.app)
}
