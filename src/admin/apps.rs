//! Admin routes: the global settings and the applications (list, create, read, change, delete,
//! revoke all tokens, new secret or key). Every change is an edit of `apps.toml`.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::credentials::{self, NewKey};
use super::view::{app_json, settings_json};
use super::{
    ApiError, ApiRequest, ApiResult, Caller, audit, body_object, icons, method_not_allowed,
};
use crate::gateway::Gateway;
use crate::registry::edit::{IconEdit, app_table, push_app, remove_app, set_key, settings_table};
use crate::registry::{App, ClientType, icon};

/// Keys a new app may carry, in the order they are written.
const APP_KEYS: &[&str] = &[
    "client_id",
    "name",
    "description",
    "icon",
    "client_type",
    "secret_type",
    "client_secret",
    "jwt_public_key",
    "scope",
    "user",
    "redirect_uris",
    "offline_access",
    "all_users",
    "authorized_users",
    "authorized_groups",
    "enabled",
];
/// Keys a change may carry.
const PATCH_KEYS: &[&str] = &[
    "jwt_public_key",
    "name",
    "description",
    "icon",
    "icon_data",
    "scope",
    "user",
    "redirect_uris",
    "offline_access",
    "all_users",
    "authorized_users",
    "authorized_groups",
    "enabled",
];
const SETTINGS_KEYS: &[&str] = &[
    "oauth_enabled",
    "users_can_manage_secrets",
    "allow_admin_users",
];

fn audit(gw: &Gateway, caller: &Caller, action: &str, client_id: Option<&str>, keys: &[&str]) {
    audit::record(
        &*gw.journal,
        gw.clock.now(),
        &caller.user.username,
        action,
        client_id,
        keys,
    );
}

/// `GET|PUT settings`.
pub async fn settings(gw: &Gateway, req: &ApiRequest<'_>, caller: &Caller) -> ApiResult {
    match req.method {
        "GET" => {
            let reg = gw.directory.registry();
            Ok(super::with_version(
                200,
                &settings_json(&reg.settings),
                &reg.version,
            ))
        }
        "PUT" => {
            let body = body_object(req)?;
            check_keys(&body, SETTINGS_KEYS)?;
            if body.values().any(|v| !v.is_boolean()) {
                return Err(ApiError::invalid("settings are true or false"));
            }
            let ((), reg) = gw
                .directory
                .edit_apps(req.if_match, |doc| {
                    let t = settings_table(doc)?;
                    body.iter().try_for_each(|(k, v)| set_key(t, k, v))
                })
                .await?;
            let keys: Vec<&str> = body.keys().map(String::as_str).collect();
            audit(gw, caller, "settings", None, &keys);
            Ok(super::with_version(
                200,
                &settings_json(&reg.settings),
                &reg.version,
            ))
        }
        _ => Err(method_not_allowed()),
    }
}

fn check_keys(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::invalid(format!("unknown or read-only key {k:?}"))),
        None => Ok(()),
    }
}

/// `apps` and `apps/{client_id}[/revoke|/secret]`.
pub async fn route(
    gw: &Gateway,
    req: &ApiRequest<'_>,
    caller: &Caller,
    rest: &[&str],
) -> ApiResult {
    match (req.method, rest) {
        ("GET", []) => Ok(list(gw)),
        ("POST", []) => create(gw, req, caller).await,
        ("GET", [id]) => {
            let reg = gw.directory.registry();
            let app = reg.app(id).ok_or_else(ApiError::not_found)?;
            Ok(super::with_version(200, &app_json(gw, app), &reg.version))
        }
        ("PATCH", [id]) => patch(gw, req, caller, id).await,
        ("DELETE", [id]) => delete(gw, req, caller, id).await,
        ("POST", [id, "revoke"]) => revoke(gw, req, caller, id).await,
        ("POST", [id, "secret"]) => new_credentials(gw, req, caller, id).await,
        _ => Err(method_not_allowed()),
    }
}

fn list(gw: &Gateway) -> super::Response {
    let reg = gw.directory.registry();
    let users = gw.directory.users();
    let apps: Vec<Value> = reg
        .order
        .iter()
        .filter_map(|id| reg.app(id))
        .map(|a| app_json(gw, a))
        .collect();
    let mut names: Vec<&str> = users.names().collect();
    names.sort_unstable();
    let mut groups: Vec<&str> = users.groups().collect();
    groups.sort_unstable();
    groups.dedup();
    let e = &gw.endpoints;
    let body = json!({
        "apps": apps,
        "users": names,
        "groups": groups,
        "endpoints": {"auth": e.authorize, "token": e.token, "revoke": e.revoke},
    });
    super::with_version(200, &body, &reg.version)
}

fn new_client_id() -> String {
    crate::generate::client_id()
}

