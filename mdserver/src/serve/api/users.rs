//! Users, roles and API keys, with MetaDefender Core's paths and field
//! names where it has them: `GET /user`, `POST /user/changepassword`,
//! `/user/apikey`, `/admin/user`, `/admin/role`, `/admin/apikey`.
//!
//! The rules themselves (roles, stores, digests) live in
//! `serve::identity`; this module reads bodies, checks the caller's role
//! and answers.

use hyper::{Request, Response};
use serde_json::{Value, json};

use super::auth::{hash_password, verify};
use super::{Api, ApiError, Body, Reply, ReqBody, ok};
use crate::serve::backend::{Backend, now_ms};
use crate::serve::identity::Identity;
use crate::serve::identity::{self, Account, Perm, Role, Source, StoredUser};

/// The target an identity action names, for the audit log (the route
/// reads it from the response).
#[derive(Clone, Debug)]
pub(crate) struct AuditTarget(pub(crate) String);

fn with_target(mut r: Response<Body>, target: String) -> Response<Body> {
    r.extensions_mut().insert(AuditTarget(target));
    r
}

fn denied() -> ApiError {
    ApiError::Forbidden("Access denied")
}

fn need(who: &Identity, p: Perm) -> Result<(), ApiError> {
    if who.can(p) { Ok(()) } else { Err(denied()) }
}

async fn json_body<B: Backend, T: ReqBody>(
    api: &Api<B>,
    req: Request<T>,
) -> Result<Value, ApiError> {
    let bytes = super::upload::small_body(api, req, 64 << 10).await?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|_| ApiError::BadRequest("Invalid JSON".into()))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(ApiError::BadRequest("Expected a JSON object".into()))
    }
}

fn text<'a>(v: &'a Value, k: &str) -> Result<Option<&'a str>, ApiError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::BadRequest(format!("`{k}` must be a string"))),
    }
}

/// The role a body names: `roles: ["1"]` (MetaDefender's form: the first
/// known one) or `role: "operator"`.
fn role_of(v: &Value) -> Result<Option<Role>, ApiError> {
    let bad = |r: &str| ApiError::BadRequest(format!("unknown role `{r}`"));
    if let Some(r) = text(v, "role")? {
        return Role::parse(r).map(Some).ok_or_else(|| bad(r));
    }
    match v.get("roles") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => {
            let mut best: Option<Role> = None;
            for r in a {
                let s = match r {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(ApiError::BadRequest("`roles` holds role ids".into())),
                };
                let role = Role::parse(&s).ok_or_else(|| bad(&s))?;
                // Several roles: the one that may do most (the order of
                // Role::ALL).
                let rank = |r: Role| Role::ALL.iter().position(|x| *x == r);
                if best.is_none_or(|b| rank(role) < rank(b)) {
                    best = Some(role);
                }
            }
            best.map(Some)
                .ok_or_else(|| ApiError::BadRequest("`roles` is empty".into()))
        }
        Some(_) => Err(ApiError::BadRequest("`roles` must be an array".into())),
    }
}

/// An expiry: `expires` as milliseconds since the epoch or ISO 8601
/// (`2027-01-31T00:00:00Z`), or `expires_in_days`.
fn expiry_of(v: &Value) -> Result<Option<u64>, ApiError> {
    if let Some(d) = v.get("expires_in_days").filter(|d| !d.is_null()) {
        let days = d
            .as_u64()
            .filter(|d| (1..=3650).contains(d))
            .ok_or_else(|| ApiError::BadRequest("`expires_in_days` must be 1 to 3650".into()))?;
        return Ok(Some(now_ms() + days * 86_400_000));
    }
    let at = match v.get("expires") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => humantime::parse_rfc3339_weak(s.trim_end_matches('Z'))
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| u64::try_from(d.as_millis()).ok()),
        Some(_) => None,
    }
    .ok_or_else(|| ApiError::BadRequest("`expires` must be ISO 8601 or milliseconds".into()))?;
    if at <= now_ms() {
        return Err(ApiError::BadRequest("`expires` is in the past".into()));
    }
    Ok(Some(at))
}

