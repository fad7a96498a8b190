//! Who is calling: API keys, `POST /login` sessions, `POST /logout`.
//!
//! Keys are compared in constant time and each is its own identity (named
//! by a digest of the key, never the key). Password checks run on the
//! blocking pool, take the same time for an unknown user as for a wrong
//! password, and are rate limited per client address and per user name.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hyper::Request;
use hyper::header::HeaderMap;
use serde_json::{Value, json};
use sha2::Digest;
use subtle::ConstantTimeEq;

use super::{Api, ApiError, Reply, ReqBody, header, ok};
use crate::serve::backend::{Backend, Session, new_id, now_ms};
use crate::serve::identity::{self, Role};

use crate::serve::identity::Identity;

/// Failed logins allowed per address, and per user name, in [`WINDOW`]
/// (counted by the backend: in a cluster, across every gateway).
pub(crate) const MAX_FAILURES: u64 = 10;
const WINDOW: Duration = Duration::from_secs(60);

/// The name an API key acts under: `apikey-` and the first 12 hex digits
/// of its SHA-256.
fn key_identity(key: &str) -> String {
    let d = sha2::Sha256::digest(key.as_bytes());
    let hex = mdcore::hex(d.get(..6).unwrap_or_default());
    format!("apikey-{hex}")
}

/// The key a request carries: `apikey`, as MetaDefender clients send it,
/// or `Authorization: Bearer` (what a Prometheus scraper can send).
pub(crate) fn presented_key(h: &HeaderMap) -> Option<String> {
    header(h, "apikey").or_else(|| {
        header(h, "authorization")
            .and_then(|a| a.strip_prefix("Bearer ").map(|k| k.trim().to_string()))
    })
}

/// Who is calling: a config key (admin), a login session or a stored API
/// key (their user's role as it is now). A server with no key and no user
/// in its config, and none made through the API, is open: every caller is
/// an anonymous admin.
pub(crate) async fn authorize<B: Backend>(
    api: &Api<B>,
    h: &HeaderMap,
) -> Result<Identity, ApiError> {
    let denied = || ApiError::Forbidden("Access denied");
    let anonymous = Identity {
        name: None,
        role: Role::Admin,
        stored: false,
    };
    // A store that does not answer (Redis restarting) is a 503 to retry,
    // never a guess about who is calling.
    let busy = |e: crate::serve::backend::BackendError| {
        eprintln!("mdscan: authorization: {e}");
        ApiError::Busy
    };
    // Asked only of a caller no key identifies (the store is not read for
    // the others).
    let open = async || -> Result<bool, ApiError> {
        Ok(api.cfg.open()
            && !identity::has_stored_users(api.backend.as_ref())
                .await
                .map_err(busy)?)
    };
    let Some(key) = presented_key(h) else {
        return if open().await? {
            Ok(anonymous)
        } else {
            Err(denied())
        };
    };
    // Every configured key is compared, in constant time.
    let mut matched = None;
    for k in &api.cfg.api_keys {
        if bool::from(k.as_bytes().ct_eq(key.as_bytes())) {
            matched = Some(k);
        }
    }
    if let Some(k) = matched {
        return Ok(Identity {
            name: Some(key_identity(k)),
            role: Role::Admin,
            stored: false,
        });
    }
    // A session, else a stored key (looked up by its digest), names a
    // user; the user as they are now decides (a removed user's sessions
    // and keys end, a changed role applies at once).
    let user = match api.backend.session(&key).await {
        Some(s) => Some(s.user),
        None => identity::resolve_key(api.backend.as_ref(), &key)
            .await
            .map_err(busy)?
            .map(|k| k.user),
    };
    let Some(user) = user else {
        // Clients send any key to an open server.
        return if open().await? {
            Ok(anonymous)
        } else {
            Err(denied())
        };
    };
    match identity::find_user(&api.cfg, api.backend.as_ref(), &user)
        .await
        .map_err(busy)?
    {
        Some(a) => Ok(Identity {
            name: Some(a.user.name),
            role: a.user.role,
            stored: a.source == identity::Source::Store,
        }),
        None => Err(denied()),
    }
}

/// The argon2 PHC string of `password` with a fresh salt (what
/// `mdscan hash-password` prints and `users` in the config hold).
pub(crate) fn hash_password(password: &str) -> Result<String, String> {
    use argon2::PasswordHasher;
    let salt =
        argon2::password_hash::SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// A hash checked when the user is unknown, so that costs the same time.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not a password anyone has").unwrap_or_default())
}

pub(crate) fn verify(hash: &str, password: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

pub(crate) async fn login<B: Backend, T: ReqBody>(api: &Api<B>, req: Request<T>) -> Reply {
    let failed = || ApiError::Forbidden("Failed to login");
    let addr: Option<IpAddr> = req.extensions().get::<SocketAddr>().map(SocketAddr::ip);
    let addr_key = format!(
        "addr:{}",
        addr.map_or_else(|| "-".into(), |a| a.to_string())
    );
    let address = addr.map(|a| a.to_string());
    if api.backend.login_failures(&addr_key).await >= MAX_FAILURES {
        super::audit::record(api, None, address, "login", None, "limited").await;
        return Err(ApiError::TooMany);
    }
    let bytes = super::upload::small_body(api, req, 64 << 10).await?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|_| ApiError::BadRequest("Invalid JSON".into()))?;
    let (Some(user), Some(password)) = (
        v.get("user").and_then(Value::as_str),
        v.get("password").and_then(Value::as_str),
    ) else {
        return Err(failed());
    };
    let user_key = format!("user:{user}");
    if api.backend.login_failures(&user_key).await >= MAX_FAILURES {
        let user = Some(user.to_string());
        super::audit::record(api, user, address, "login", None, "limited").await;
        return Err(ApiError::TooMany);
    }
    let found = identity::find_user(&api.cfg, api.backend.as_ref(), user)
        .await?
        .map(|a| a.user);
    let hash = found
        .as_ref()
        .map_or_else(|| dummy_hash().to_string(), |u| u.password_hash.clone());
    let password = password.to_string();
    let good = tokio::task::spawn_blocking(move || verify(&hash, &password))
        .await
        .unwrap_or(false);
    match found {
        Some(u) if good => {
            let id = new_id();
            let ttl_ms = api.cfg.session_ttl_secs.saturating_mul(1000);
            let session = Session {
                user: u.name.clone(),
                admin: u.role == Role::Admin,
                expires_ms: now_ms().saturating_add(ttl_ms),
            };
            api.backend.put_session(&id, &session).await?;
            super::audit::record(api, Some(u.name.clone()), address, "login", None, "ok").await;
            Ok(ok(&json!({ "session_id": id })))
        }
        _ => {
            api.backend.login_failed(&addr_key, WINDOW).await;
            api.backend.login_failed(&user_key, WINDOW).await;
            // The name as typed: it may be no user at all.
            let user = Some(user.to_string());
            super::audit::record(api, user, address, "login", None, "failed").await;
            Err(failed())
        }
    }
}

pub(crate) async fn logout<B: Backend, T>(
    api: &Api<B>,
    req: &Request<T>,
) -> hyper::Response<super::Body> {
    if let Some(key) = presented_key(req.headers()) {
        api.backend.drop_session(&key).await;
    }
    ok(&json!({"response": "Logout success"}))
}
