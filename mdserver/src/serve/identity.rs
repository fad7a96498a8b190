//! The identity service: roles and what each may do, users (from the
//! config file, or made through the API and kept by the backend), and API
//! keys per user with an expiry.
//!
//! Nothing here speaks HTTP: `api/auth.rs` resolves a caller to an
//! [`Identity`] with these functions, and `api/users.rs` serves the admin
//! endpoints over them. Users and keys made through the API are records of
//! the backend (redb for `serve`, Redis for a cluster), so every gateway
//! sees them and they survive a restart; the config file's users and keys
//! keep working beside them and cannot be changed through the API.
//!
//! A key's secret is shown once, when it is made; only its SHA-256 is kept.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;

use super::backend::{Backend, BackendError, RecordKind, new_id, now_ms};
use super::config::Config;
pub(crate) use super::roles::{Perm, Role};

/// The caller of a request.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    /// The user, or the key identity of a config key (`apikey-…`); `None`
    /// on an open server.
    pub(crate) name: Option<String>,
    pub(crate) role: Role,
    /// A user made through the API (may change its password and keys).
    pub(crate) stored: bool,
}

impl Identity {
    pub(crate) fn can(&self, p: Perm) -> bool {
        self.role.can(p)
    }

    fn owns(&self, owner: &Option<String>) -> bool {
        owner.is_some() && *owner == self.name
    }

    /// May read this owner's scans and batches.
    pub(crate) fn can_see(&self, owner: &Option<String>) -> bool {
        self.can(Perm::ReadAll) || self.owns(owner)
    }

    /// May cancel or close this owner's scans and batches.
    pub(crate) fn can_manage(&self, owner: &Option<String>) -> bool {
        self.can(Perm::ManageAll) || (self.can(Perm::Submit) && self.owns(owner))
    }

    /// May download this owner's files.
    pub(crate) fn can_download(&self, owner: &Option<String>) -> bool {
        self.can(Perm::Download) && (self.can(Perm::ManageAll) || self.owns(owner))
    }
}

/// Where a user is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The config file: read-only through the API.
    Config,
    /// Made through the API and kept by the backend.
    Store,
}

/// A user made through the API, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoredUser {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) display_name: String,
    #[serde(default)]
    pub(crate) email: String,
    pub(crate) role: Role,
    /// argon2 PHC string.
    pub(crate) password_hash: String,
    pub(crate) created_ms: u64,
    pub(crate) password_changed_ms: u64,
}

/// A user from either source.
#[derive(Clone, Debug)]
pub(crate) struct Account {
    pub(crate) user: StoredUser,
    pub(crate) source: Source,
}

impl Account {
    /// The display name, or the name when none was given.
    pub(crate) fn display_name(&self) -> &str {
        if self.user.display_name.is_empty() {
            &self.user.name
        } else {
            &self.user.display_name
        }
    }

    /// The user as `/admin/user` shows it (never the password hash).
    pub(crate) fn doc(&self, keys: &[KeyRecord]) -> Value {
        let u = &self.user;
        json!({
            "id": u.name,
            "name": u.name,
            "display_name": self.display_name(),
            "email": u.email,
            "roles": [u.role.id()],
            "role": u.role.name(),
            "directory": match self.source { Source::Config => "config", Source::Store => "local" },
            "editable": self.source == Source::Store,
            "api_keys": keys.iter().filter(|k| k.user == u.name).map(KeyRecord::doc).collect::<Vec<_>>(),
        })
    }
}

fn config_account(u: &super::config::User) -> Account {
    let role = u
        .role
        .as_deref()
        .and_then(Role::parse)
        .unwrap_or(if u.admin { Role::Admin } else { Role::User });
    Account {
        user: StoredUser {
            name: u.name.clone(),
            display_name: String::new(),
            email: String::new(),
            role,
            password_hash: u.password_hash.clone(),
            created_ms: 0,
            password_changed_ms: 0,
        },
        source: Source::Config,
    }
}

fn corrupt(kind: &str, key: &str) -> BackendError {
    BackendError::Failed(format!("stored {kind} `{key}` does not parse"))
}