async fn hashed(password: &str) -> Result<String, ApiError> {
    if let Some(p) = identity::password_problem(password) {
        return Err(ApiError::BadRequest(p.into()));
    }
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Internal)
}

async fn all_keys<B: Backend>(api: &Api<B>) -> Result<Vec<identity::KeyRecord>, ApiError> {
    Ok(identity::keys(api.backend.as_ref())
        .await?
        .into_iter()
        .map(|(_, k)| k)
        .collect())
}

/// `GET /user`: the caller, with their role and rights (what the console
/// shows and hides by).
pub(crate) async fn me<B: Backend>(api: &Api<B>, who: &Identity) -> Reply {
    let role = who.role.doc();
    let mut v = json!({
        "name": who.name,
        "role": who.role.name(),
        "roles": [who.role.id()],
        "rights": role.get("rights"),
        "directory": if who.stored { "local" } else if who.name.is_some() { "config" } else { "open" },
        "open": who.name.is_none(),
    });
    if let Some(n) = &who.name
        && let Some(a) = identity::find_user(&api.cfg, api.backend.as_ref(), n).await?
        && let Some(m) = v.as_object_mut()
    {
        m.insert("display_name".into(), json!(a.display_name()));
        m.insert("email".into(), json!(a.user.email));
    }
    Ok(ok(&v))
}

/// `POST /user/changepassword` `{"old_password", "new_password"}`: users
/// made through the API only (the config file's are changed there).
pub(crate) async fn change_password<B: Backend, T: ReqBody>(
    api: &Api<B>,
    req: Request<T>,
    who: &Identity,
) -> Reply {
    let name = who
        .name
        .clone()
        .ok_or_else(|| ApiError::BadRequest("Sign in as a user to change a password".into()))?;
    let v = json_body(api, req).await?;
    let (Some(old), Some(new)) = (text(&v, "old_password")?, text(&v, "new_password")?) else {
        return Err(ApiError::BadRequest(
            "`old_password` and `new_password` are required".into(),
        ));
    };
    let Some(a) = identity::find_user(&api.cfg, api.backend.as_ref(), &name).await? else {
        return Err(denied());
    };
    if a.source == Source::Config {
        return Err(ApiError::BadRequest(
            "This user is defined in the config file; change the password there".into(),
        ));
    }
    let (hash, old) = (a.user.password_hash.clone(), old.to_string());
    let good = tokio::task::spawn_blocking(move || verify(&hash, &old))
        .await
        .unwrap_or(false);
    if !good {
        return Err(ApiError::Forbidden("The old password is wrong"));
    }
    let mut u = a.user;
    u.password_hash = hashed(new).await?;
    u.password_changed_ms = now_ms();
    identity::save_user(api.backend.as_ref(), &u).await?;
    Ok(ok(&json!({"response": "Password changed"})))
}

/// `GET /user/apikey`: the caller's keys (never their secrets).
pub(crate) async fn my_keys<B: Backend>(api: &Api<B>, who: &Identity) -> Reply {
    let keys: Vec<Value> = all_keys(api)
        .await?
        .iter()
        .filter(|k| Some(&k.user) == who.name.as_ref())
        .map(identity::KeyRecord::doc)
        .collect();
    Ok(ok(&json!(keys)))
}

async fn make_key<B: Backend, T: ReqBody>(api: &Api<B>, req: Request<T>, user: &str) -> Reply {
    let v = json_body(api, req).await?;
    let name = text(&v, "name")?.unwrap_or_default();
    if name.len() > 200 {
        return Err(ApiError::BadRequest("`name` is too long".into()));
    }
    let expires = expiry_of(&v)?;
    let (secret, rec) = identity::create_key(api.backend.as_ref(), user, name, expires).await?;
    let mut doc = rec.doc();
    if let Some(m) = doc.as_object_mut() {
        m.insert("apikey".into(), json!(secret));
    }
    Ok(with_target(ok(&doc), format!("{user}/{}", rec.id)))
}