/// Fills in generated values and checks what the file's validation cannot (users exist).
fn prepare(gw: &Gateway, body: &mut Map<String, Value>) -> Result<Value, ApiError> {
    let client_type = body
        .get("client_type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let id = match body.get("client_id").and_then(Value::as_str) {
        Some(id) => id.to_string(),
        None => new_client_id(),
    };
    if gw.directory.registry().app(&id).is_some() {
        return Err(ApiError::new(
            409,
            "conflict",
            format!("client_id {id} already exists"),
        ));
    }
    body.insert("client_id".into(), json!(id));
    check_users(gw, body)?;
    let wants_jwt = body.get("secret_type").and_then(Value::as_str) == Some("signed_jwt");
    let mut shown = json!({});
    match client_type.as_str() {
        "native_app" => {}
        "service_account" if wants_jwt => {
            if !body.contains_key("jwt_public_key") {
                let alg = body
                    .get("key_algorithm")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let key = credentials::new_key_pair(alg.as_deref())?;
                body.insert("jwt_public_key".into(), json!(key.public_pem));
                shown = key_answer(gw, &id, &key)?;
            }
        }
        "service_account" | "web_app" => {
            body.entry("secret_type").or_insert(json!("client_secret"));
            let secret = match body.get("client_secret").and_then(Value::as_str) {
                Some(given) => given.to_string(),
                None => credentials::new_secret(gw, &id).plaintext,
            };
            let stored = credentials::stored(gw, &id, &secret);
            body.insert("client_secret".into(), stored);
            shown = json!({"client_secret": secret});
        }
        _ => {
            return Err(ApiError::invalid(
                "client_type must be service_account, web_app or native_app",
            ));
        }
    }
    body.remove("key_algorithm");
    Ok(shown)
}

fn key_answer(gw: &Gateway, client_id: &str, key: &NewKey) -> Result<Value, ApiError> {
    Ok(json!({
        "private_key_pem": key.private_pem,
        "private_key_jwk": key.private_jwk,
        "assertion_example": credentials::assertion_example(gw, client_id, key)?,
    }))
}

/// Users named as bound or authorized must exist (with the local users backend).
fn check_users(gw: &Gateway, body: &Map<String, Value>) -> Result<(), ApiError> {
    if gw.identity.crm_vouches() {
        return Ok(());
    }
    let users = gw.directory.users();
    let mut named: Vec<&str> = body
        .get("user")
        .and_then(Value::as_str)
        .into_iter()
        .collect();
    if let Some(list) = body.get("authorized_users").and_then(Value::as_array) {
        named.extend(list.iter().filter_map(Value::as_str));
    }
    match named.into_iter().find(|u| users.get(u).is_none()) {
        Some(u) => Err(ApiError::invalid(format!("unknown user {u:?}"))),
        None => Ok(()),
    }
}

async fn create(gw: &Gateway, req: &ApiRequest<'_>, caller: &Caller) -> ApiResult {
    let mut body = body_object(req)?;
    let mut allowed = APP_KEYS.to_vec();
    allowed.extend(["icon_data", "key_algorithm"]);
    check_keys(&body, &allowed)?;
    check_icon(gw, &body)?;
    let icon = take_icon(&mut body)?;
    let shown = prepare(gw, &mut body)?;
    let id = body
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if icon.is_some() {
        body.insert("icon".into(), json!(icons::name(&id)));
    }
    let keys: Vec<(&str, Value)> = APP_KEYS
        .iter()
        .filter_map(|k| body.get(*k).map(|v| (*k, v.clone())))
        .collect();
    let icon_edit = match &icon {
        Some(png) => IconEdit::Put {
            client_id: &id,
            png,
        },
        None => IconEdit::Keep,
    };
    let ((), reg) = gw
        .directory
        .edit_apps_icon(req.if_match, |doc| push_app(doc, &keys), icon_edit)
        .await?;
    let app = reg.app(&id).ok_or_else(ApiError::not_found)?;
    let mut answer = app_json(gw, app);
    merge(&mut answer, shown);
    let written: Vec<&str> = keys
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| *k != "client_secret")
        .collect();
    audit(gw, caller, "create", Some(&id), &written);
    Ok(super::with_version(201, &answer, &reg.version))
}

/// A named `icon` must be a file in the icons folder next to `apps.toml` (`""` removes it).
fn check_icon(gw: &Gateway, body: &Map<String, Value>) -> Result<(), ApiError> {
    let base = gw.directory.apps_path().parent().unwrap_or(Path::new("."));
    match body.get("icon") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(name)) if name.is_empty() => Ok(()),
        Some(Value::String(name)) => icon::check(base, name)
            .map(|_| ())
            .map_err(|msg| ApiError::invalid(format!("icon: {msg}"))),
        Some(_) => Err(ApiError::invalid("icon: must be a string")),
    }
}

