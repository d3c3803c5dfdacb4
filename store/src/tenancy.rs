//! The tenant boundary: organisations, the accounts in them and what each role may do.
//!
//! Every store method that reads or writes a tenant's data takes an [`OrgId`]. Only the store
//! makes one (from a row it read: an organisation looked up by name, or the account behind a
//! credential), so a handler cannot invent one from a request, and a query cannot leave the
//! organisation out. Across organisations a lookup simply finds nothing, which the server
//! answers with 404.

use std::fmt;

/// An organisation's id, as handed out by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(i64);

impl OrgId {
    /// Wraps a row id read from the database (store backends only).
    pub(crate) fn from_row(id: i64) -> Self {
        Self(id)
    }

    /// The row id, for display and for binding in queries.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The organisation every data directory made before organisations existed was migrated into.
pub const DEFAULT_ORG: &str = "default";

/// An organisation: the tenant that owns documents, links, audit entries, catalog and hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// Its id.
    pub id: OrgId,
    /// Its unique name (case-insensitive).
    pub name: String,
    /// Whether every member must log in with a second factor.
    pub require_totp: bool,
    /// Creation time, unix seconds.
    pub created_at: i64,
}

/// A member's role in their organisation (`docs/server.md#roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Members and settings, and everything the other roles may do.
    Admin,
    /// Seals documents, creates and revokes links on the organisation's documents.
    Owner,
    /// The review console, evidence bundles and the catalog.
    Reviewer,
    /// Reads the audit log and access reports; changes nothing.
    Auditor,
}

/// Something a request may want to do; [`Role::permits`] says who may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// List the organisation's documents.
    ReadDocuments,
    /// Upload and seal documents.
    SealDocuments,
    /// List links and who has them open (the access report).
    ReadLinks,
    /// Create and revoke links.
    ManageLinks,
    /// Read, filter, export and verify the audit log.
    ReadAudit,
    /// The review console: hits, images, evidence bundles, review decisions, the catalog.
    ReviewHits,
    /// Add, change and remove members; organisation settings.
    ManageMembers,
}

impl Permission {
    /// Every permission, for tables and tests.
    pub const ALL: [Self; 7] = [
        Self::ReadDocuments,
        Self::SealDocuments,
        Self::ReadLinks,
        Self::ManageLinks,
        Self::ReadAudit,
        Self::ReviewHits,
        Self::ManageMembers,
    ];
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Self; 4] = [Self::Admin, Self::Owner, Self::Reviewer, Self::Auditor];

    /// The name stored and typed on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Owner => "owner",
            Self::Reviewer => "reviewer",
            Self::Auditor => "auditor",
        }
    }

    /// Parses a role name (`admin`, `owner`, `reviewer`, `auditor`).
    pub fn parse(s: &str) -> Result<Self, UnknownRole> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownRole(s.chars().take(40).collect()))
    }

    /// Whether this role may do `p`. The one table of who may do what.
    #[must_use]
    pub fn permits(self, p: Permission) -> bool {
        use Permission as P;
        match self {
            Self::Admin => true,
            Self::Owner => matches!(
                p,
                P::ReadDocuments | P::SealDocuments | P::ReadLinks | P::ManageLinks | P::ReadAudit
            ),
            Self::Reviewer => matches!(p, P::ReviewHits),
            Self::Auditor => matches!(p, P::ReadDocuments | P::ReadLinks | P::ReadAudit),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; use admin, owner, reviewer or auditor")]
pub struct UnknownRole(pub String);

/// A member account: who logs in to the console or holds an API token.
#[derive(Debug, Clone)]
pub struct Account {
    /// Row id.
    pub id: i64,
    /// The organisation it belongs to.
    pub org: OrgId,
    /// That organisation's name.
    pub org_name: String,
    /// Login e-mail address (unique across the server).
    pub email: String,
    /// argon2id PHC string; [`NO_PASSWORD`] until the member sets one.
    pub password_hash: String,
    /// Role in the organisation.
    pub role: Role,
    /// Consecutive failed logins.
    pub failed_logins: i64,
    /// Logins refused until (unix seconds).
    pub locked_until: Option<i64>,
    /// The TOTP secret, wrapped under the server's wrap key (set during enrolment).
    pub totp_secret: Option<Vec<u8>>,
    /// When enrolment was confirmed; `None`: no second factor yet.
    pub totp_enabled_at: Option<i64>,
    /// The last accepted TOTP step (a code is accepted once).
    pub totp_last_step: Option<i64>,
    /// Whether the organisation requires a second factor of its members.
    pub org_requires_totp: bool,
}

impl Account {
    /// Whether the account has a confirmed second factor.
    #[must_use]
    pub fn has_totp(&self) -> bool {
        self.totp_enabled_at.is_some() && self.totp_secret.is_some()
    }

    /// Whether the account's role allows `p`.
    #[must_use]
    pub fn may(&self, p: Permission) -> bool {
        self.role.permits(p)
    }
}

/// The password hash of an account whose member has not chosen a password: no argon2 string
/// verifies against it.
pub const NO_PASSWORD: &str = "!";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_admin_may_everything() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("root").is_err());
        for p in Permission::ALL {
            assert!(Role::Admin.permits(p));
        }
        assert!(!Role::Reviewer.permits(Permission::ManageLinks));
        assert!(!Role::Auditor.permits(Permission::SealDocuments));
        assert!(!Role::Owner.permits(Permission::ManageMembers));
        assert!(!Role::Owner.permits(Permission::ReviewHits));
    }
}
