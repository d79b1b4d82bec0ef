//! "Connected applications": what every signed-in user may see and do about the apps that act
//! as them: service accounts bound to them, and apps they authorized that still hold tokens.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::view::{app_json, settings_json};
use super::{ApiError, ApiRequest, ApiResult, Caller, method_not_allowed};
use crate::gateway::Gateway;
use crate::registry::{App, ClientType};
use crate::response::Response;

fn bound_to<'a>(app: &'a App, user: &str) -> Option<&'a App> {
    (app.client_type == ClientType::ServiceAccount && app.user.as_deref() == Some(user))
        .then_some(app)
}

fn may_manage_secret(gw: &Gateway, caller: &Caller) -> bool {
    caller.user.admin || gw.directory.registry().settings.users_can_manage_secrets
}

/// `me/apps...`.
pub async fn route(
    gw: &Gateway,
    req: &ApiRequest<'_>,
    caller: &Caller,
    rest: &[&str],
) -> ApiResult {
    match (req.method, rest) {
        ("GET", ["apps"]) => list(gw, caller).await,
        ("POST", ["apps", id, "revoke"]) => {
            let version = gw.directory.check_version(req.if_match).await?;
            revoke(gw, caller, id)
                .await
                .map(|r| r.header("ETag", format!("\"{version}\"")))
        }
        ("POST", ["apps", id, "secret"]) => {
            let reg = gw.directory.registry_full();
            let bound = reg.app(id).and_then(|a| bound_to(a, &caller.user.username));
            if bound.is_none() {
                return Err(ApiError::not_found());
            }
            if !may_manage_secret(gw, caller) {
                return Err(ApiError::new(
                    403,
                    "forbidden",
                    "users may not change secrets here",
                ));
            }
            super::apps::new_credentials(gw, req, caller, id).await
        }
        (_, ["apps", ..]) => Err(method_not_allowed()),
        _ => Err(ApiError::new(404, "not_found", "no such API route")),
    }
}

/// Live grants of the caller by client: (grants, first authorized at, scope).
async fn authorized(
    gw: &Gateway,
    user: &str,
) -> Result<BTreeMap<String, (u64, u64, String)>, ApiError> {
    let mut by_client: BTreeMap<String, (u64, u64, String)> = BTreeMap::new();
    let grants = gw.tokens.grants_of(user).await;
    for (family, grant) in grants.map_err(ApiError::unavailable)? {
        let live = gw.tokens.has_tokens(&family).await;
        if !live.map_err(ApiError::unavailable)? {
            continue;
        }
        let e = by_client
            .entry(grant.client_id.clone())
            .or_insert((0, u64::MAX, String::new()));
        e.0 += 1;
        e.1 = e.1.min(grant.created_at);
        e.2 = grant.scope.as_str().to_string();
    }
    Ok(by_client)
}

async fn list(gw: &Gateway, caller: &Caller) -> ApiResult {
    let reg = gw.directory.registry_full();
    let me = &caller.user.username;
    let show_secrets = may_manage_secret(gw, caller);
    let bound: Vec<Value> = reg
        .order
        .iter()
        .filter_map(|id| reg.app(id))
        .filter_map(|a| bound_to(a, me))
        .map(|a| {
            let mut v = app_json(gw, a);
            if show_secrets && let Some(s) = super::credentials::readable_secret(gw, a) {
                v["client_secret"] = json!(s);
            }
            v
        })
        .collect();
    let authorized: Vec<Value> = authorized(gw, me)
        .await?
        .into_iter()
        .filter_map(|(id, (grants, at, scope))| {
            let mut v = app_json(gw, reg.app(&id)?);
            v["grants"] = json!(grants);
            v["authorized_at"] = json!(at);
            v["scope"] = json!(scope);
            Some(v)
        })
        .collect();
    let user = json!({"username": me, "name": caller.user.name, "admin": caller.user.admin});
    let body = json!({
        "user": user,
        "settings": settings_json(&reg.settings),
        "bound": bound,
        "authorized": authorized,
    });
    Ok(Response::json(200, &body).header("Cache-Control", "no-store"))
}

async fn revoke(gw: &Gateway, caller: &Caller, id: &str) -> ApiResult {
    let me = &caller.user.username;
    let reg = gw.directory.registry_full();
    let revoked = if authorized(gw, me).await?.contains_key(id) {
        gw.tokens.revoke_user_app(me, id).await
    } else if reg.app(id).and_then(|a| bound_to(a, me)).is_some() {
        gw.tokens.revoke_client(id).await
    } else {
        return Err(ApiError::not_found());
    };
    let revoked = revoked.map_err(ApiError::unavailable)?;
    super::audit::record(
        &*gw.journal,
        gw.clock.now(),
        me,
        "revoke_own",
        Some(id),
        &[],
    );
    Ok(Response::json(200, &json!({"revoked": revoked})))
}
