//! The built-in roles and what each may do: pure data, read by the
//! configuration (a user's role), the identity service and the API. A leaf
//! of `serve`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a role may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Perm {
    /// Submit files and batches.
    Submit,
    /// See every scan, not only one's own.
    ReadAll,
    /// Cancel and download any scan, not only one's own.
    ManageAll,
    /// Download originals (one's own, or any with `ManageAll`).
    Download,
    /// Edit workflows.
    Workflows,
    /// Reload engines and rules.
    Engines,
    /// Drain nodes.
    Nodes,
    /// Manage users and every user's keys.
    Users,
    /// Read the audit log.
    Audit,
}

/// The built-in roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// Everything.
    Admin,
    /// Every scan and workflow, engines and nodes; not users.
    Operator,
    /// Submits files and sees its own scans.
    User,
    /// Reads everything (scans, audit log), changes nothing.
    Auditor,
}

impl Role {
    pub(crate) const ALL: [Role; 4] = [Role::Admin, Role::Operator, Role::User, Role::Auditor];

    /// The role's id in `/admin/role` (MetaDefender numbers its roles).
    pub(crate) fn id(self) -> &'static str {
        match self {
            Role::Admin => "1",
            Role::Operator => "2",
            Role::User => "3",
            Role::Auditor => "4",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::User => "user",
            Role::Auditor => "auditor",
        }
    }

    fn display_name(self) -> &'static str {
        match self {
            Role::Admin => "Administrators",
            Role::Operator => "Operators",
            Role::User => "Users",
            Role::Auditor => "Auditors",
        }
    }

    /// A role by id (`"1"`) or name (`"admin"`, any case).
    pub(crate) fn parse(s: &str) -> Option<Role> {
        let s = s.trim();
        Role::ALL
            .into_iter()
            .find(|r| r.id() == s || r.name().eq_ignore_ascii_case(s))
    }

    pub(crate) fn can(self, p: Perm) -> bool {
        use Perm::*;
        match self {
            Role::Admin => true,
            Role::Operator => !matches!(p, Users | Audit),
            Role::User => matches!(p, Submit | Download),
            Role::Auditor => matches!(p, ReadAll | Audit),
        }
    }

    /// `rights` as `/admin/role` lists them: area -> `read`/`write`.
    fn rights(self) -> Value {
        let rw = |read: bool, write: bool| {
            let mut v = Vec::new();
            if read {
                v.push("read");
            }
            if write {
                v.push("write");
            }
            json!(v)
        };
        let c = |p| self.can(p);
        json!({
            "scan": rw(true, c(Perm::Submit)),
            "scanlog": rw(c(Perm::ReadAll), c(Perm::ManageAll)),
            "download": rw(c(Perm::Download), false),
            "workflow": rw(true, c(Perm::Workflows)),
            "engines": rw(true, c(Perm::Engines)),
            "nodes": rw(true, c(Perm::Nodes)),
            "users": rw(c(Perm::Users), c(Perm::Users)),
            "auditlog": rw(c(Perm::Audit), false),
        })
    }

    /// The role as `/admin/role` shows it.
    pub(crate) fn doc(self) -> Value {
        json!({
            "id": self.id(),
            "name": self.name(),
            "display_name": self.display_name(),
            "editable": false,
            "rights": self.rights(),
        })
    }
}