/// A user by name: the config file's first, then the stored ones.
pub(crate) async fn find_user<B: Backend>(
    cfg: &Config,
    backend: &B,
    name: &str,
) -> Result<Option<Account>, BackendError> {
    if let Some(u) = cfg.users.iter().find(|u| u.name == name) {
        return Ok(Some(config_account(u)));
    }
    match backend.record(RecordKind::User, name).await? {
        Some(bytes) => {
            let user: StoredUser =
                serde_json::from_slice(&bytes).map_err(|_| corrupt("user", name))?;
            Ok(Some(Account {
                user,
                source: Source::Store,
            }))
        }
        None => Ok(None),
    }
}

/// Every user, the config file's first, by name.
pub(crate) async fn list_users<B: Backend>(
    cfg: &Config,
    backend: &B,
) -> Result<Vec<Account>, BackendError> {
    let mut out: Vec<Account> = cfg.users.iter().map(config_account).collect();
    for (name, bytes) in backend.records(RecordKind::User).await? {
        if cfg.users.iter().any(|u| u.name == name) {
            continue;
        }
        let user: StoredUser =
            serde_json::from_slice(&bytes).map_err(|_| corrupt("user", &name))?;
        out.push(Account {
            user,
            source: Source::Store,
        });
    }
    Ok(out)
}

/// Whether any user was made through the API (a server with none in its
/// config is open only while this is false).
pub(crate) async fn has_stored_users<B: Backend>(backend: &B) -> Result<bool, BackendError> {
    backend.has_records(RecordKind::User).await
}

/// Checks a new user's name: 1–64 of letters, digits, `.`, `_`, `-`, `@`.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        && !name.starts_with("apikey-")
}

/// Passwords: 8 to 1024 characters.
pub(crate) fn password_problem(p: &str) -> Option<&'static str> {
    if p.chars().count() < 8 {
        Some("The password must have at least 8 characters")
    } else if p.len() > 1024 {
        Some("The password is too long")
    } else {
        None
    }
}

/// Stores a new user: `Ok(false)` when the name is taken (in the config or
/// the store).
pub(crate) async fn create_user<B: Backend>(
    cfg: &Config,
    backend: &B,
    user: &StoredUser,
) -> Result<bool, BackendError> {
    if cfg.users.iter().any(|u| u.name == user.name) {
        return Ok(false);
    }
    let bytes = serde_json::to_vec(user).map_err(BackendError::failed)?;
    backend
        .put_record(RecordKind::User, &user.name, &bytes, true)
        .await
}

/// Replaces a stored user.
pub(crate) async fn save_user<B: Backend>(
    backend: &B,
    user: &StoredUser,
) -> Result<(), BackendError> {
    let bytes = serde_json::to_vec(user).map_err(BackendError::failed)?;
    backend
        .put_record(RecordKind::User, &user.name, &bytes, false)
        .await
        .map(|_| ())
}

/// Removes a stored user and every key of theirs.
pub(crate) async fn delete_user<B: Backend>(backend: &B, name: &str) -> Result<bool, BackendError> {
    for (digest, k) in keys(backend).await? {
        if k.user == name {
            backend.delete_record(RecordKind::ApiKey, &digest).await?;
        }
    }
    backend.delete_record(RecordKind::User, name).await
}

/// An API key as stored (under the SHA-256 of its secret).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    /// The public id (what lists show and revocation takes).
    pub(crate) id: String,
    pub(crate) user: String,
    #[serde(default)]
    pub(crate) name: String,
    pub(crate) created_ms: u64,
    /// Milliseconds since the epoch; `None`: never.
    pub(crate) expires_ms: Option<u64>,
}

impl KeyRecord {
    pub(crate) fn expired(&self, now: u64) -> bool {
        self.expires_ms.is_some_and(|e| e <= now)
    }

    /// The key as lists show it: never its secret.
    pub(crate) fn doc(&self) -> Value {
        json!({
            "id": self.id,
            "user": self.user,
            "name": self.name,
            "created": iso(self.created_ms),
            "expires": self.expires_ms.map(iso),
            "expired": self.expired(now_ms()),
        })
    }
}