/// The PNG of an uploaded `icon_data`, removed from the body.
fn take_icon(body: &mut Map<String, Value>) -> Result<Option<Vec<u8>>, ApiError> {
    body.remove("icon_data")
        .map(|v| icons::to_png(v.as_str().unwrap_or_default()))
        .transpose()
}

fn merge(into: &mut Value, extra: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, extra) {
        a.extend(b);
    }
}

async fn patch(gw: &Gateway, req: &ApiRequest<'_>, caller: &Caller, id: &str) -> ApiResult {
    let mut body = body_object(req)?;
    check_keys(&body, PATCH_KEYS)?;
    check_icon(gw, &body)?;
    check_users(gw, &body)?;
    if gw.directory.registry().app(id).is_none() {
        return Err(ApiError::not_found());
    }
    let icon = take_icon(&mut body)?;
    if icon.is_some() {
        body.insert("icon".into(), json!(icons::name(id)));
    }
    let drop_icon = body.get("icon").and_then(Value::as_str) == Some("");
    if drop_icon {
        body.insert("icon".into(), Value::Null);
    }
    let icon_edit = match &icon {
        Some(png) => IconEdit::Put { client_id: id, png },
        None if drop_icon => IconEdit::Remove { client_id: id },
        None => IconEdit::Keep,
    };
    let ((), reg) = gw
        .directory
        .edit_apps_icon(
            req.if_match,
            |doc| {
                let t = app_table(doc, id)?;
                body.iter().try_for_each(|(k, v)| set_key(t, k, v))
            },
            icon_edit,
        )
        .await?;
    let app = reg.app(id).ok_or_else(ApiError::not_found)?;
    let keys: Vec<&str> = body.keys().map(String::as_str).collect();
    audit(gw, caller, "update", Some(id), &keys);
    Ok(super::with_version(200, &app_json(gw, app), &reg.version))
}

async fn delete(gw: &Gateway, req: &ApiRequest<'_>, caller: &Caller, id: &str) -> ApiResult {
    let ((), reg) = gw
        .directory
        .edit_apps_icon(
            req.if_match,
            |doc| remove_app(doc, id),
            IconEdit::Remove { client_id: id },
        )
        .await?;
    let revoked = gw
        .tokens
        .revoke_client(id)
        .await
        .map_err(ApiError::unavailable)?;
    audit(gw, caller, "delete", Some(id), &[]);
    Ok(super::with_version(
        200,
        &json!({"deleted": id, "revoked": revoked}),
        &reg.version,
    ))
}

/// Revokes every token of `id` (the app must exist).
pub async fn revoke(gw: &Gateway, req: &ApiRequest<'_>, caller: &Caller, id: &str) -> ApiResult {
    let version = gw.directory.check_version(req.if_match).await?;
    if gw.directory.registry().app(id).is_none() {
        return Err(ApiError::not_found());
    }
    let revoked = gw
        .tokens
        .revoke_client(id)
        .await
        .map_err(ApiError::unavailable)?;
    audit(gw, caller, "revoke", Some(id), &[]);
    Ok(super::with_version(
        200,
        &json!({"revoked": revoked}),
        &version,
    ))
}

/// Replaces the secret (or key pair) of `id`; the new one is in this answer only.
pub async fn new_credentials(
    gw: &Gateway,
    req: &ApiRequest<'_>,
    caller: &Caller,
    id: &str,
) -> ApiResult {
    let body = body_object(req)?;
    check_keys(&body, &["key_algorithm"])?;
    let app = gw
        .directory
        .registry()
        .app(id)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    let (key, value, shown) =
        replacement(gw, &app, body.get("key_algorithm").and_then(Value::as_str))?;
    let ((), reg) = gw
        .directory
        .edit_apps(req.if_match, |doc| {
            set_key(app_table(doc, id)?, key, &value)
        })
        .await?;
    let app = reg.app(id).ok_or_else(ApiError::not_found)?;
    let mut answer = app_json(gw, app);
    merge(&mut answer, shown);
    audit(gw, caller, "new_secret", Some(id), &[key]);
    Ok(super::with_version(200, &answer, &reg.version))
}

fn replacement(
    gw: &Gateway,
    app: &App,
    alg: Option<&str>,
) -> Result<(&'static str, Value, Value), ApiError> {
    match (app.client_type, super::view::secret_type(app)) {
        (ClientType::NativeApp, _) => Err(ApiError::invalid("a native app has no secret")),
        (_, Some("signed_jwt")) => {
            let key = credentials::new_key_pair(alg)?;
            let shown = key_answer(gw, &app.client_id, &key)?;
            Ok(("jwt_public_key", json!(key.public_pem), shown))
        }
        _ => {
            let secret = credentials::new_secret(gw, &app.client_id);
            Ok((
                "client_secret",
                secret.file_value,
                json!({"client_secret": secret.plaintext}),
            ))
        }
    }
}
