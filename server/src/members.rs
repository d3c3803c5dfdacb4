//! Organisation membership: adding a member (an account without a password and a one-time
//! link to choose one), changing a role, removing a member. Each change is audited in the
//! organisation's chain, and an organisation always keeps at least one admin.

use anyhow::{Result, bail};
use veilmark_store::tenancy::{Account, Role};

use crate::audit::AuditKind;
use crate::service::{Actor, ClientMeta};
use crate::{AppError, AppState};

impl AppState {
    /// Adds a member to the actor's organisation with `role` (a name); returns the new
    /// account's id and the one-time set-password URL to hand to the member.
    pub async fn add_member(
        &self,
        by: &Actor,
        email: &str,
        role: &str,
        meta: &ClientMeta,
    ) -> Result<(i64, String)> {
        let role = Role::parse(role)?;
        let email = email.trim();
        let id = self.create_account(by.org, email, None, role).await?;
        let account = self
            .store
            .account(by.org, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the new account vanished"))?;
        let url = self.set_password_link(&account).await?;
        let entry = by.entry(meta, AuditKind::Member, format!("added {email} as {role}"));
        self.store.append_audit(&entry).await?;
        Ok((id, url))
    }

    /// Changes the role of member `id` of the actor's organisation.
    pub async fn change_role(
        &self,
        by: &Actor,
        id: i64,
        role: &str,
        meta: &ClientMeta,
    ) -> Result<(), AppError> {
        let role = Role::parse(role).map_err(|e| AppError::BadRequest(e.to_string()))?;
        let member = self.member(by, id).await?;
        if member.role == Role::Admin && role != Role::Admin {
            self.keep_an_admin(by, &member).await?;
        }
        if !self.store.set_role(by.org, id, role).await? {
            return Err(AppError::NotFound("member"));
        }
        let entry = by.entry(
            meta,
            AuditKind::Member,
            format!("{} is now {role} (was {})", member.email, member.role),
        );
        self.store.append_audit(&entry).await?;
        Ok(())
    }

    /// Removes member `id` of the actor's organisation with every session and token it holds.
    pub async fn remove_member(
        &self,
        by: &Actor,
        id: i64,
        meta: &ClientMeta,
    ) -> Result<(), AppError> {
        let member = self.member(by, id).await?;
        if member.role == Role::Admin {
            self.keep_an_admin(by, &member).await?;
        }
        if !self.store.remove_account(by.org, id).await? {
            return Err(AppError::NotFound("member"));
        }
        let entry = by.entry(
            meta,
            AuditKind::Member,
            format!(
                "removed {} ({}); every session and token ended",
                member.email, member.role
            ),
        );
        self.store.append_audit(&entry).await?;
        Ok(())
    }

    async fn member(&self, by: &Actor, id: i64) -> Result<Account, AppError> {
        self.store
            .account(by.org, id)
            .await?
            .ok_or(AppError::NotFound("member"))
    }

    /// Refuses to take away the last admin of an organisation.
    async fn keep_an_admin(&self, by: &Actor, leaving: &Account) -> Result<(), AppError> {
        let admins = self
            .store
            .list_accounts(by.org)
            .await?
            .into_iter()
            .filter(|a| a.role == Role::Admin && a.id != leaving.id)
            .count();
        if admins == 0 {
            return Err(AppError::BadRequest(format!(
                "{} is the organisation's last admin; make someone else admin first",
                leaving.email
            )));
        }
        Ok(())
    }
}

/// Refuses a role name that is not one of the four (for the CLI's messages).
pub fn parse_role(name: &str) -> Result<Role> {
    match Role::parse(name) {
        Ok(r) => Ok(r),
        Err(e) => bail!("{e}"),
    }
}