/// `POST /user/apikey` `{"name", "expires" | "expires_in_days"}`: a new
/// key for the caller; its secret (`apikey`) is in this answer only.
pub(crate) async fn create_my_key<B: Backend, T: ReqBody>(
    api: &Api<B>,
    req: Request<T>,
    who: &Identity,
) -> Reply {
    let Some(name) = who.name.clone().filter(|_| !is_config_key(who)) else {
        return Err(ApiError::BadRequest(
            "Sign in as a user to make an API key".into(),
        ));
    };
    make_key(api, req, &name).await
}

fn is_config_key(who: &Identity) -> bool {
    !who.stored
        && who
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("apikey-"))
}

/// `DELETE /user/apikey/{id}`: the caller's own key, or any with the
/// users right.
pub(crate) async fn revoke_key<B: Backend>(api: &Api<B>, who: &Identity, id: &str) -> Reply {
    let may_all = who.can(Perm::Users);
    let found = identity::revoke_key(api.backend.as_ref(), id, |k| {
        may_all || Some(&k.user) == who.name.as_ref()
    })
    .await?;
    match found {
        Some(k) => Ok(with_target(
            ok(&json!({"response": "API key revoked", "id": k.id})),
            format!("{}/{}", k.user, k.id),
        )),
        None => Err(ApiError::IdNotFound(id.to_string())),
    }
}

/// `DELETE /admin/apikey/{id}`: any user's key (the users right).
pub(crate) async fn revoke_any_key<B: Backend>(api: &Api<B>, who: &Identity, id: &str) -> Reply {
    need(who, Perm::Users)?;
    revoke_key(api, who, id).await
}

/// `GET /admin/apikey`: every key made through the API.
pub(crate) async fn list_keys<B: Backend>(api: &Api<B>, who: &Identity) -> Reply {
    need(who, Perm::Users)?;
    let keys: Vec<Value> = all_keys(api)
        .await?
        .iter()
        .map(identity::KeyRecord::doc)
        .collect();
    Ok(ok(&json!(keys)))
}

/// `POST /admin/user/{name}/apikey`: a key for another user.
pub(crate) async fn create_user_key<B: Backend, T: ReqBody>(
    api: &Api<B>,
    req: Request<T>,
    who: &Identity,
    name: &str,
) -> Reply {
    need(who, Perm::Users)?;
    account(api, name).await?;
    make_key(api, req, name).await
}

/// `GET /admin/user`.
pub(crate) async fn list<B: Backend>(api: &Api<B>, who: &Identity) -> Reply {
    need(who, Perm::Users)?;
    let keys = all_keys(api).await?;
    let users = identity::list_users(&api.cfg, api.backend.as_ref()).await?;
    let docs: Vec<Value> = users.iter().map(|a| a.doc(&keys)).collect();
    Ok(ok(&json!(docs)))
}

async fn account<B: Backend>(api: &Api<B>, name: &str) -> Result<Account, ApiError> {
    identity::find_user(&api.cfg, api.backend.as_ref(), name)
        .await?
        .ok_or_else(|| ApiError::IdNotFound(name.to_string()))
}

/// `GET /admin/user/{name}`.
pub(crate) async fn get<B: Backend>(api: &Api<B>, who: &Identity, name: &str) -> Reply {
    need(who, Perm::Users)?;
    let a = account(api, name).await?;
    Ok(ok(&a.doc(&all_keys(api).await?)))
}