fn iso(ms: u64) -> String {
    mdcore::iso8601(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

/// The stored form of a key's secret.
pub(crate) fn digest(secret: &str) -> String {
    mdcore::hex(&sha2::Sha256::digest(secret.as_bytes()))
}

/// Makes a key for `user`; returns the secret (shown once) and the record.
pub(crate) async fn create_key<B: Backend>(
    backend: &B,
    user: &str,
    name: &str,
    expires_ms: Option<u64>,
) -> Result<(String, KeyRecord), BackendError> {
    let secret = format!("{}{}", new_id(), new_id());
    let rec = KeyRecord {
        id: new_id()[..16].to_string(),
        user: user.to_string(),
        name: name.to_string(),
        created_ms: now_ms(),
        expires_ms,
    };
    let bytes = serde_json::to_vec(&rec).map_err(BackendError::failed)?;
    if !backend
        .put_record(RecordKind::ApiKey, &digest(&secret), &bytes, true)
        .await?
    {
        return Err(BackendError::Failed("key collision".into()));
    }
    Ok((secret, rec))
}

/// The live key with this secret.
pub(crate) async fn resolve_key<B: Backend>(
    backend: &B,
    secret: &str,
) -> Result<Option<KeyRecord>, BackendError> {
    let Some(bytes) = backend.record(RecordKind::ApiKey, &digest(secret)).await? else {
        return Ok(None);
    };
    let rec: KeyRecord = serde_json::from_slice(&bytes).map_err(|_| corrupt("key", "?"))?;
    Ok((!rec.expired(now_ms())).then_some(rec))
}

/// Every stored key, as (digest, record), oldest first.
pub(crate) async fn keys<B: Backend>(
    backend: &B,
) -> Result<Vec<(String, KeyRecord)>, BackendError> {
    let mut out = Vec::new();
    for (digest, bytes) in backend.records(RecordKind::ApiKey).await? {
        if let Ok(k) = serde_json::from_slice::<KeyRecord>(&bytes) {
            out.push((digest, k));
        }
    }
    out.sort_by(|a, b| (a.1.created_ms, &a.1.id).cmp(&(b.1.created_ms, &b.1.id)));
    Ok(out)
}

/// Revokes the key with this public id, when `allowed` says the caller may:
/// the revoked record, or `None` when there is no such key (or it is not
/// the caller's to revoke).
pub(crate) async fn revoke_key<B: Backend>(
    backend: &B,
    id: &str,
    allowed: impl Fn(&KeyRecord) -> bool,
) -> Result<Option<KeyRecord>, BackendError> {
    for (digest, k) in keys(backend).await? {
        if k.id == id && allowed(&k) {
            backend.delete_record(RecordKind::ApiKey, &digest).await?;
            return Ok(Some(k));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_what_the_issue_says() {
        use Perm::*;
        let all = [
            Submit, ReadAll, ManageAll, Download, Workflows, Engines, Nodes, Users, Audit,
        ];
        assert!(all.iter().all(|p| Role::Admin.can(*p)));
        let op: Vec<_> = all.iter().filter(|p| Role::Operator.can(**p)).collect();
        assert_eq!(
            op,
            [
                &Submit, &ReadAll, &ManageAll, &Download, &Workflows, &Engines, &Nodes
            ]
        );
        let user: Vec<_> = all.iter().filter(|p| Role::User.can(**p)).collect();
        assert_eq!(user, [&Submit, &Download]);
        let aud: Vec<_> = all.iter().filter(|p| Role::Auditor.can(**p)).collect();
        assert_eq!(aud, [&ReadAll, &Audit]);
        assert_eq!(Role::parse("2"), Some(Role::Operator));
        assert_eq!(Role::parse("Auditor"), Some(Role::Auditor));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn ownership_rules() {
        let me = Some("alice".to_string());
        let other = Some("bob".to_string());
        let id = |role| Identity {
            name: me.clone(),
            role,
            stored: true,
        };
        let user = id(Role::User);
        assert!(user.can_see(&me) && user.can_manage(&me) && user.can_download(&me));
        assert!(!user.can_see(&other) && !user.can_manage(&other) && !user.can_download(&other));
        assert!(!user.can_see(&None));
        let aud = id(Role::Auditor);
        assert!(aud.can_see(&other) && !aud.can_manage(&other) && !aud.can_download(&other));
        let op = id(Role::Operator);
        assert!(op.can_see(&other) && op.can_manage(&other) && op.can_download(&other));
    }

    #[test]
    fn names_and_passwords() {
        assert!(valid_name("alice.b-c_d@x"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name("apikey-1234"));
        assert!(!valid_name(&"a".repeat(65)));
        assert!(password_problem("short").is_some());
        assert!(password_problem("long enough").is_none());
    }
}