/// `POST /admin/user` `{"name", "password", "display_name", "email",
/// "roles": ["3"] | "role": "user", "api_key"?}`.
pub(crate) async fn create<B: Backend, T: ReqBody>(
    api: &Api<B>,
    req: Request<T>,
    who: &Identity,
) -> Reply {
    need(who, Perm::Users)?;
    let v = json_body(api, req).await?;
    let name = text(&v, "name")?
        .or(text(&v, "user_name")?)
        .ok_or_else(|| ApiError::BadRequest("`name` is required".into()))?
        .to_string();
    if !identity::valid_name(&name) {
        return Err(ApiError::BadRequest(
            "`name`: 1 to 64 letters, digits, `.`, `_`, `-` or `@`".into(),
        ));
    }
    let password = text(&v, "password")?
        .ok_or_else(|| ApiError::BadRequest("`password` is required".into()))?;
    let user = StoredUser {
        name: name.clone(),
        display_name: text(&v, "display_name")?.unwrap_or_default().to_string(),
        email: text(&v, "email")?.unwrap_or_default().to_string(),
        role: role_of(&v)?.unwrap_or(Role::User),
        password_hash: hashed(password).await?,
        created_ms: now_ms(),
        password_changed_ms: now_ms(),
    };
    if !identity::create_user(&api.cfg, api.backend.as_ref(), &user).await? {
        return Err(ApiError::Conflict("A user with this name exists"));
    }
    let a = Account {
        user,
        source: Source::Store,
    };
    Ok(with_target(ok(&a.doc(&[])), name))
}

/// `PUT /admin/user/{name}`: any of `display_name`, `email`, `roles` /
/// `role`, `password` (a new one, set by an admin).
pub(crate) async fn update<B: Backend, T: ReqBody>(
    api: &Api<B>,
    req: Request<T>,
    who: &Identity,
    name: &str,
) -> Reply {
    need(who, Perm::Users)?;
    let v = json_body(api, req).await?;
    let a = account(api, name).await?;
    if a.source == Source::Config {
        return Err(ApiError::BadRequest(
            "This user is defined in the config file; change it there".into(),
        ));
    }
    let mut u = a.user;
    if let Some(d) = text(&v, "display_name")? {
        u.display_name = d.to_string();
    }
    if let Some(e) = text(&v, "email")? {
        u.email = e.to_string();
    }
    if let Some(r) = role_of(&v)? {
        // The last admin made through the API keeps the role while no
        // other admin (config user or key) could undo the change.
        if u.role == Role::Admin && r != Role::Admin && !another_admin(api, &u.name).await? {
            return Err(ApiError::Conflict("This is the last admin"));
        }
        u.role = r;
    }
    if let Some(p) = text(&v, "password")? {
        u.password_hash = hashed(p).await?;
        u.password_changed_ms = now_ms();
    }
    identity::save_user(api.backend.as_ref(), &u).await?;
    let a = Account {
        user: u,
        source: Source::Store,
    };
    Ok(ok(&a.doc(&all_keys(api).await?)))
}

/// Whether an admin other than `name` exists: a config key, a config
/// user or a stored user.
async fn another_admin<B: Backend>(api: &Api<B>, name: &str) -> Result<bool, ApiError> {
    if !api.cfg.api_keys.is_empty() {
        return Ok(true);
    }
    let users = identity::list_users(&api.cfg, api.backend.as_ref()).await?;
    Ok(users
        .iter()
        .any(|a| a.user.role == Role::Admin && a.user.name != name))
}

/// `DELETE /admin/user/{name}`: the user and their keys; their sessions
/// end with them.
pub(crate) async fn delete<B: Backend>(api: &Api<B>, who: &Identity, name: &str) -> Reply {
    need(who, Perm::Users)?;
    let a = account(api, name).await?;
    if a.source == Source::Config {
        return Err(ApiError::BadRequest(
            "This user is defined in the config file; remove it there".into(),
        ));
    }
    if a.user.role == Role::Admin && !another_admin(api, name).await? {
        return Err(ApiError::Conflict("This is the last admin"));
    }
    identity::delete_user(api.backend.as_ref(), name).await?;
    Ok(ok(&json!({"response": "User deleted", "name": name})))
}

/// `GET /admin/role`.
pub(crate) fn roles(who: &Identity) -> Reply {
    need(who, Perm::Users)?;
    let docs: Vec<Value> = Role::ALL.iter().map(|r| r.doc()).collect();
    Ok(ok(&json!(docs)))
}

/// `GET /admin/role/{id}`.
pub(crate) fn role(who: &Identity, id: &str) -> Reply {
    need(who, Perm::Users)?;
    Role::parse(id)
        .map(|r| ok(&r.doc()))
        .ok_or_else(|| ApiError::IdNotFound(id.to_string()))
}
